//! Groups through the admin API, and the names in policy rules resolved to the ids they hold.
//!
//! Membership is read with the credential (one statement, cached with it), so a change to a
//! group tells the caches about every credential of its members, as deleting a user does.

use super::api::*;
use super::{not_found, parse_body, AdminContext};
use crate::capability::{Now, SqlDb};
use crate::error::AdminError;
use crate::http::Response;
use crate::model::{is_valid_name, GroupId, Rule};
use crate::policy::{parse_rule, Condition, MAX_RULES};
use crate::store::Store;

pub(super) async fn create_group<D: SqlDb>(
    store: &Store<'_, D>,
    body: &[u8],
    now: Now,
) -> Result<(Response, String), AdminError> {
    let req: NewGroup = parse_body(body)?;
    if !is_valid_name(&req.name) {
        return Err(AdminError::BadRequest(
            "group names are 1-64 letters, digits, '.', '_' or '-'".into(),
        ));
    }
    match store.insert_group(&req.name, now.unix_secs()).await? {
        Some(group) => {
            let view = OneGroup {
                group: GroupView::from(&group),
            };
            Ok((Response::json(201, &view), group.name))
        }
        None => Err(AdminError::Conflict(format!(
            "group {:?} already exists",
            req.name
        ))),
    }
}

/// Deletes a group, unless a service's rules name it: a deny rule whose group is gone would
/// deny nobody, and one re-created under the name would be another group (409; delete or
/// re-create those services first).
pub(super) async fn delete_group<D: SqlDb>(
    ctx: &AdminContext<'_>,
    store: &Store<'_, D>,
    name: &str,
) -> Result<Response, AdminError> {
    let group = store
        .group(name)
        .await?
        .ok_or_else(|| not_found("group", name))?;
    let naming: Vec<String> = store
        .services()
        .await?
        .into_iter()
        .filter(|s| s.rules.iter().any(|r| names_group(r, group.id)))
        .map(|s| s.name)
        .collect();
    if !naming.is_empty() {
        return Err(AdminError::Conflict(format!(
            "group {name:?} is named by the rules of service(s) {}; delete or re-create them first",
            naming.join(", ")
        )));
    }
    for client_id in store.delete_group(group.id).await? {
        ctx.caches.credential_changed(&client_id);
    }
    Ok(Response::json(
        200,
        &Deleted {
            deleted: DeletedGroup {
                group: name.to_owned(),
            },
        },
    ))
}

/// Adds members to a group and removes others; the credentials of every user concerned are
/// told to the caches (their cached groups changed).
pub(super) async fn update_group<D: SqlDb>(
    ctx: &AdminContext<'_>,
    store: &Store<'_, D>,
    name: &str,
    body: &[u8],
) -> Result<Response, AdminError> {
    let req: GroupChange = parse_body(body)?;
    if let Some(both) = req.add.iter().find(|u| req.remove.contains(u)) {
        return Err(AdminError::BadRequest(format!(
            "user {both:?} is both added and removed"
        )));
    }
    let group = store
        .group(name)
        .await?
        .ok_or_else(|| not_found("group", name))?;
    let mut stale = Vec::new();
    let mut user_ids = [Vec::new(), Vec::new()];
    for (i, names) in [&req.add, &req.remove].into_iter().enumerate() {
        for n in names {
            let user = store
                .user(n)
                .await?
                .ok_or_else(|| AdminError::BadRequest(format!("user {n:?} does not exist")))?;
            stale.extend(
                store
                    .credentials_of(user.id)
                    .await?
                    .into_iter()
                    .map(|c| c.client_id),
            );
            user_ids[i].push(user.id);
        }
    }
    store
        .change_members(group.id, &user_ids[0], &user_ids[1])
        .await?;
    for client_id in &stale {
        ctx.caches.credential_changed(client_id);
    }
    let group = store
        .group(name)
        .await?
        .ok_or_else(|| not_found("group", name))?;
    Ok(Response::json(
        200,
        &OneGroup {
            group: GroupView::from(&group),
        },
    ))
}

fn names_group(rule: &Rule, id: GroupId) -> bool {
    rule.when.iter().any(|c| match c {
        Condition::Groups(groups) => groups.iter().any(|g| g.id == id),
        _ => false,
    })
}

/// The groups of a new user, by name: their ids, or 400 for one that does not exist.
pub(super) async fn group_ids<D: SqlDb>(
    store: &Store<'_, D>,
    names: &[String],
) -> Result<Vec<GroupId>, AdminError> {
    let mut ids = Vec::with_capacity(names.len());
    for name in names {
        let group = store
            .group(name)
            .await?
            .ok_or_else(|| AdminError::BadRequest(format!("group {name:?} does not exist")))?;
        ids.push(group.id);
    }
    Ok(ids)
}

/// Parses a service's rules and resolves the users, groups and credentials they name to ids
/// (400 for one that does not exist).
pub(super) async fn resolve_rules<D: SqlDb>(
    store: &Store<'_, D>,
    texts: &[String],
) -> Result<Vec<Rule>, AdminError> {
    if texts.len() > MAX_RULES {
        return Err(AdminError::BadRequest(format!(
            "a service has at most {MAX_RULES} rules"
        )));
    }
    let missing = |kind: &str, name: &str| {
        AdminError::BadRequest(format!("{kind} {name:?} (in a rule) does not exist"))
    };
    let mut rules = Vec::with_capacity(texts.len());
    for text in texts {
        let mut rule = parse_rule(text).map_err(|e| AdminError::BadRequest(e.0))?;
        for condition in &mut rule.when {
            match condition {
                Condition::Users(users) => {
                    for u in users {
                        let user = store.user(&u.name).await?;
                        u.id = user.ok_or_else(|| missing("user", &u.name))?.id;
                    }
                }
                Condition::Groups(groups) => {
                    for g in groups {
                        let group = store.group(&g.name).await?;
                        g.id = group.ok_or_else(|| missing("group", &g.name))?.id;
                    }
                }
                Condition::Credentials(creds) => {
                    for c in creds {
                        let cred = store.credential_by_name(&c.name).await?;
                        c.id = cred
                            .ok_or_else(|| missing("credential", &c.name))?
                            .client_id;
                    }
                }
                Condition::Scopes(_) | Condition::Methods(_) | Condition::Paths(_) => {}
            }
        }
        rules.push(rule);
    }
    Ok(rules)
}
