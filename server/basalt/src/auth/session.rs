//! Session tokens: `r:` + 32 random hex characters, given to the client once and stored only as
//! their SHA-256 (`_Session._token_hash`), so a copy of the database holds no usable token and a
//! lookup is an indexed equality on a hash, which leaks nothing about the token through timing.
//!
//! A token resolves to the user and the user's roles — every role it is in, directly or through
//! roles that contain its roles, to any depth; a loop ends because the recursive query keeps
//! each role once. Resolutions are cached per node: revoking a session or deleting a user drops
//! its entries at once, and any change to `_Role` makes every cached role set stale (it is
//! recomputed on its next use). Another node learns of a revocation within [`RECHECK`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use basalt_query::{Bind, Sql};
use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::UserAuth;
use crate::error::{ApiError, ApiResult, Code};
use crate::storage::{Cell, Col, Storage};

/// How long a cached resolution is trusted before the session row is read again.
pub const RECHECK: Duration = Duration::from_secs(5);
/// Cached tokens kept at most; past it the cache starts over.
const MAX_CACHED: usize = 100_000;

/// A new session token.
pub fn new_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    format!("r:{}", hex(&bytes))
}

/// What `_Session._token_hash` stores for `token`.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

pub fn invalid_token() -> ApiError {
    ApiError::new(Code::InvalidSessionToken, "Invalid session token")
}

struct Cached {
    user: Arc<UserAuth>,
    expires_at: Option<DateTime<Utc>>,
    role_generation: u64,
    checked: Instant,
}

#[derive(Default)]
pub struct Sessions {
    cache: RwLock<HashMap<String, Cached>>,
    role_generation: AtomicU64,
}

impl Sessions {
    /// The user a session token belongs to, with its roles; 209 for a token that is unknown,
    /// revoked or expired.
    pub async fn resolve(&self, storage: &Storage, token: &str) -> ApiResult<Arc<UserAuth>> {
        let key = token_hash(token);
        let generation = self.role_generation.load(Ordering::Acquire);
        let cached = {
            let cache = self.cache.read().unwrap_or_else(|e| e.into_inner());
            cache.get(&key).map(|c| {
                (
                    c.user.clone(),
                    c.expires_at,
                    c.role_generation == generation && c.checked.elapsed() < RECHECK,
                )
            })
        };
        if let Some((user, expires_at, fresh)) = cached {
            if expires_at.is_some_and(|e| e <= Utc::now()) {
                self.forget(&key);
                return Err(expired());
            }
            if fresh {
                return Ok(user);
            }
        }
        let (session_id, user_id, expires_at) =
            lookup(storage, &key).await?.ok_or_else(invalid_token)?;
        if expires_at.is_some_and(|e| e <= Utc::now()) {
            return Err(expired());
        }
        let roles = roles_of(storage, &user_id).await?;
        let user = Arc::new(UserAuth {
            user_id,
            session_id,
            token: token.to_string(),
            roles: roles.into(),
        });
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(
            key,
            Cached {
                user: user.clone(),
                expires_at,
                role_generation: generation,
                checked: Instant::now(),
            },
        );
        Ok(user)
    }

    /// Drops a revoked session (by its token hash) from the cache.
    pub fn forget(&self, token_hash: &str) {
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(token_hash);
    }

    /// Drops every cached session of a user (deleted, or its password changed).
    pub fn forget_user(&self, user_id: &str) {
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, c| c.user.user_id != user_id);
    }

    /// A role, or a role's `users` or `roles`, changed: every cached role set is stale.
    pub fn roles_changed(&self) {
        self.role_generation.fetch_add(1, Ordering::AcqRel);
    }
}

fn expired() -> ApiError {
    ApiError::new(Code::InvalidSessionToken, "Session token is expired.")
}

/// The session row for a token hash, if its user still exists: (session id, user id, expiry).
pub async fn lookup(
    storage: &Storage,
    key: &str,
) -> ApiResult<Option<(String, String, Option<DateTime<Utc>>)>> {
    let mut sql = Sql::new(storage.dialect());
    sql.push(
        "SELECT s.\"objectId\", s.\"user\", s.\"expiresAt\" FROM \"_Session\" s \
         JOIN \"_User\" u ON u.\"objectId\" = s.\"user\" WHERE s.\"_token_hash\" = ",
    );
    sql.bind(Bind::Text(key.to_string()));
    let row = storage
        .fetch(&sql, &[Col::Text, Col::Text, Col::Date])
        .await?
        .into_iter()
        .next();
    Ok(row.and_then(|r| {
        let mut it = r.into_iter();
        match (it.next(), it.next(), it.next()) {
            (Some(Cell::Text(sid)), Some(Cell::Text(uid)), exp) => {
                let exp = match exp {
                    Some(Cell::Date(d)) => Some(d),
                    _ => None,
                };
                Some((sid, uid, exp))
            }
            _ => None,
        }
    }))
}

/// `role:<name>` for every role `user_id` is in, directly or through contained roles.
pub async fn roles_of(storage: &Storage, user_id: &str) -> ApiResult<Vec<String>> {
    let mut sql = Sql::new(storage.dialect());
    // `_Join:roles:_Role` links a role (owningId) to the roles it contains (relatedId), whose
    // users it also grants: climb from the user's own roles to every role containing them.
    sql.push(
        "WITH RECURSIVE r(id) AS (SELECT \"owningId\" FROM \"_Join:users:_Role\" WHERE \"relatedId\" = ",
    );
    sql.bind(Bind::Text(user_id.to_string()));
    sql.push(
        " UNION SELECT j.\"owningId\" FROM \"_Join:roles:_Role\" j JOIN r ON j.\"relatedId\" = r.id) \
         SELECT \"name\" FROM \"_Role\" WHERE \"objectId\" IN (SELECT id FROM r) AND \"name\" IS NOT NULL ORDER BY \"name\"",
    );
    let rows = storage.fetch(&sql, &[Col::Text]).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| match r.into_iter().next() {
            Some(Cell::Text(name)) => Some(format!("role:{name}")),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_look_like_parse_tokens_and_differ() {
        let a = new_token();
        let b = new_token();
        assert_eq!(a.len(), 34);
        assert!(a.starts_with("r:"));
        assert!(a[2..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn token_hash_is_sha256_hex() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
