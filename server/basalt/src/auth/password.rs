//! Password hashing: argon2id for every new hash; bcrypt hashes imported from a Parse Server
//! database still verify, and are replaced by an argon2id hash at the next successful login.
//!
//! Hashing costs tens of milliseconds and ~19 MiB of memory, so it runs on the blocking pool,
//! at most a few at a time: a burst of logins queues here instead of exhausting memory or
//! starving the runtime.

use std::sync::LazyLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};

/// Hashes computed at once; more wait their turn.
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    Semaphore::new(cores * 2)
});

/// argon2id with OWASP's recommended minimum: 19 MiB, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// The algorithm and cost Basalt hashes new passwords with, for the benchmark report.
pub const ALGORITHM: &str = "argon2id (m=19456 KiB, t=2, p=1)";

/// What checking a password against a stored hash found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but the hash is an imported bcrypt hash to replace with this argon2id one.
    YesRehash(String),
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    let _permit = HASHING
        .acquire()
        .await
        .map_err(|_| ApiError::internal("password hashing pool closed"))?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("password hashing task failed: {e}")))
}

fn hash_now(password: &str) -> ApiResult<String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(format!("argon2 hashing failed: {e}")))
}

/// A new argon2id hash (PHC string) of `password`.
pub async fn hash(password: String) -> ApiResult<String> {
    blocking(move || hash_now(&password)).await?
}

/// Spends the time a real check would when there is no user to check against, so a login
/// attempt's duration does not tell whether the username exists.
pub async fn verify_nobody(password: String) -> ApiResult<()> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    blocking(move || {
        let stored = match DUMMY.get() {
            Some(h) => h.clone(),
            None => {
                let h = hash_now("basalt: no such user")?;
                DUMMY.get_or_init(|| h).clone()
            }
        };
        if let Ok(parsed) = PasswordHash::new(&stored) {
            let _ = argon2().verify_password(password.as_bytes(), &parsed);
        }
        Ok(())
    })
    .await?
}

/// Checks `password` against `stored` (argon2 PHC string or bcrypt `$2a$`/`$2b$`/`$2y$`).
/// An unreadable hash never verifies.
pub async fn verify(password: String, stored: String) -> ApiResult<Verified> {
    blocking(move || {
        if stored.starts_with("$2") {
            return match bcrypt::verify(&password, &stored) {
                Ok(true) => hash_now(&password).map(Verified::YesRehash),
                _ => Ok(Verified::No),
            };
        }
        let Ok(parsed) = PasswordHash::new(&stored) else {
            return Ok(Verified::No);
        };
        Ok(
            if argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
            {
                Verified::Yes
            } else {
                Verified::No
            },
        )
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn argon2id_round_trip() {
        let h = hash("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert_eq!(
            verify("correct horse".into(), h.clone()).await.unwrap(),
            Verified::Yes
        );
        assert_eq!(verify("wrong".into(), h).await.unwrap(), Verified::No);
    }

    #[tokio::test]
    async fn bcrypt_from_parse_verifies_and_asks_for_a_rehash() {
        // A bcrypt hash as Parse Server stores it (cost 10).
        let stored = bcrypt::hash("hunter22", 10).unwrap();
        assert!(stored.starts_with("$2"));
        match verify("hunter22".into(), stored.clone()).await.unwrap() {
            Verified::YesRehash(new) => assert!(new.starts_with("$argon2id$")),
            other => panic!("expected a rehash, got {other:?}"),
        }
        assert_eq!(
            verify("hunter23".into(), stored).await.unwrap(),
            Verified::No
        );
    }

    #[tokio::test]
    async fn garbage_hash_never_verifies() {
        for stored in ["", "plain", "$2a$10$short", "$argon2id$v=19$bad"] {
            assert_eq!(
                verify("x".into(), stored.into()).await.unwrap(),
                Verified::No
            );
        }
    }
}
