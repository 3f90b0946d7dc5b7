//! Groups of users ([`crate::policy`]): the records, their members, and the credentials whose
//! cached groups a change makes stale.

use super::rows::{self, group_from_row};
use super::{single_int, sql, SqlDb, Store};
use crate::error::StoreError;
use crate::model::{Group, GroupId, UserId};

impl<D: SqlDb> Store<'_, D> {
    pub async fn group(&self, name: &str) -> Result<Option<Group>, StoreError> {
        let rows = self.db.query(sql::GROUP, &[name.into()]).await?;
        rows.into_iter()
            .next()
            .map(|r| group_from_row(&r))
            .transpose()
    }

    pub async fn groups(&self) -> Result<Vec<Group>, StoreError> {
        let rows = self.db.query(sql::GROUPS, &[]).await?;
        rows.iter().map(|r| group_from_row(r)).collect()
    }

    /// Inserts a group; `None` if the name is taken.
    pub async fn insert_group(
        &self,
        name: &str,
        created_at: i64,
    ) -> Result<Option<Group>, StoreError> {
        let params = [name.into(), created_at.into()];
        let rows = self.db.query(sql::INSERT_GROUP, &params).await?;
        Ok(single_int(&rows)?.map(|id| Group {
            id,
            name: name.to_owned(),
            created_at,
            members: vec![],
        }))
    }

    /// Adds a user to groups, in one batch.
    pub async fn add_memberships(
        &self,
        user: UserId,
        groups: &[GroupId],
    ) -> Result<(), StoreError> {
        if groups.is_empty() {
            return Ok(());
        }
        let batch: Vec<_> = groups
            .iter()
            .map(|g| (sql::ADD_GROUP_MEMBER, vec![(*g).into(), user.into()]))
            .collect();
        self.db.execute_batch(&batch).await
    }

    /// Adds users to a group and removes others from it, in one batch.
    pub async fn change_members(
        &self,
        group: GroupId,
        add: &[UserId],
        remove: &[UserId],
    ) -> Result<(), StoreError> {
        let row = |u: &UserId| vec![group.into(), (*u).into()];
        let batch: Vec<_> = (add.iter().map(|u| (sql::ADD_GROUP_MEMBER, row(u))))
            .chain(remove.iter().map(|u| (sql::REMOVE_GROUP_MEMBER, row(u))))
            .collect();
        if batch.is_empty() {
            return Ok(());
        }
        self.db.execute_batch(&batch).await
    }

    /// Deletes a group and its memberships. Returns the client ids of its members'
    /// credentials, whose cached groups are now stale.
    pub async fn delete_group(&self, group: GroupId) -> Result<Vec<String>, StoreError> {
        let rows = self
            .db
            .query(sql::GROUP_CREDENTIALS, &[group.into()])
            .await?;
        let stale = rows
            .iter()
            .map(|r| rows::text(r, 0))
            .collect::<Result<_, _>>()?;
        self.db
            .execute_batch(&[
                (sql::DELETE_GROUP_MEMBERS, vec![group.into()]),
                (sql::DELETE_GROUP, vec![group.into()]),
            ])
            .await?;
        Ok(stale)
    }
}
