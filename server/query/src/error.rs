//! Query errors carry Parse's error code; the server maps them into its one error table.

/// Parse error codes the query layer can raise.
pub mod code {
    pub const INVALID_QUERY: i32 = 102;
    pub const INVALID_CLASS_NAME: i32 = 103;
    pub const INVALID_KEY_NAME: i32 = 105;
    pub const INVALID_JSON: i32 = 107;
    pub const INCORRECT_TYPE: i32 = 111;
    pub const INVALID_NESTED_KEY: i32 = 121;
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} (code {code})")]
pub struct QueryError {
    pub code: i32,
    pub message: String,
}

impl QueryError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
    pub fn invalid_query(message: impl Into<String>) -> Self {
        Self::new(code::INVALID_QUERY, message)
    }
    pub fn invalid_json(message: impl Into<String>) -> Self {
        Self::new(code::INVALID_JSON, message)
    }
    pub fn invalid_key(key: &str) -> Self {
        Self::new(code::INVALID_KEY_NAME, format!("Invalid key name: {key}"))
    }
}

pub type Result<T, E = QueryError> = std::result::Result<T, E>;
