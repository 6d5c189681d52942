//! Who is calling. Every `rest::` and storage call takes an [`Auth`]: the master key bypasses
//! ACLs and class-level permissions (the read-only master key only for reads); a user holds its
//! id and the roles it has, directly or through other roles; everyone else is the public. ACL
//! filtering happens inside the SQL with [`Auth::perms`].

pub mod password;
pub mod session;

use std::sync::Arc;

use crate::error::{ApiError, ApiResult, Code};

/// The caller's rights, decided once per request from its keys and session token.
#[derive(Debug, Clone)]
pub enum Auth {
    /// The master key, from an allowed address.
    Master,
    /// `--readOnlyMasterKey`: reads as the master key, writes nothing.
    ReadOnlyMaster,
    /// A valid session token.
    User(Arc<UserAuth>),
    /// No user: sees what is public.
    Public,
}

/// A logged-in user, as its session token resolved it.
#[derive(Debug)]
pub struct UserAuth {
    pub user_id: String,
    pub session_id: String,
    /// The token as the client sent it (echoed by `/users/me`).
    pub token: String,
    /// `role:<name>` for every role the user is in, directly or by inheritance.
    pub roles: Arc<[String]>,
}

impl Auth {
    /// The full master key: may read and write everything.
    pub fn is_master(&self) -> bool {
        matches!(self, Auth::Master)
    }

    /// The master key or the read-only master key: reads are not filtered.
    pub fn reads_everything(&self) -> bool {
        matches!(self, Auth::Master | Auth::ReadOnlyMaster)
    }

    pub fn user(&self) -> Option<&UserAuth> {
        match self {
            Auth::User(u) => Some(u),
            _ => None,
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        self.user().map(|u| u.user_id.as_str())
    }

    /// The ACL entries this caller holds (`*`, its user id, its roles), or `None` for the master
    /// keys, which are not filtered.
    pub fn perms(&self) -> Option<Vec<String>> {
        match self {
            Auth::Master | Auth::ReadOnlyMaster => None,
            Auth::Public => Some(vec!["*".to_string()]),
            Auth::User(u) => {
                let mut p = Vec::with_capacity(2 + u.roles.len());
                p.push("*".to_string());
                p.push(u.user_id.clone());
                p.extend(u.roles.iter().cloned());
                Some(p)
            }
        }
    }

    /// Refuses a write by the read-only master key, as Parse does (119).
    pub fn check_writable(&self, op: &str) -> ApiResult<()> {
        if matches!(self, Auth::ReadOnlyMaster) {
            return Err(ApiError::new(
                Code::OperationForbidden,
                format!("read-only masterKey isn't allowed to perform the {op} operation."),
            ));
        }
        Ok(())
    }
}
