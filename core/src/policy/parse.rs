//! Rules as written: `allow group=finance`, `allow user=ci methods=GET paths=/reports/*`,
//! `deny paths=/admin/*`, `allow any`. The admin API takes them in this form (the CLI's
//! `--allow`/`--deny` put the word in front) and resolves the names to ids.

use super::{Condition, Effect, Named, PathPattern, Rule};
use crate::scope::Scope;
use std::fmt;

/// Most rules a service may have.
pub const MAX_RULES: usize = 64;
/// Most values one condition may list.
const MAX_VALUES: usize = 64;

/// Why a rule was refused: the admin API's 400, as the operator reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidRule(pub String);

impl fmt::Display for InvalidRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses one rule: `allow` or `deny`, then `key=value[,value...]` conditions separated by
/// spaces, each key at most once (`user`, `group`, `credential`, `scope`, `methods`, `paths`;
/// singular or plural), or `any` (no condition). Users, groups and credentials come back with
/// their names only (id 0, client id ""): the caller resolves them.
pub fn parse_rule(text: &str) -> Result<Rule, InvalidRule> {
    let bad = |why: String| Err(InvalidRule(format!("rule {text:?}: {why}")));
    let mut words = text.split_ascii_whitespace();
    let effect = match words.next() {
        Some("allow") => Effect::Allow,
        Some("deny") => Effect::Deny,
        _ => return bad("starts with allow or deny".into()),
    };
    let mut when: Vec<Condition> = Vec::new();
    let mut any = false;
    for word in words {
        if word == "any" {
            any = true;
            continue;
        }
        let Some((key, list)) = word.split_once('=') else {
            return bad(format!("{word:?} is not key=value"));
        };
        let values: Vec<&str> = list.split(',').collect();
        if values.iter().any(|v| v.is_empty()) {
            return bad(format!("{key}= has an empty value"));
        }
        if values.len() > MAX_VALUES {
            return bad(format!("{key}= lists more than {MAX_VALUES} values"));
        }
        // `name` or, as stored, `name#id`. Names are checked when looked up (an unknown one
        // is refused there); the admin API resolves every name again, whatever id it carries.
        fn names<T: Default + std::str::FromStr>(values: &[&str]) -> Result<Vec<Named<T>>, String> {
            let named = |v: &&str| match v.split_once('#') {
                None => Ok(Named {
                    id: T::default(),
                    name: (*v).to_owned(),
                }),
                Some((name, id)) => match id.parse() {
                    Ok(id) => Ok(Named {
                        id,
                        name: name.to_owned(),
                    }),
                    Err(_) => Err(format!("{v:?}: bad id")),
                },
            };
            values.iter().map(named).collect()
        }
        let condition = match key {
            "user" | "users" => Condition::Users(names(&values).map_err(InvalidRule)?),
            "group" | "groups" => Condition::Groups(names(&values).map_err(InvalidRule)?),
            "credential" | "credentials" | "cred" | "creds" => {
                Condition::Credentials(names(&values).map_err(InvalidRule)?)
            }
            "scope" | "scopes" => {
                for v in &values {
                    if let Err(e) = Scope::parse(v) {
                        return bad(e.0);
                    }
                }
                Condition::Scopes(values.iter().map(|v| (*v).to_owned()).collect())
            }
            "method" | "methods" => {
                // RFC 9110 §9.1: a method is a token; written upper-case here, as the
                // standard methods are (allow rules compare them exactly).
                if let Some(v) = values.iter().find(|v| !is_method_token(v)) {
                    return bad(format!(
                        "{v:?} is not an HTTP method in upper case (GET, POST, ...)"
                    ));
                }
                Condition::Methods(values.iter().map(|v| (*v).to_owned()).collect())
            }
            "path" | "paths" => Condition::Paths(
                values
                    .iter()
                    .map(|v| PathPattern::parse(v))
                    .collect::<Result<_, _>>()
                    .map_err(|e| InvalidRule(format!("rule {text:?}: {e}")))?,
            ),
            other => {
                return bad(format!(
                    "unknown key {other:?} (user, group, credential, scope, methods, paths)"
                ))
            }
        };
        if when
            .iter()
            .any(|c| std::mem::discriminant(c) == std::mem::discriminant(&condition))
        {
            return bad(format!(
                "{key}= given twice (list the values once: {key}=a,b)"
            ));
        }
        when.push(condition);
    }
    if any && !when.is_empty() {
        return bad("'any' stands alone".into());
    }
    if !any && when.is_empty() {
        return bad("no condition (write 'any' for a rule that matches every request)".into());
    }
    Ok(Rule { effect, when })
}

/// An upper-case RFC 9110 token: letters, digits and `!#$%&'*+-.^_`|~`.
fn is_method_token(v: &str) -> bool {
    v.len() <= 32
        && v.bytes().all(|b| {
            b.is_ascii_uppercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
        })
}
