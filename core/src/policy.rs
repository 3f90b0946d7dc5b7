//! Request-level policy: a service's ordered list of rules, each allowing or denying the
//! requests it matches (`isogate create service payroll --allow 'group=finance' --allow 'user=ci
//! methods=GET paths=/reports/*' --deny 'paths=/admin/*'`).
//!
//! - A rule is an [`Effect`] and a list of [`Condition`]s, all of which must hold (an empty list
//!   matches every request). A condition lists values, any one of which will do: `methods=GET,HEAD`.
//! - The first rule that matches decides. When a service has rules and none matches, the request
//!   is refused (default deny). A service without rules admits every request its other checks
//!   (scope, allowed users) admit.
//! - Users, groups and credentials are held by id (the names beside them are for display): a
//!   user or credential deleted and re-created under the same name is another one, which the
//!   old rules do not match, whether they allow or deny. A group named by a rule cannot be
//!   deleted (the admin API answers 409), so a deny rule never loses its group.
//! - Where origins differ in how they read a request, a **deny** rule matches if *any* common
//!   reading matches and an **allow** rule only if *every* reading does ([`path`]): methods are
//!   compared exactly by allow rules and ASCII-case-insensitively by deny rules (RFC 9110 §9.1
//!   makes them case-sensitive, but some servers upper-case them); paths are read both as sent
//!   and as a normalising server reads them.
//!
//! Evaluation is pure and allocates nothing: the rules come with the cached service record,
//! the user's groups with the cached credential record, so a warm request makes no storage
//! read for it. A condition kind is one enum variant, which is where a CEL expression (Octelium's
//! policy language) would go: `Condition::Cel(Program)`, compiled when the service is read and
//! evaluated over the same [`Request`] (README: why there is none yet).

mod parse;
pub mod path;

pub use parse::{parse_rule, InvalidRule, MAX_RULES};
pub use path::PathPattern;

use crate::scope::{Scope, ScopeSet};
use std::fmt;

/// A group's id: assigned by the database, never given to another group.
pub type GroupId = i64;
/// A user's id, as `crate::model::UserId` (the model holds policies, so this module does not
/// import it).
type UserId = i64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// Something a rule names: what it matches (`id`), and what it was called when the rule was
/// written (display only). Written `name#id` (`group=finance#7`), as stored and shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named<T> {
    pub id: T,
    pub name: String,
}

/// One condition of a rule: the request's value must be one of those listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// The token's user, by id.
    Users(Vec<Named<UserId>>),
    /// A group the token's user belongs to, by id.
    Groups(Vec<Named<GroupId>>),
    /// The token's credential, by client id.
    Credentials(Vec<Named<String>>),
    /// A scope the token holds, exactly (`service:*` is not `service:payroll`).
    Scopes(Vec<String>),
    /// The request method, upper-case as written (see the module doc for case).
    Methods(Vec<String>),
    /// A path pattern the request path matches ([`PathPattern`]).
    Paths(Vec<PathPattern>),
}

/// A rule. Stored and shown in its text form ([`fmt::Display`], read back by [`parse_rule`]):
/// no serde code for it in the wasm (a derived JSON form cost the worker ~20 KiB gzip).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub effect: Effect,
    /// All must hold; none: the rule matches every request.
    pub when: Vec<Condition>,
}

/// What a rule can be about: the verified token's identity and the request line.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub user: UserId,
    /// The user's groups, as read with the credential.
    pub groups: &'a [GroupId],
    pub client_id: &'a str,
    pub scopes: &'a ScopeSet,
    pub method: &'a str,
    /// The path as sent (percent-encoded, without the query).
    pub path: &'a str,
}

/// The policy's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No rules, or an allow rule matched (its index).
    Allow(Option<usize>),
    /// A deny rule matched (its index, from 0).
    Denied(usize),
    /// The service has rules and none matched.
    NoRuleMatched,
}

