//! Rows to records and back: the column order of every statement in [`super::sql`], decoded
//! strictly (an unexpected value is a corrupt row, reported as a storage error).

use super::SqlValue;
use crate::error::StoreError;
use crate::model::{
    Credential, CredentialKind, CredentialStatus, Group, GroupId, Lifecycle, Rule, Service,
    UpstreamAuth, User,
};
use crate::policy::parse_rule;
use crate::rate_limit::{Count, RateLimit};
use crate::scope::ScopeSet;
use crate::secret::SecretHash;

pub(super) fn corrupt(what: &str) -> StoreError {
    StoreError::new(format!("unexpected value in column {what}"))
}

pub(super) fn text(row: &[SqlValue], i: usize) -> Result<String, StoreError> {
    match row.get(i) {
        Some(SqlValue::Text(s)) => Ok(s.clone()),
        _ => Err(corrupt(&i.to_string())),
    }
}

pub(super) fn opt_text(row: &[SqlValue], i: usize) -> Result<Option<String>, StoreError> {
    match row.get(i) {
        Some(SqlValue::Null) => Ok(None),
        _ => text(row, i).map(Some),
    }
}

pub(super) fn int(row: &[SqlValue], i: usize) -> Result<i64, StoreError> {
    match row.get(i) {
        Some(SqlValue::Integer(v)) => Ok(*v),
        _ => Err(corrupt(&i.to_string())),
    }
}

pub(super) fn opt_int(row: &[SqlValue], i: usize) -> Result<Option<i64>, StoreError> {
    match row.get(i) {
        Some(SqlValue::Null) => Ok(None),
        _ => int(row, i).map(Some),
    }
}

pub(super) fn user_from_row(row: &[SqlValue]) -> Result<User, StoreError> {
    Ok(User {
        id: int(row, 0)?,
        name: text(row, 1)?,
        enabled: int(row, 2)? != 0,
        created_at: int(row, 3)?,
        groups: names_from_cell(row, 4)?,
    })
}

/// A `group_concat(name, ' ')` column (names hold no space), sorted; NULL: none.
fn names_from_cell(row: &[SqlValue], i: usize) -> Result<Vec<String>, StoreError> {
    let mut names: Vec<String> = opt_text(row, i)?
        .map(|t| t.split(' ').map(str::to_owned).collect())
        .unwrap_or_default();
    names.sort();
    Ok(names)
}

pub(super) fn group_from_row(row: &[SqlValue]) -> Result<Group, StoreError> {
    Ok(Group {
        id: int(row, 0)?,
        name: text(row, 1)?,
        created_at: int(row, 2)?,
        members: names_from_cell(row, 3)?,
    })
}

/// The user's groups as the credential reads return them: `group_concat(group_id)` (any order:
/// the policy only asks whether one is there).
pub(super) fn group_ids_from_cell(row: &[SqlValue], i: usize) -> Result<Vec<GroupId>, StoreError> {
    match opt_text(row, i)? {
        None => Ok(vec![]),
        Some(list) => list
            .split(',')
            .map(|id| id.parse().map_err(|_| corrupt("groups")))
            .collect(),
    }
}

/// A credential with its user's state, from its columns followed by the user's `enabled` and
/// groups (as [`super::sql::CREDENTIAL_STATUS`] reads them): `None` for no credential (NULLs),
/// or one whose user is gone (a NULL `enabled`), which is not found either.
pub(super) fn status_from_row(row: &[SqlValue]) -> Result<Option<CredentialStatus>, StoreError> {
    let enabled = super::sql::CREDENTIAL_COLUMNS;
    if row.first() == Some(&SqlValue::Null) || row.get(enabled) == Some(&SqlValue::Null) {
        return Ok(None);
    }
    Ok(Some(CredentialStatus {
        credential: credential_from_row(row)?,
        user_enabled: int(row, enabled)? != 0,
        groups: group_ids_from_cell(row, enabled + 1)?,
    }))
}

/// The cell [`group_ids_from_cell`] reads: what a fake database answers with.
pub fn group_ids_cell(ids: &[GroupId]) -> SqlValue {
    if ids.is_empty() {
        return SqlValue::Null;
    }
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    list.join(",").into()
}

pub(super) fn service_from_row(row: &[SqlValue]) -> Result<Service, StoreError> {
    let allowed_user_ids =
        serde_json::from_str(&text(row, 2)?).map_err(|_| corrupt("allowed_user_ids"))?;
    let allowed_users =
        serde_json::from_str(&text(row, 3)?).map_err(|_| corrupt("allowed_users"))?;
    // Stored limits were validated on the way in: one that does not parse is a corrupt row.
    let rate_limit = opt_text(row, 5)?
        .map(|l| RateLimit::parse(&l).map_err(|_| corrupt("rate_limit")))
        .transpose()?;
    // Likewise a stored upstream credential (a spec of names, validated on the way in).
    let upstream_auth = opt_text(row, 6)?
        .map(|a| UpstreamAuth::parse(&a).map_err(|_| corrupt("upstream_auth")))
        .transpose()?;
    // Stored rules were validated on the way in, likewise: a JSON list of their text forms.
    let rules = match opt_text(row, 7)? {
        Some(json) => serde_json::from_str::<Vec<String>>(&json)
            .map_err(|_| corrupt("rules"))?
            .iter()
            .map(|text| parse_rule(text).map_err(|_| corrupt("rules")))
            .collect::<Result<Vec<Rule>, _>>()?,
        None => vec![],
    };
    Ok(Service {
        name: text(row, 0)?,
        upstream: text(row, 1)?,
        allowed_user_ids,
        allowed_users,
        created_at: int(row, 4)?,
        rate_limit,
        upstream_auth,
        rules,
    })
}

