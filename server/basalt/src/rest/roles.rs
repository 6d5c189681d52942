//! `_Role`: a role's name is its identity in ACLs (`role:<name>`), so it must be a plain name,
//! unique, set at creation and never changed; a role needs an ACL. Membership (`users`,
//! `roles`) changes through the role object, so only a caller who may write the role changes
//! who is in it, and the `_Join` tables are never reachable as classes.

use serde_json::Value;

use crate::error::{ApiError, ApiResult, Code};

/// Letters, digits, `_`, `-` and spaces, as the Parse SDKs require.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ' '))
}

pub fn check_create(body: &Value) -> ApiResult<()> {
    match body.get("name") {
        None | Some(Value::Null) => Err(ApiError::new(Code::IncorrectType, "name is required.")),
        Some(Value::String(name)) if name.is_empty() => {
            Err(ApiError::new(Code::IncorrectType, "name is required."))
        }
        Some(Value::String(name)) if !valid_name(name) => Err(ApiError::new(
            Code::InvalidRoleName,
            "A role's name can only contain alphanumeric characters, _, -, and spaces.",
        )),
        // A name that is not a string fails the schema's type check (111) like any field.
        _ => {
            if body.get("ACL").is_none_or(Value::is_null) {
                return Err(ApiError::new(Code::IncorrectType, "ACL is required."));
            }
            Ok(())
        }
    }
}

pub fn check_update(body: &Value) -> ApiResult<()> {
    if body.get("name").is_some() {
        return Err(ApiError::new(
            Code::InvalidRoleName,
            "A role's name can only be set before it has been saved.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names() {
        assert!(valid_name("Admins"));
        assert!(valid_name("team-1 editors_x"));
        for bad in ["", "a:b", "role*", "é", "a\u{0}b"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
        assert!(check_create(&json!({"name": "A", "ACL": {}})).is_ok());
        assert_eq!(check_create(&json!({"name": "A"})).unwrap_err().code, 111);
        assert_eq!(
            check_create(&json!({"name": "a:b", "ACL": {}}))
                .unwrap_err()
                .code,
            139
        );
        assert_eq!(check_update(&json!({"name": "B"})).unwrap_err().code, 139);
    }
}