/// The first rule of `rules` that matches `request` decides; none: denied, unless there are
/// no rules at all.
pub fn evaluate(rules: &[Rule], request: &Request<'_>) -> Verdict {
    if rules.is_empty() {
        return Verdict::Allow(None);
    }
    for (i, rule) in rules.iter().enumerate() {
        if rule.matches(request) {
            return match rule.effect {
                Effect::Allow => Verdict::Allow(Some(i)),
                Effect::Deny => Verdict::Denied(i),
            };
        }
    }
    Verdict::NoRuleMatched
}

impl Rule {
    pub fn matches(&self, request: &Request<'_>) -> bool {
        let deny = self.effect == Effect::Deny;
        self.when.iter().all(|c| c.holds(request, deny))
    }
}

impl Condition {
    /// Whether the request meets the condition; `deny`: read ambiguous parts of the request
    /// every way an origin might (module doc).
    fn holds(&self, r: &Request<'_>, deny: bool) -> bool {
        match self {
            Condition::Users(users) => users.iter().any(|u| u.id == r.user),
            Condition::Groups(groups) => groups.iter().any(|g| r.groups.contains(&g.id)),
            Condition::Credentials(creds) => creds.iter().any(|c| c.id == r.client_id),
            Condition::Scopes(scopes) => scopes
                .iter()
                .any(|want| r.scopes.iter().any(|held| scope_is(held, want))),
            Condition::Methods(methods) => methods.iter().any(|m| {
                // Rules hold methods upper case (`parse`), so folding the request's is enough.
                m.len() == r.method.len()
                    && m.bytes().zip(r.method.bytes()).all(|(want, got)| {
                        want == got || (deny && want == got.to_ascii_uppercase())
                    })
            }),
            Condition::Paths(patterns) => patterns.iter().any(|p| p.matches(r.path, deny)),
        }
    }
}

/// `held` written out equals `want`, without allocating.
fn scope_is(held: &Scope, want: &str) -> bool {
    match held {
        Scope::AllServices => want == "service:*",
        Scope::Service(name) => want.strip_prefix("service:") == Some(name.as_str()),
    }
}

/// The rule as the CLI takes it, `allow group=finance methods=GET paths=/reports/*`, with the
/// ids its names were resolved to (`group=finance#7`; none before they are resolved).
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.effect {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        })?;
        if self.when.is_empty() {
            return f.write_str(" any");
        }
        fn named<T: fmt::Display + Default + PartialEq>(
            f: &mut fmt::Formatter<'_>,
            list: &[Named<T>],
        ) -> fmt::Result {
            for (i, n) in list.iter().enumerate() {
                f.write_str(if i == 0 { "" } else { "," })?;
                f.write_str(&n.name)?;
                if n.id != T::default() {
                    write!(f, "#{}", n.id)?;
                }
            }
            Ok(())
        }
        fn plain<'a>(
            f: &mut fmt::Formatter<'_>,
            list: impl Iterator<Item = &'a str>,
        ) -> fmt::Result {
            for (i, v) in list.enumerate() {
                f.write_str(if i == 0 { "" } else { "," })?;
                f.write_str(v)?;
            }
            Ok(())
        }
        for c in &self.when {
            match c {
                Condition::Users(v) => f.write_str(" user=").and_then(|_| named(f, v))?,
                Condition::Groups(v) => f.write_str(" group=").and_then(|_| named(f, v))?,
                Condition::Credentials(v) => {
                    f.write_str(" credential=").and_then(|_| named(f, v))?
                }
                Condition::Scopes(v) => f
                    .write_str(" scope=")
                    .and_then(|_| plain(f, v.iter().map(String::as_str)))?,
                Condition::Methods(v) => f
                    .write_str(" methods=")
                    .and_then(|_| plain(f, v.iter().map(String::as_str)))?,
                Condition::Paths(v) => f
                    .write_str(" paths=")
                    .and_then(|_| plain(f, v.iter().map(PathPattern::as_str)))?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
