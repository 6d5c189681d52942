//! What `require('crypto')` computes on the host: Node's hashes and HMACs (md5, sha1, sha256,
//! sha384, sha512) and random bytes from the operating system's generator.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Digest;

/// The digest of `data` with `algorithm`, keyed (HMAC) when `key` is given; `None` for an
/// algorithm Node names that is not offered here.
pub(crate) fn digest(algorithm: &str, data: &[u8], key: Option<&[u8]>) -> Option<Vec<u8>> {
    fn hmac<M: Mac + KeyInit>(key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
        let mut m = <M as KeyInit>::new_from_slice(key).ok()?;
        m.update(data);
        Some(m.finalize().into_bytes().to_vec())
    }
    let alg = algorithm.to_ascii_lowercase().replace('-', "");
    match (alg.as_str(), key) {
        ("md5", None) => Some(md5::Md5::digest(data).to_vec()),
        ("sha1", None) => Some(sha1::Sha1::digest(data).to_vec()),
        ("sha256", None) => Some(sha2::Sha256::digest(data).to_vec()),
        ("sha384", None) => Some(sha2::Sha384::digest(data).to_vec()),
        ("sha512", None) => Some(sha2::Sha512::digest(data).to_vec()),
        ("md5", Some(k)) => hmac::<Hmac<md5::Md5>>(k, data),
        ("sha1", Some(k)) => hmac::<Hmac<sha1::Sha1>>(k, data),
        ("sha256", Some(k)) => hmac::<Hmac<sha2::Sha256>>(k, data),
        ("sha384", Some(k)) => hmac::<Hmac<sha2::Sha384>>(k, data),
        ("sha512", Some(k)) => hmac::<Hmac<sha2::Sha512>>(k, data),
        _ => None,
    }
}

/// `n` random bytes (at most 64 KiB at once, as Web Crypto's getRandomValues allows).
pub(crate) fn random(n: usize) -> Vec<u8> {
    use rand::RngCore;
    let mut out = vec![0u8; n.min(65_536)];
    rand::rng().fill_bytes(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn digests_match_the_published_test_vectors() {
        let d = |alg, data: &str, key: Option<&str>| {
            hex(&digest(alg, data.as_bytes(), key.map(str::as_bytes)).unwrap_or_default())
        };
        assert_eq!(d("md5", "abc", None), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            d("sha1", "abc", None),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            d("sha256", "abc", None),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // RFC 4231, test case 2.
        assert_eq!(
            d("sha256", "what do ya want for nothing?", Some("Jefe")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(digest("whirlpool", b"", None), None);
        assert_eq!(random(16).len(), 16);
        assert_ne!(random(16), random(16));
    }
}
