//! Class-level permissions: which operations a caller may run on a class at all, checked
//! before any query, and the fields hidden from it (`protectedFields`).
//!
//! An operation's entry (`{"find": {"*": true, "<userId>": true, "role:Admins": true,
//! "requiresAuthentication": true, "pointerFields": ["owner"]}}`) lets a caller through when it
//! names `*`, the caller's id or one of its roles; else any logged-in user when it says
//! `requiresAuthentication`; else, through pointer permissions (`pointerFields`, or the class's
//! `readUserFields` / `writeUserFields`), only to objects whose pointer field is the caller —
//! a condition [`Access::Pointers`] carries into the query's SQL. The master keys pass.

use basalt_query::{ClassSchema, Filter};
use serde_json::{Value, json};

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult, Code};

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

    fn is_read(self) -> bool {
        matches!(self, Op::Find | Op::Get | Op::Count)
    }
}

/// What class-level permissions let a caller do.
#[derive(Debug, Clone, PartialEq)]
pub enum Access {
    /// The whole class (object ACLs still apply).
    All,
    /// Only objects whose pointer field (or array of pointers) among these is the caller.
    Pointers(Vec<String>),
}

impl Access {
    /// The condition this access adds to a query, if any.
    pub fn filter(&self, auth: &Auth) -> Option<Filter> {
        let Access::Pointers(fields) = self else {
            return None;
        };
        let me = json!({"__type": "Pointer", "className": "_User", "objectId": auth.user_id().unwrap_or_default()});
        let ors: Vec<Value> = fields
            .iter()
            .map(|f| json!({ f.clone(): me.clone() }))
            .collect();
        // Built from field names of the stored CLP and a pointer: always parses.
        Filter::parse(&json!({ "$or": ors })).ok()
    }
}

fn denied() -> ApiError {
    ApiError::forbidden("Permission denied")
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Decides `op` on the class for `auth`.
pub fn access(schema: &ClassSchema, op: Op, auth: &Auth) -> ApiResult<Access> {
    if auth.reads_everything() {
        return Ok(Access::All);
    }
    let clp = &schema.class_level_permissions;
    let Some(entry) = clp.get(op.key()) else {
        // An operation the CLP does not mention is open, as in Parse.
        return Ok(Access::All);
    };
    let perms = auth.perms().unwrap_or_default();
    if entry.get("*").and_then(Value::as_bool) == Some(true)
        || perms
            .iter()
            .any(|p| entry.get(p).and_then(Value::as_bool) == Some(true))
    {
        return Ok(Access::All);
    }
    if entry.get("requiresAuthentication").and_then(Value::as_bool) == Some(true) {
        return if auth.user().is_some() {
            Ok(Access::All)
        } else {
            Err(ApiError::new(Code::ObjectNotFound, "Permission denied"))
        };
    }
    if op == Op::Create {
        return Err(denied());
    }
    let mut fields = string_list(clp.get(if op.is_read() {
        "readUserFields"
    } else {
        "writeUserFields"
    }));
    fields.extend(string_list(entry.get("pointerFields")));
    fields.dedup();
    if fields.is_empty() {
        return Err(denied());
    }
    // Without a user the condition matches nothing: an empty find, a get of nothing (101).
    Ok(Access::Pointers(fields))
}

/// Whether `auth` may run `op` on the class (on some of its objects, for pointer permissions).
pub fn allows(schema: &ClassSchema, op: Op, auth: &Auth) -> bool {
    access(schema, op, auth).is_ok()
}

/// Refuses with Parse's 119 "Permission denied" (101 for `requiresAuthentication`) unless the
/// class is open to the caller; pointer permissions come back as a condition.
pub fn check(schema: &ClassSchema, op: Op, auth: &Auth) -> ApiResult<Access> {
    access(schema, op, auth)
}

/// What `protectedFields` hides from a caller: `base` from every object, narrowed per object
/// by `userField:<pointer>` entries that apply when the object's pointer (or array of
/// pointers) names the caller.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Protection {
    pub base: Vec<String>,
    pub by_pointer: Vec<(String, Vec<String>)>,
    user_id: Option<String>,
}

impl Protection {
    /// The fields to remove from one object.
    pub fn hidden_in(&self, obj: &serde_json::Map<String, Value>) -> Vec<String> {
        let Some(me) = &self.user_id else {
            return self.base.clone();
        };
        let points_at_me = |v: &Value| match v {
            Value::Array(items) => items
                .iter()
                .any(|i| i.get("objectId").and_then(Value::as_str) == Some(me.as_str())),
            other => other.get("objectId").and_then(Value::as_str) == Some(me.as_str()),
        };
        let mut hidden = self.base.clone();
        for (field, list) in &self.by_pointer {
            if obj.get(field).is_some_and(points_at_me) {
                hidden.retain(|f| list.contains(f));
            }
        }
        hidden
    }
}

