//! Identifiers validated once at the edge: class names, object ids; and the random ids and
//! tokens Basalt hands out.

use rand::Rng;
use rand::distr::Alphanumeric;

use crate::error::{ApiError, ApiResult, Code};

/// Parse's objectId: 10 alphanumeric characters.
pub fn new_object_id() -> String {
    random_token(10)
}

/// A random alphanumeric string from the OS-seeded thread RNG.
pub fn random_token(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// A random (version 4) UUID, as Parse names LiveQuery clients.
pub fn uuid() -> String {
    let mut b: [u8; 16] = rand::rng().random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// A class name from a URL or body. Any name may be *read* (one that cannot exist reads as
/// empty, as in Parse); [`ClassName::is_creatable`] decides whether a write may create it.
/// Control characters and over-long names are refused outright, so no name is unprintable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassName(String);

impl ClassName {
    pub fn parse(s: &str) -> ApiResult<Self> {
        if s.is_empty() || s.len() > 256 || s.chars().any(char::is_control) {
            return Err(ApiError::new(
                Code::InvalidClassName,
                format!("Invalid classname: {s}"),
            ));
        }
        Ok(Self(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// Whether a class of this name may exist: Parse's naming rule or a system class.
    pub fn is_creatable(&self) -> bool {
        basalt_query::schema::is_valid_class_name(&self.0)
    }
}

impl std::fmt::Display for ClassName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An objectId from a URL. Any string may be looked up (one that cannot exist is simply not
/// found, 101); only length is bounded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectId(String);

impl ObjectId {
    pub fn parse(s: &str) -> ApiResult<Self> {
        if s.len() > 256 {
            return Err(ApiError::not_found());
        }
        Ok(Self(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