/// A service as its queries ([`super::sql::SERVICE`]) read it back: the inserted columns, then
/// its rate limit, upstream credential and rules (`NULL` without). What a fake database answers
/// with.
pub fn service_read_row(s: &Service) -> Vec<SqlValue> {
    let mut row = service_row(s);
    row.push(s.rate_limit.map(|l| l.to_string()).into());
    row.push(s.upstream_auth.as_ref().map(|a| a.to_string()).into());
    row.push(rules_cell(&s.rules));
    row
}

/// The stored form of a service's rules: a JSON list of their text forms (ids included), `NULL`
/// for none.
pub fn rules_cell(rules: &[Rule]) -> SqlValue {
    if rules.is_empty() {
        return SqlValue::Null;
    }
    let texts: Vec<String> = rules.iter().map(Rule::to_string).collect();
    serde_json::to_string(&texts)
        .expect("a list of strings serializes")
        .into()
}

/// The count [`super::sql::COUNT_REQUEST`] returns.
pub(super) fn count_from_row(row: &[SqlValue]) -> Result<Count, StoreError> {
    let non_negative = |i| u64::try_from(int(row, i)?).map_err(|_| corrupt("count"));
    Ok(Count {
        window_ms: non_negative(0)?,
        window_end_ms: non_negative(1)?,
        hits: non_negative(2)?,
    })
}

/// A credential as the columns of [`super::sql::INSERT_CREDENTIAL`], in order: what is inserted and
/// what the credential queries read back (a fake database answers with these rows).
pub fn credential_row(c: &Credential) -> Vec<SqlValue> {
    vec![
        c.client_id.as_str().into(),
        c.name.as_str().into(),
        c.user_id.into(),
        c.user.as_str().into(),
        c.kind.as_str().into(),
        c.secret_hash.as_ref().map(|h| h.as_str()).into(),
        c.scopes.to_string().into(),
        c.expires_at.into(),
        c.enabled.into(),
        c.created_at.into(),
        c.can_introspect.into(),
    ]
}

/// A service as the columns of [`super::sql::INSERT_SERVICE`]: what is inserted and what the service
/// queries read back.
pub fn service_row(s: &Service) -> Vec<SqlValue> {
    let ids = serde_json::to_string(&s.allowed_user_ids).expect("a list of ids serializes");
    let names = serde_json::to_string(&s.allowed_users).expect("a list of strings serializes");
    vec![
        s.name.as_str().into(),
        s.upstream.as_str().into(),
        ids.into(),
        names.into(),
        s.created_at.into(),
    ]
}

pub(super) fn credential_from_row(row: &[SqlValue]) -> Result<Credential, StoreError> {
    Ok(Credential {
        client_id: text(row, 0)?,
        name: text(row, 1)?,
        user_id: int(row, 2)?,
        user: text(row, 3)?,
        kind: CredentialKind::parse(&text(row, 4)?).ok_or_else(|| corrupt("kind"))?,
        secret_hash: opt_text(row, 5)?.map(SecretHash),
        // Stored scopes were validated on the way in: one that does not parse is a corrupt row.
        scopes: ScopeSet::parse(&text(row, 6)?).map_err(|_| corrupt("scopes"))?,
        expires_at: opt_int(row, 7)?,
        enabled: int(row, 8)? != 0,
        created_at: int(row, 9)?,
        can_introspect: int(row, 10)? != 0,
        require_dpop: int(row, 19)? != 0,
        lifecycle: Lifecycle {
            previous_secret_hash: opt_text(row, 11)?.map(SecretHash),
            rotated_at: opt_int(row, 12)?,
            grace_until: opt_int(row, 13)?,
            previous_rotated_at: opt_int(row, 14)?,
            token_jti: opt_text(row, 15)?,
            previous_token_jti: opt_text(row, 16)?,
            max_uses: opt_int(row, 17)?,
            uses: opt_int(row, 18)?.unwrap_or(0),
        },
    })
}

/// A credential as its queries ([`super::sql::CREDENTIAL_BY_NAME`]) read it back: the inserted
/// columns, then its lifecycle's (`NULL`s and 0 uses when it has none), then whether it
/// requires DPoP. What a fake database answers with.
pub fn credential_read_row(c: &Credential) -> Vec<SqlValue> {
    let l = &c.lifecycle;
    let mut row = credential_row(c);
    row.extend([
        l.previous_secret_hash.as_ref().map(|h| h.as_str()).into(),
        l.rotated_at.into(),
        l.grace_until.into(),
        l.previous_rotated_at.into(),
        l.token_jti.as_deref().into(),
        l.previous_token_jti.as_deref().into(),
        l.max_uses.into(),
        l.uses.into(),
        c.require_dpop.into(),
    ]);
    row
}
