//! The rules reads follow beyond ACLs and class-level permissions: what system classes add
//! (sessions are their owner's, a user's `authData` is its own, a session's token is its
//! holder's) and the refusal of queries that would probe protected fields.

use basalt_query::Filter;
use basalt_query::filter::{CmpOp, KeyPath};
use serde_json::Value;

use crate::auth::Auth;
use crate::clp;
use crate::error::{ApiError, ApiResult, Code};
use crate::state::AppState;

/// The rule a system class adds to every non-master read: a client reads only its own
/// sessions (and must be logged in to read any).
pub(super) fn system_class_condition(class: &str, auth: &Auth) -> ApiResult<Option<Filter>> {
    if class != "_Session" || auth.reads_everything() {
        return Ok(None);
    }
    let Some(user) = auth.user() else {
        return Err(ApiError::new(
            Code::InvalidSessionToken,
            "Permission denied",
        ));
    };
    Ok(Some(Filter::Cmp {
        key: KeyPath {
            field: "user".into(),
            path: vec![],
        },
        op: CmpOp::Eq,
        value: serde_json::json!({"__type": "Pointer", "className": "_User", "objectId": user.user_id}),
    }))
}

/// Sessions keep only a hash of their token: a condition `sessionToken = t` (or `$in`) is
/// answered by looking the hashes up and matching the sessions' objectIds instead.
pub(super) async fn by_token_hash(state: &AppState, filter: &Filter) -> ApiResult<Filter> {
    let id_key = || KeyPath {
        field: "objectId".into(),
        path: vec![],
    };
    let id_of = |token: &Value| {
        let token = token.as_str().map(str::to_string);
        async move {
            let Some(t) = token else {
                return Ok::<_, ApiError>(Value::from(""));
            };
            let hash = crate::auth::session::token_hash(&t);
            Ok(crate::auth::session::lookup(&state.storage, &hash)
                .await?
                .map_or(Value::from(""), |(id, _, _)| Value::from(id)))
        }
    };
    Ok(match filter {
        Filter::And(fs) => {
            let mut out = Vec::with_capacity(fs.len());
            for f in fs {
                out.push(Box::pin(by_token_hash(state, f)).await?);
            }
            Filter::And(out)
        }
        Filter::Cmp { key, op, value } if key.field == "sessionToken" && key.path.is_empty() => {
            Filter::Cmp {
                key: id_key(),
                op: *op,
                value: id_of(value).await?,
            }
        }
        Filter::In {
            key,
            values,
            negate,
        } if key.field == "sessionToken" && key.path.is_empty() => {
            let mut ids = Vec::with_capacity(values.len());
            for v in values {
                ids.push(id_of(v).await?);
            }
            Filter::In {
                key: id_key(),
                values: ids,
                negate: *negate,
            }
        }
        other => other.clone(),
    })
}

/// A session shows no ACL (Parse keeps none on sessions), and its token only to the client
/// holding it: Basalt keeps no other copy.
pub(super) fn session_view(obj: &mut Value, auth: &Auth) {
    let Some(o) = obj.as_object_mut() else { return };
    o.remove("ACL");
    if let Some(u) = auth.user()
        && o.get("objectId").and_then(Value::as_str) == Some(u.session_id.as_str())
    {
        o.insert("sessionToken".into(), Value::from(u.token.clone()));
    }
}

/// A user's `authData`, and the fields in `protected`, are shown only to itself and the master
/// key.
pub(super) fn user_privacy(obj: &mut Value, auth: &Auth, protected: &[String]) {
    if auth.reads_everything() {
        return;
    }
    let own = obj.get("objectId").and_then(Value::as_str) == auth.user_id();
    if !own && let Some(o) = obj.as_object_mut() {
        o.remove("authData");
        for f in protected {
            o.remove(f);
        }
    }
}

/// Parse refuses (119) a query that constrains a field hidden from the caller, here or in a
/// sub-query on another class: matching on it would reveal it one guess at a time.
pub(super) fn refuse_protected(
    state: &AppState,
    auth: &Auth,
    protected: &[String],
    filter: &Filter,
) -> ApiResult<()> {
    if filter
        .fields()
        .iter()
        .any(|f| protected.iter().any(|p| p == f))
    {
        return Err(ApiError::forbidden("Permission denied"));
    }
    let mut refs = Vec::new();
    other_classes(filter, &mut refs);
    for r in refs {
        let Some(inner) = state.schemas.get(r.class) else {
            continue;
        };
        let inner_protected = clp::protected_fields(&inner, auth);
        // `$select`'s key and `$relatedTo`'s relation read a field of the other class too.
        if let Some(key) = r.key {
            let head = key.split('.').next().unwrap_or(key);
            if inner_protected.iter().any(|p| p == head) {
                return Err(ApiError::forbidden("Permission denied"));
            }
        }
        if let Some(sub) = r.filter {
            refuse_protected(state, auth, &inner_protected, sub)?;
        }
    }
    Ok(())
}

/// A class a filter reads besides its own: a sub-query's `where`, the key `$select` takes from
/// it, the relation `$relatedTo` follows.
struct OtherClass<'a> {
    class: &'a str,
    filter: Option<&'a Filter>,
    key: Option<&'a str>,
}

fn other_classes<'a>(filter: &'a Filter, out: &mut Vec<OtherClass<'a>>) {
    match filter {
        Filter::And(fs) | Filter::Or(fs) | Filter::Nor(fs) => {
            fs.iter().for_each(|f| other_classes(f, out));
        }
        Filter::InQuery { query, .. } => out.push(OtherClass {
            class: &query.class_name,
            filter: Some(&query.filter),
            key: None,
        }),
        Filter::Select { query, sub_key, .. } => out.push(OtherClass {
            class: &query.class_name,
            filter: Some(&query.filter),
            key: Some(sub_key),
        }),
        Filter::RelatedTo {
            owner_class, key, ..
        } => out.push(OtherClass {
            class: owner_class,
            filter: None,
            key: Some(key),
        }),
        _ => {}
    }
}
