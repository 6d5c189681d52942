//! Password hashing: argon2id for every new hash; bcrypt hashes imported from a Parse Server
//! database still verify, and are replaced by an argon2id hash at the next successful login.
//!
//! A hash costs tens of milliseconds and 19 MiB of working memory, so it never runs on the
//! async runtime: a few dedicated threads (two per core) take hashing jobs from a queue, each
//! reusing one 19 MiB block for every hash it computes. A burst of logins waits in the queue
//! instead of stalling other requests, and memory stays at threads × 19 MiB. (Allocating the
//! block per hash let the allocator keep every freed block in per-thread arenas: 540 MB after
//! 40 concurrent logins, measured.)

use std::cell::RefCell;
use std::sync::mpsc;
use std::sync::{LazyLock, Mutex};

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use rand::RngCore;
use subtle::ConstantTimeEq;

use crate::error::{ApiError, ApiResult};

/// Stored hashes asking for more memory than this never verify: an imported or tampered hash
/// must not make a login allocate without bound.
const MAX_M_COST_KIB: u32 = 256 * 1024;

/// What checking a password against a stored hash found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but the hash is an imported bcrypt hash to replace with this argon2id one.
    YesRehash(String),
}

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads' queue.
static POOL: LazyLock<Mutex<mpsc::Sender<Job>>> = LazyLock::new(|| {
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = std::sync::Arc::new(Mutex::new(rx));
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    for i in 0..(cores * 2).min(16) {
        let rx = rx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("basalt-hash-{i}"))
            .spawn(move || {
                loop {
                    let job = match rx.lock() {
                        Ok(guard) => guard.recv(),
                        Err(poisoned) => poisoned.into_inner().recv(),
                    };
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start password hashing thread: {e}");
        }
    }
    Mutex::new(tx)
});

thread_local! {
    /// This hashing thread's argon2 working memory, allocated once.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on a hashing thread.
async fn on_pool<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = tx.send(f());
    });
    POOL.lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(job)
        .map_err(|_| ApiError::internal("password hashing threads are gone"))?;
    rx.await
        .map_err(|_| ApiError::internal("password hashing job was dropped"))
}

/// argon2id of `password` with `salt` and `params` into `out`, in this thread's memory.
fn argon2id(password: &[u8], salt: &[u8], params: Params, out: &mut [u8]) -> Result<(), String> {
    MEMORY.with(|m| {
        let mut m = m.borrow_mut();
        let need = params.block_count();
        if m.len() < need {
            m.resize(need, Block::default());
        }
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into_with_memory(password, salt, out, &mut m[..need])
            .map_err(|e| e.to_string())
    })
}

/// A new argon2id hash as a PHC string, with OWASP's recommended minimum cost (19 MiB, 2
/// passes, 1 lane).
fn hash_now(password: &str) -> ApiResult<String> {
    let params = Params::default();
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let mut out = [0u8; 32];
    argon2id(password.as_bytes(), &salt, params.clone(), &mut out)
        .map_err(|e| ApiError::internal(format!("argon2 hashing failed: {e}")))?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        STANDARD_NO_PAD.encode(salt),
        STANDARD_NO_PAD.encode(out)
    ))
}

/// Checks a password against an argon2id PHC string; anything unreadable is a mismatch.
fn verify_argon2(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    if parsed.algorithm.as_str() != "argon2id" {
        return false;
    }
    let (Ok(params), Some(salt), Some(expected)) =
        (Params::try_from(&parsed), parsed.salt, parsed.hash)
    else {
        return false;
    };
    if params.m_cost() > MAX_M_COST_KIB {
        return false;
    }
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let mut out = vec![0u8; expected.len()];
    if argon2id(password.as_bytes(), salt, params, &mut out).is_err() {
        return false;
    }
    out.ct_eq(expected.as_bytes()).into()
}

/// A new argon2id hash (PHC string) of `password`.
pub async fn hash(password: String) -> ApiResult<String> {
    on_pool(move || hash_now(&password)).await?
}

/// Spends the time a real check would when there is no user to check against, so a login
/// attempt's duration does not tell whether the username exists.
pub async fn verify_nobody(password: String) -> ApiResult<()> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    on_pool(move || {
        let stored = match DUMMY.get() {
            Some(h) => h.clone(),
            None => {
                let h = hash_now("basalt: no such user")?;
                DUMMY.get_or_init(|| h).clone()
            }
        };
        verify_argon2(&password, &stored);
        Ok(())
    })
    .await?
}

/// Checks `password` against `stored` (argon2id PHC string or bcrypt `$2a$`/`$2b$`/`$2y$`).
/// An unreadable hash never verifies.
pub async fn verify(password: String, stored: String) -> ApiResult<Verified> {
    on_pool(move || {
        if stored.starts_with("$2") {
            return match bcrypt::verify(&password, &stored) {
                Ok(true) => hash_now(&password).map(Verified::YesRehash),
                _ => Ok(Verified::No),
            };
        }
        Ok(if verify_argon2(&password, &stored) {
            Verified::Yes
        } else {
            Verified::No
        })
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordHasher;
    use argon2::password_hash::SaltString;

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
    async fn hashes_from_the_reference_implementation_verify() {
        // The argon2 crate's own PHC output, with other costs, must verify here too.
        let salt = SaltString::from_b64("c29tZXNhbHRzb21lc2FsdA").unwrap();
        let params = Params::new(4096, 3, 1, None).unwrap();
        let h = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        assert_eq!(verify("pw".into(), h.clone()).await.unwrap(), Verified::Yes);
        assert_eq!(verify("px".into(), h).await.unwrap(), Verified::No);
    }

    #[tokio::test]
    async fn bcrypt_from_parse_verifies_and_asks_for_a_rehash() {
        // A hash exactly as Parse Server 9 stored it for "correct horse battery".
        let stored = "$2y$10$7/jJVIRGlngrbDcHt9PLjOHQqp.bDhZmHC.dzmIlN7QBZgww/nWkm".to_string();
        match verify("correct horse battery".into(), stored.clone())
            .await
            .unwrap()
        {
            Verified::YesRehash(new) => assert!(new.starts_with("$argon2id$")),
            other => panic!("expected a rehash, got {other:?}"),
        }
        assert_eq!(
            verify("correct horse".into(), stored).await.unwrap(),
            Verified::No
        );
    }

    #[tokio::test]
    async fn garbage_or_oversized_hashes_never_verify() {
        for stored in [
            "",
            "plain",
            "$2a$10$short",
            "$argon2id$v=19$bad",
            "$argon2i$v=19$m=4096,t=3,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=4194304,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
        ] {
            assert_eq!(
                verify("x".into(), stored.into()).await.unwrap(),
                Verified::No,
                "{stored}"
            );
        }
    }
}