/// [`protected_fields`] with the caller's `userField:` entries, applied object by object.
pub fn protection(schema: &ClassSchema, auth: &Auth) -> Protection {
    let base = protected_fields(schema, auth);
    let Some(user) = auth.user() else {
        return Protection {
            base,
            ..Protection::default()
        };
    };
    let by_pointer = schema
        .class_level_permissions
        .get("protectedFields")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("userField:")
                        .map(|f| (f.to_string(), string_list(Some(v))))
                })
                .collect()
        })
        .unwrap_or_default();
    Protection {
        base,
        by_pointer,
        user_id: Some(user.user_id.clone()),
    }
}

/// Fields hidden from `auth` by `protectedFields`: the intersection of the lists of every
/// entry that applies to it (`*`, `authenticated`, its id, its roles), as Parse computes it;
/// none for the master keys. `userField:` entries narrow this per object ([`protection`]).
pub fn protected_fields(schema: &ClassSchema, auth: &Auth) -> Vec<String> {
    if auth.reads_everything() {
        return Vec::new();
    }
    let empty = serde_json::Map::new();
    let map = schema
        .class_level_permissions
        .get("protectedFields")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut sets: Vec<Vec<String>> = Vec::new();
    let mut add = |key: &str| {
        let mut set: Option<Vec<String>> = map.get(key).and_then(Value::as_array).map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        });
        // Parse Server's default `protectedFields` option, merged into every `_User` CLP:
        // a user's email is hidden from everyone else.
        if schema.class_name == "_User" && key == "*" {
            set.get_or_insert_with(Vec::new).push("email".to_string());
        }
        sets.extend(set);
    };
    add("*");
    if let Some(u) = auth.user() {
        add("authenticated");
        for role in u.roles.iter() {
            add(role);
        }
        add(&u.user_id);
    }
    let Some((first, rest)) = sets.split_first() else {
        return Vec::new();
    };
    let mut out: Vec<String> = first
        .iter()
        .filter(|f| rest.iter().all(|s| s.contains(f)))
        .cloned()
        .collect();
    // `authData` holds login credentials (the anonymous id is one): never shown to, nor
    // matched by, anyone but the user itself and the master key, whatever the CLP says.
    if schema.class_name == "_User" {
        out.push("authData".to_string());
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::UserAuth;
    use std::sync::Arc;

    fn schema(clp: Value) -> ClassSchema {
        let mut s = ClassSchema::new("T");
        s.class_level_permissions = clp;
        s
    }

    fn user(id: &str, roles: &[&str]) -> Auth {
        Auth::User(Arc::new(UserAuth {
            user_id: id.into(),
            session_id: "s".into(),
            token: "r:x".into(),
            roles: roles.iter().map(|r| format!("role:{r}")).collect(),
        }))
    }

    #[test]
    fn entries_for_ids_and_roles() {
        let s = schema(json!({"find": {"u1": true, "role:Admins": true}}));
        assert_eq!(access(&s, Op::Find, &user("u1", &[])), Ok(Access::All));
        assert_eq!(
            access(&s, Op::Find, &user("u2", &["Admins"])),
            Ok(Access::All)
        );
        assert_eq!(
            access(&s, Op::Find, &user("u3", &["Other"]))
                .unwrap_err()
                .code,
            119
        );
        assert_eq!(access(&s, Op::Find, &Auth::Public).unwrap_err().code, 119);
        assert_eq!(access(&s, Op::Find, &Auth::ReadOnlyMaster), Ok(Access::All));
        // Not mentioned: open.
        assert_eq!(access(&s, Op::Get, &Auth::Public), Ok(Access::All));
    }

    #[test]
    fn requires_authentication() {
        let s = schema(json!({"get": {"requiresAuthentication": true}}));
        assert_eq!(access(&s, Op::Get, &user("u1", &[])), Ok(Access::All));
        assert_eq!(access(&s, Op::Get, &Auth::Public).unwrap_err().code, 101);
    }

    #[test]
    fn pointer_permissions() {
        let s = schema(
            json!({"find": {}, "create": {}, "readUserFields": ["owner"], "update": {"pointerFields": ["editors"]}}),
        );
        assert_eq!(
            access(&s, Op::Find, &user("u1", &[])),
            Ok(Access::Pointers(vec!["owner".into()]))
        );
        assert_eq!(
            access(&s, Op::Update, &user("u1", &[])),
            Ok(Access::Pointers(vec!["editors".into()]))
        );
        assert_eq!(
            access(&s, Op::Find, &Auth::Public),
            Ok(Access::Pointers(vec!["owner".into()]))
        );
        assert_eq!(
            access(&s, Op::Create, &user("u1", &[])).unwrap_err().code,
            119
        );
    }

    #[test]
    fn protected_fields_intersect() {
        let s = schema(
            json!({"protectedFields": {"*": ["a", "b", "c"], "role:R": ["a", "b"], "authenticated": ["a", "c"]}}),
        );
        assert_eq!(protected_fields(&s, &Auth::Public), vec!["a", "b", "c"]);
        assert_eq!(protected_fields(&s, &user("u", &[])), vec!["a", "c"]);
        assert_eq!(protected_fields(&s, &user("u", &["R"])), vec!["a"]);
        assert!(protected_fields(&s, &Auth::Master).is_empty());
    }
}
