//! The admin API's group bodies (`/admin/v1/groups`).

use crate::model::Group;
use serde::{Deserialize, Serialize};

/// `POST /admin/v1/groups`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    pub name: String,
}

/// `PATCH /admin/v1/groups/<name>`: members to add and to remove (users that exist; a user in
/// both is refused).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupChange {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupView {
    pub created_at: i64,
    /// Stable: never given to another group; what rules hold.
    pub id: i64,
    /// Its members' names, sorted.
    pub members: Vec<String>,
    pub name: String,
}

impl From<&Group> for GroupView {
    fn from(g: &Group) -> Self {
        GroupView {
            created_at: g.created_at,
            id: g.id,
            members: g.members.clone(),
            name: g.name.clone(),
        }
    }
}

/// `GET /admin/v1/groups`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupList {
    pub groups: Vec<GroupView>,
}

/// `GET /admin/v1/groups/<name>`, and the creation response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneGroup {
    pub group: GroupView,
}

/// `DELETE /admin/v1/groups/<name>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletedGroup {
    pub group: String,
}
