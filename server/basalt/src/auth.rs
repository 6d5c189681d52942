//! Who is calling. Every `rest::` and storage call takes an [`Auth`]; the master key bypasses
//! ACLs and class-level permissions, everyone else is filtered inside the SQL.

/// The caller's rights, decided once per request from its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// The master key, from an allowed address.
    Master,
    /// No user: sees what is public.
    Public,
}

impl Auth {
    pub fn is_master(&self) -> bool {
        matches!(self, Auth::Master)
    }

    /// The ACL entries this caller holds (`*`, its user id, its roles), or `None` for the master
    /// key, which is not filtered.
    pub fn perms(&self) -> Option<Vec<String>> {
        match self {
            Auth::Master => None,
            Auth::Public => Some(vec!["*".to_string()]),
        }
    }
}
