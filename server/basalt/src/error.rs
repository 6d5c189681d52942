//! The one error table: every error a client can see is an [`ApiError`] with Parse's code,
//! message and HTTP status. Module errors convert into it here; internal causes are logged once
//! and never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Parse's error codes (the subset Basalt raises).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum Code {
    Other = -1,
    InternalServerError = 1,
    ObjectNotFound = 101,
    InvalidQuery = 102,
    InvalidClassName = 103,
    MissingObjectId = 104,
    InvalidKeyName = 105,
    InvalidPointer = 106,
    InvalidJson = 107,
    CommandUnavailable = 108,
    IncorrectType = 111,
    OperationForbidden = 119,
    InvalidNestedKey = 121,
    InvalidAcl = 123,
    InvalidEmailAddress = 125,
    InvalidRoleName = 139,
    ScriptFailed = 141,
    Timeout = 124,
    DuplicateValue = 137,
    InvalidSchemaOperation = 255,
    UsernameMissing = 200,
    PasswordMissing = 201,
    UsernameTaken = 202,
    EmailTaken = 203,
    EmailMissing = 204,
    EmailNotFound = 205,
    SessionMissing = 206,
    MustCreateUserThroughSignup = 207,
    AccountAlreadyLinked = 208,
    InvalidSessionToken = 209,
    UnsupportedService = 252,
    RequestLimitExceeded = 155,
}

/// An error as the client sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: i32,
    pub message: String,
    /// Non-Parse failures (bad application id, body too large) have their own status and body.
    pub kind: Kind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Parse,
    /// 403 `{"error":"unauthorized"}`: a missing or wrong application id or key.
    Unauthorized,
    /// 413: the request body is over the limit.
    TooLarge,
    /// 403 `{"error":"Permission denied"}`: a master-key-only route called without it.
    MasterRequired,
    /// 400 `{"error":"…"}`: a body that is not JSON (Parse's body parser answers without a code).
    BadBody,
    /// A statement named a table or column another request had just dropped: the caller may
    /// read the schema again and retry ([`ApiError::is_stale`]). Answered as an internal error
    /// when it is not retried.
    Stale,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code: code as i32,
            message: message.into(),
            kind: Kind::Parse,
        }
    }
    pub fn with_code(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            kind: Kind::Parse,
        }
    }
    pub fn not_found() -> Self {
        Self::new(Code::ObjectNotFound, "Object not found.")
    }
    pub fn unauthorized() -> Self {
        Self {
            code: 0,
            message: "unauthorized".into(),
            kind: Kind::Unauthorized,
        }
    }
    pub fn bad_body(message: impl Into<String>) -> Self {
        Self {
            code: 0,
            message: message.into(),
            kind: Kind::BadBody,
        }
    }
    pub fn master_required() -> Self {
        Self {
            code: 0,
            message: "Permission denied".into(),
            kind: Kind::MasterRequired,
        }
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(Code::OperationForbidden, message)
    }
    pub fn invalid_json(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidJson, message)
    }
    pub fn too_large(limit: usize) -> Self {
        Self {
            code: Code::RequestLimitExceeded as i32,
            message: format!("Request body is larger than {limit} bytes."),
            kind: Kind::TooLarge,
        }
    }
    /// An unexpected failure: logged here with its cause, sent as Parse's code 1 without it.
    /// See [`Kind::Stale`].
    pub fn is_stale(&self) -> bool {
        self.kind == Kind::Stale
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(Code::InternalServerError, "Internal server error.")
    }

    pub fn status(&self) -> StatusCode {
        match self.kind {
            Kind::Unauthorized | Kind::MasterRequired => StatusCode::FORBIDDEN,
            Kind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::BadBody => StatusCode::BAD_REQUEST,
            Kind::Stale => StatusCode::INTERNAL_SERVER_ERROR,
            Kind::Parse => match self.code {
                101 => StatusCode::NOT_FOUND,
                1 => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::BAD_REQUEST,
            },
        }
    }

    /// The JSON body Parse sends for this error.
    pub fn body(&self) -> serde_json::Value {
        match self.kind {
            Kind::Unauthorized => json!({ "error": "unauthorized" }),
            Kind::MasterRequired | Kind::BadBody => json!({ "error": self.message }),
            _ => json!({ "code": self.code, "error": self.message }),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.kind == Kind::Stale {
            tracing::error!(
                "a statement met a table or column dropped meanwhile, and its retries did too"
            );
        }
        (self.status(), axum::Json(self.body())).into_response()
    }
}

impl From<basalt_query::QueryError> for ApiError {
    fn from(e: basalt_query::QueryError) -> Self {
        Self::with_code(e.code, e.message)
    }
}

impl From<crate::storage::StorageError> for ApiError {
    fn from(e: crate::storage::StorageError) -> Self {
        use crate::storage::StorageError as S;
        match e {
            S::Duplicate => Self::new(
                Code::DuplicateValue,
                "A duplicate value for a field with unique values was provided",
            ),
            S::Timeout => Self::new(Code::Timeout, "The query took too long and was cancelled."),
            S::Invalid(message) => Self::new(Code::InvalidQuery, message),
            S::Database(cause) => Self::internal(cause),
            S::Refused(message) => Self::new(Code::OperationForbidden, message),
            // Logged only if it reaches the client: it is usually retried.
            S::Stale(cause) => {
                tracing::debug!(%cause, "statement met a changed schema");
                Self {
                    code: Code::InternalServerError as i32,
                    message: "Internal server error.".into(),
                    kind: Kind::Stale,
                }
            }
        }
    }
}
