//! Parse semantics, independent of HTTP: find, get, create, update, delete and batch.
//! Each entry point takes the caller's [`Auth`](crate::auth::Auth); the order of work is
//! schema → access → storage → (after commit) side effects.

pub mod aggregate;
pub mod batch;
pub mod codec;
pub mod config;
pub mod files;
pub mod find;
pub mod roles;
pub mod schemas;
pub mod sessions;
pub mod users;
pub mod write;

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult, Code};

/// System classes only the master key may touch at all.
const MASTER_ONLY_CLASSES: &[&str] = &[
    "_JobStatus",
    "_PushStatus",
    "_Hooks",
    "_GlobalConfig",
    "_JobSchedule",
    "_Idempotency",
];

/// Parse's guard on system classes, run before any read or write: `_Installation` cannot be
/// listed or deleted by clients, the job, push and config classes are the master key's alone,
/// and the read-only master key writes nothing. `method` is `find`, `get`, `create`, `update`
/// or `delete`.
pub fn guard_class(method: &str, class: &str, auth: &crate::auth::Auth) -> ApiResult<()> {
    let forbidden = |what: &str| {
        Err(ApiError::new(
            Code::OperationForbidden,
            format!(
                "Clients aren't allowed to perform the {method} operation on the {what} collection."
            ),
        ))
    };
    if !auth.reads_everything() {
        // Relation tables are changed only through their owner's relation field: writing one
        // directly would let anyone join any role.
        if class.starts_with("_Join:") {
            return Err(ApiError::forbidden("Permission denied"));
        }
        if class == "_Installation" && matches!(method, "find" | "delete") {
            return forbidden("installation");
        }
        if MASTER_ONLY_CLASSES.contains(&class) {
            return forbidden(class);
        }
    }
    if matches!(method, "create" | "update" | "delete") {
        auth.check_writable(method)?;
    }
    Ok(())
}

/// The query parameters the classes router accepts, as Parse lists them.
const QUERY_KEYS: &[&str] = &[
    "where",
    "limit",
    "skip",
    "order",
    "count",
    "keys",
    "excludeKeys",
    "include",
    "includeAll",
    "redirectClassNameForKey",
    "readPreference",
    "includeReadPreference",
    "subqueryReadPreference",
    "hint",
    "explain",
    "comment",
];

/// Reads a request's find parameters (from the query string or the SDK's JSON envelope).
pub fn check_query_keys(params: &Map<String, Value>) -> ApiResult<()> {
    for key in params.keys() {
        if !QUERY_KEYS.contains(&key.as_str()) {
            return Err(ApiError::new(
                Code::InvalidQuery,
                format!("Invalid parameter for query: {key}"),
            ));
        }
    }
    Ok(())
}

/// A parameter that may arrive as a JSON value or as a string holding JSON (`where=…`).
pub fn json_param(params: &Map<String, Value>, key: &str) -> ApiResult<Option<Value>> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => serde_json::from_str(s)
            .map(Some)
            .map_err(|_| ApiError::invalid_json(format!("{key} parameter is not valid JSON"))),
        Some(v) => Ok(Some(v.clone())),
    }
}

/// A non-negative integer parameter (`limit`, `skip`), as a number or numeric string.
pub fn uint_param(params: &Map<String, Value>, key: &str) -> ApiResult<Option<u64>> {
    let bad = || {
        ApiError::new(
            Code::InvalidQuery,
            format!("Invalid {key} value: must be a non-negative integer"),
        )
    };
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(bad),
        Some(Value::String(s)) => s.trim().parse::<u64>().map(Some).map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

/// A comma-separated list parameter (`keys`, `include`, `order`), as a string or an array.
pub fn list_param(params: &Map<String, Value>, key: &str) -> ApiResult<Option<Vec<String>>> {
    match params.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        )),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str().map(str::to_string).ok_or_else(|| {
                    ApiError::new(Code::InvalidQuery, format!("Invalid {key} value"))
                })
            })
            .collect::<ApiResult<Vec<_>>>()
            .map(Some),
        Some(_) => Err(ApiError::new(
            Code::InvalidQuery,
            format!("Invalid {key} value"),
        )),
    }
}

/// `count=1` in any of the forms clients send it.
pub fn flag_param(params: &Map<String, Value>, key: &str) -> bool {
    match params.get(key) {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        Some(Value::String(s)) => s == "1" || s == "true",
        _ => false,
    }
}
