//! `include`: each level's pointers are fetched with one query per target class (never one
//! per object), through the same ACL filter and class-level permissions; an included object the
//! caller cannot read (or that no longer exists) is left out, and the field with it.

use std::collections::{BTreeMap, HashMap};

use basalt_query::filter::KeyPath;
use basalt_query::{Compiler, Filter, Sql};
use serde_json::{Map, Value};

use super::super::codec::Projection;
use super::rules::{system_class_condition, user_privacy};
use crate::auth::Auth;
use crate::clp;
use crate::error::ApiResult;
use crate::state::AppState;

/// Replaces pointers at each include path with the objects they point to. Paths are expanded to
/// all their prefixes (`a.b` includes `a`) and resolved shortest first.
pub(super) async fn include(
    state: &AppState,
    auth: &Auth,
    compiler: &Compiler<'_>,
    objects: &mut [Value],
    paths: &[Vec<String>],
    nested_keys: &HashMap<String, Vec<String>>,
) -> ApiResult<()> {
    let mut all: Vec<Vec<String>> = Vec::new();
    for p in paths {
        for n in 1..=p.len() {
            let prefix = p[..n].to_vec();
            if !all.contains(&prefix) {
                all.push(prefix);
            }
        }
    }
    all.sort_by_key(Vec::len);
    for path in &all {
        // Pointers at this path, by class.
        let mut wanted: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for obj in objects.iter_mut() {
            visit(obj, path, &mut |v| {
                if let Some((class, id)) = basalt_query::value::as_pointer(v) {
                    wanted
                        .entry(class.to_string())
                        .or_default()
                        .push(id.to_string());
                }
            });
        }
        let mut found: HashMap<(String, String), Value> = HashMap::new();
        let keys = nested_keys
            .get(&path[0])
            .filter(|_| path.len() == 1)
            .cloned();
        for (class, mut ids) in wanted {
            ids.sort();
            ids.dedup();
            let Some(target) = state.schemas.get(&class) else {
                continue;
            };
            // A class the caller may not get fails the whole query, as in Parse.
            let access = clp::check(&target, clp::Op::Get, auth)?;
            let Ok(extra) = system_class_condition(&class, auth) else {
                continue;
            };
            let conditions: Vec<Filter> = access.filter(auth).into_iter().chain(extra).collect();
            let protection = clp::protection(&target, auth);
            // With `userField:` entries (or a user including users) fields are removed per
            // object; the pointer fields they depend on are always read.
            let per_row =
                !protection.by_pointer.is_empty() || (class == "_User" && auth.user().is_some());
            let mut keys = keys.clone();
            let mut helper_keys = Vec::new();
            if let Some(k) = keys.as_mut() {
                for (field, _) in &protection.by_pointer {
                    if !k.contains(field) {
                        k.push(field.clone());
                        helper_keys.push(field.clone());
                    }
                }
            }
            let projection = Projection::new(
                &state.files_base(),
                &target,
                keys.as_deref(),
                if per_row { &[] } else { &protection.base },
            );
            for chunk in ids.chunks(500) {
                let by_id = Filter::In {
                    key: KeyPath {
                        field: "objectId".into(),
                        path: vec![],
                    },
                    values: chunk.iter().map(|i| Value::String(i.clone())).collect(),
                    negate: false,
                };
                let filter = if conditions.is_empty() {
                    by_id
                } else {
                    let mut all = vec![by_id];
                    all.extend(conditions.iter().cloned());
                    Filter::And(all)
                };
                let mut sql = Sql::new(compiler.dialect);
                sql.push("SELECT ");
                projection.select_list(&mut sql, "t0");
                sql.push(" FROM ").ident(&class).push(" t0 WHERE ");
                compiler.where_clause(&target, &filter, 0, &mut sql)?;
                for row in state.storage.fetch(&sql, &projection.cols()).await? {
                    let mut obj = projection.object(row, true);
                    if per_row {
                        let own = class == "_User"
                            && obj.get("objectId").and_then(Value::as_str) == auth.user_id();
                        let hidden = if own {
                            Vec::new()
                        } else {
                            protection.hidden_in(&obj)
                        };
                        for f in hidden.iter().chain(&helper_keys) {
                            obj.remove(f);
                        }
                    }
                    let id = obj
                        .get("objectId")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    if class == "_User" {
                        let mut v = Value::Object(obj);
                        user_privacy(&mut v, auth, &[]);
                        obj = match v {
                            Value::Object(o) => o,
                            _ => Map::new(),
                        };
                    }
                    obj.insert("__type".into(), Value::from("Object"));
                    obj.insert("className".into(), Value::from(class.clone()));
                    found.insert((class.clone(), id), Value::Object(obj));
                }
            }
        }
        for obj in objects.iter_mut() {
            replace(obj, path, &found);
        }
    }
    Ok(())
}

/// Calls `f` on every value at `path` (descending through arrays).
fn visit(v: &mut Value, path: &[String], f: &mut dyn FnMut(&mut Value)) {
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| visit(i, path, f)),
        Value::Object(o) => match path.split_first() {
            None => f(v),
            Some((head, rest)) => {
                if let Some(child) = o.get_mut(head) {
                    if rest.is_empty() {
                        match child {
                            Value::Array(items) => items.iter_mut().for_each(&mut *f),
                            other => f(other),
                        }
                    } else {
                        visit(child, rest, f);
                    }
                }
            }
        },
        _ => {}
    }
}

/// Swaps pointers at `path` for the fetched objects; a pointer to nothing readable is removed
/// (a single field disappears; in an array, the element does).
fn replace(v: &mut Value, path: &[String], found: &HashMap<(String, String), Value>) {
    let lookup = |p: &Value| {
        basalt_query::value::as_pointer(p)
            .map(|(c, i)| found.get(&(c.to_string(), i.to_string())).cloned())
    };
    match v {
        Value::Array(items) => items.iter_mut().for_each(|i| replace(i, path, found)),
        Value::Object(o) => {
            let Some((head, rest)) = path.split_first() else {
                return;
            };
            if !rest.is_empty() {
                if let Some(child) = o.get_mut(head) {
                    replace(child, rest, found);
                }
                return;
            }
            let Some(child) = o.get_mut(head) else { return };
            match child {
                Value::Array(items) => {
                    let old = std::mem::take(items);
                    *items = old
                        .into_iter()
                        .filter_map(|item| match lookup(&item) {
                            Some(Some(obj)) => Some(obj),
                            Some(None) => None,
                            None => Some(item),
                        })
                        .collect();
                }
                other => match lookup(other) {
                    Some(Some(obj)) => *other = obj,
                    Some(None) => {
                        o.remove(head);
                    }
                    None => {}
                },
            }
        }
        _ => {}
    }
}
