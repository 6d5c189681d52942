//! Class-level permissions: which operations a caller may run on a class at all, checked
//! before any query, and the fields hidden from it (`protectedFields`).
//!
//! Per-user, role and pointer permissions come with users (issue 3); here a caller is either
//! the master key (allowed everything) or the public (`*`).

use basalt_query::ClassSchema;
use serde_json::Value;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};

/// An operation class-level permissions govern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Find,
    Get,
    Count,
    Create,
    Update,
    Delete,
    AddField,
}

impl Op {
    fn key(self) -> &'static str {
        match self {
            Op::Find => "find",
            Op::Get => "get",
            Op::Count => "count",
            Op::Create => "create",
            Op::Update => "update",
            Op::Delete => "delete",
            Op::AddField => "addField",
        }
    }
}

/// Whether `auth` may run `op` on the class.
pub fn allows(schema: &ClassSchema, op: Op, auth: &Auth) -> bool {
    if auth.is_master() {
        return true;
    }
    let Some(entry) = schema.class_level_permissions.get(op.key()) else {
        // An operation the CLP does not mention is open, as in Parse.
        return true;
    };
    let Some(perms) = auth.perms() else {
        return true;
    };
    if entry.get("requiresAuthentication").and_then(Value::as_bool) == Some(true) {
        return false;
    }
    perms
        .iter()
        .any(|p| entry.get(p).and_then(Value::as_bool) == Some(true))
}

/// Refuses with Parse's sanitized 119 "Permission denied" unless [`allows`].
pub fn check(schema: &ClassSchema, op: Op, auth: &Auth) -> ApiResult<()> {
    if allows(schema, op, auth) {
        Ok(())
    } else {
        Err(ApiError::forbidden("Permission denied"))
    }
}

/// Fields hidden from `auth` by `protectedFields` (none for the master key).
pub fn protected_fields(schema: &ClassSchema, auth: &Auth) -> Vec<String> {
    let Some(perms) = auth.perms() else {
        return Vec::new();
    };
    let Some(map) = schema
        .class_level_permissions
        .get("protectedFields")
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for p in &perms {
        if let Some(fields) = map.get(p).and_then(Value::as_array) {
            out.extend(fields.iter().filter_map(Value::as_str).map(str::to_string));
        }
    }
    out.sort();
    out.dedup();
    out
}
