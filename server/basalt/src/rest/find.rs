//! Reads: find, get and count, with the caller's read ACL inside the SQL, then `include`.
//!
//! `include` fetches each level's pointers with one query per target class (never one per
//! object), through the same ACL filter: an included object the caller cannot read (or that no
//! longer exists) is left out, and the field with it, as Parse does.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use basalt_query::filter::{CmpOp, KeyPath};
use basalt_query::{Bind, ClassSchema, Compiler, Filter, Sql};
use serde_json::{Map, Value};

use super::codec::Projection;
use super::{check_query_keys, flag_param, json_param, list_param, uint_param};
use crate::auth::Auth;
use crate::clp;
use crate::error::{ApiError, ApiResult, Code};
use crate::ids::{ClassName, ObjectId};
use crate::state::AppState;
use crate::storage::{Cell, Col};

/// Default `limit` when a find gives none, as Parse.
const DEFAULT_LIMIT: u64 = 100;
/// Most `include` paths, and deepest path, in one query.
const MAX_INCLUDES: usize = 32;
const MAX_INCLUDE_DEPTH: usize = 5;

#[derive(Debug, Clone)]
pub struct FindOptions {
    pub filter: Filter,
    pub order: Option<String>,
    pub limit: u64,
    pub skip: u64,
    pub keys: Option<Vec<String>>,
    pub exclude_keys: Vec<String>,
    pub include: Vec<Vec<String>>,
    pub count: bool,
    /// A get by id (checked against the `get` permission rather than `find`).
    pub by_id: bool,
}

impl FindOptions {
    pub fn from_params(params: &Map<String, Value>, max_limit: u64) -> ApiResult<Self> {
        check_query_keys(params)?;
        let filter = match json_param(params, "where")? {
            Some(w) => Filter::parse(&w)?,
            None => Filter::All,
        };
        // Over the maximum is clamped, as Parse Server's `maxLimit` does (ClassesRouter), so an
        // app that asks for limit=10000 keeps working and the cost stays bounded.
        let limit = uint_param(params, "limit")?
            .unwrap_or(DEFAULT_LIMIT)
            .min(max_limit);
        let include: Vec<Vec<String>> = list_param(params, "include")?
            .unwrap_or_default()
            .iter()
            .map(|p| p.split('.').map(str::to_string).collect())
            .collect();
        if include.len() > MAX_INCLUDES || include.iter().any(|p| p.len() > MAX_INCLUDE_DEPTH) {
            return Err(ApiError::new(
                Code::InvalidQuery,
                "too many or too deep include paths",
            ));
        }
        Ok(Self {
            filter,
            order: list_param(params, "order")?.map(|o| o.join(",")),
            limit,
            skip: uint_param(params, "skip")?.unwrap_or(0),
            keys: list_param(params, "keys")?,
            exclude_keys: list_param(params, "excludeKeys")?.unwrap_or_default(),
            include,
            count: flag_param(params, "count"),
            by_id: false,
        })
    }

    /// A get by id.
    pub fn by_id(id: &ObjectId, params: &Map<String, Value>) -> ApiResult<Self> {
        let mut opts = Self::from_params(params, u64::MAX)?;
        opts.filter = id_filter(id.as_str());
        opts.limit = 1;
        opts.skip = 0;
        opts.count = false;
        opts.by_id = true;
        Ok(opts)
    }
}

fn id_filter(id: &str) -> Filter {
    Filter::Cmp {
        key: KeyPath {
            field: "objectId".into(),
            path: vec![],
        },
        op: CmpOp::Eq,
        value: Value::String(id.to_string()),
    }
}

pub struct FindResult {
    pub results: Vec<Value>,
    pub count: Option<i64>,
}

/// The schema of a class a caller reads. A class that does not exist reads as empty for the
/// master key; for others it is refused unless clients may create classes (Parse 9).
fn readable_schema(
    state: &AppState,
    auth: &Auth,
    class: &ClassName,
) -> ApiResult<Option<Arc<ClassSchema>>> {
    match state.schemas.get(class.as_str()) {
        Some(s) => Ok(Some(s)),
        None if auth.reads_everything() || state.config.allow_client_class_creation => Ok(None),
        None => Err(ApiError::forbidden("Permission denied")),
    }
}

pub async fn find(
    state: &AppState,
    auth: &Auth,
    class: &ClassName,
    opts: &FindOptions,
) -> ApiResult<FindResult> {
    let Some(schema) = readable_schema(state, auth, class)? else {
        return Ok(FindResult {
            results: vec![],
            count: opts.count.then_some(0),
        });
    };
    let mut conditions = Vec::new();
    if opts.count {
        conditions.extend(clp::check(&schema, clp::Op::Count, auth)?.filter(auth));
    }
    if opts.limit > 0 || !opts.count {
        let op = if opts.by_id {
            clp::Op::Get
        } else {
            clp::Op::Find
        };
        conditions.extend(clp::check(&schema, op, auth)?.filter(auth));
    }
    conditions.extend(system_class_condition(class.as_str(), auth)?);
    let filter_with;
    let filter = if conditions.is_empty() {
        &opts.filter
    } else {
        conditions.insert(0, opts.filter.clone());
        filter_with = Filter::And(conditions);
        &filter_with
    };
    let protected = clp::protected_fields(&schema, auth);
    refuse_protected(state, auth, &protected, &opts.filter)?;
    if let Some(order) = &opts.order {
        let sorts_protected = order
            .split(',')
            .map(|k| k.trim().trim_start_matches('-'))
            .any(|k| {
                protected
                    .iter()
                    .any(|p| p == k.split('.').next().unwrap_or(k))
            });
        if sorts_protected {
            return Err(ApiError::forbidden("Permission denied"));
        }
    }
    // A user sees all of itself: its own row keeps the fields hidden from others, which are
    // then removed row by row instead of left out of the SQL.
    let per_row = class.as_str() == "_User" && auth.user().is_some();
    let mut hidden = if per_row {
        Vec::new()
    } else {
        protected.clone()
    };
    hidden.extend(opts.exclude_keys.iter().cloned());
    let perms = auth.perms();
    let compiler = Compiler {
        dialect: state.storage.dialect(),
        schemas: &state.schemas,
        perms: perms.as_deref(),
    };
    let results = if opts.limit == 0 {
        vec![]
    } else {
        let (top_keys, nested_keys) = split_keys(opts.keys.as_deref());
        let projection =
            Projection::new(&state.files_base(), &schema, top_keys.as_deref(), &hidden);
        let mut sql = Sql::new(compiler.dialect);
        sql.push("SELECT ");
        projection.select_list(&mut sql, "t0");
        sql.push(" FROM ").ident(class.as_str()).push(" t0 WHERE ");
        compiler.where_clause(&schema, filter, 0, &mut sql)?;
        compiler.order_by(&schema, opts.order.as_deref(), opts.filter.near(), &mut sql)?;
        sql.push(" LIMIT ");
        sql.bind(Bind::Int(i64::try_from(opts.limit).unwrap_or(i64::MAX)));
        sql.push(" OFFSET ");
        sql.bind(Bind::Int(i64::try_from(opts.skip).unwrap_or(i64::MAX)));
        let rows = state.storage.fetch(&sql, &projection.cols()).await?;
        let mut objects: Vec<Value> = rows
            .into_iter()
            .map(|r| Value::Object(projection.object(r, true)))
            .collect();
        if class.as_str() == "_User" {
            let strip = if per_row { protected.as_slice() } else { &[] };
            objects
                .iter_mut()
                .for_each(|o| user_privacy(o, auth, strip));
        }
        include(
            state,
            auth,
            &compiler,
            &mut objects,
            &opts.include,
            &nested_keys,
        )
        .await?;
        objects
    };
    let count = if opts.count {
        let mut sql = Sql::new(compiler.dialect);
        sql.push("SELECT COUNT(*) FROM ")
            .ident(class.as_str())
            .push(" t0 WHERE ");
        compiler.where_clause(&schema, filter, 0, &mut sql)?;
        match state
            .storage
            .fetch(&sql, &[Col::Int])
            .await?
            .first()
            .and_then(|r| r.first())
        {
            Some(Cell::Int(n)) => Some(*n),
            _ => Some(0),
        }
    } else {
        None
    };
    Ok(FindResult { results, count })
}

/// The rule a system class adds to every non-master read: a client reads only its own
/// sessions (and must be logged in to read any).
fn system_class_condition(class: &str, auth: &Auth) -> ApiResult<Option<Filter>> {
    if class != "_Session" || auth.reads_everything() {
        return Ok(None);
    }
    let Some(user) = auth.user() else {
        return Err(crate::auth::session::invalid_token());
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

/// A user's `authData`, and the fields in `protected`, are shown only to itself and the master
/// key.
fn user_privacy(obj: &mut Value, auth: &Auth, protected: &[String]) {
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
fn refuse_protected(
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
    let mut subs = Vec::new();
    sub_queries(filter, &mut subs);
    for sub in subs {
        if let Some(inner) = state.schemas.get(&sub.class_name) {
            let inner_protected = clp::protected_fields(&inner, auth);
            refuse_protected(state, auth, &inner_protected, &sub.filter)?;
        }
    }
    Ok(())
}

fn sub_queries<'a>(filter: &'a Filter, out: &mut Vec<&'a basalt_query::filter::SubQuery>) {
    match filter {
        Filter::And(fs) | Filter::Or(fs) | Filter::Nor(fs) => {
            fs.iter().for_each(|f| sub_queries(f, out));
        }
        Filter::InQuery { query, .. } | Filter::Select { query, .. } => out.push(query),
        _ => {}
    }
}

/// Reads one object; a missing or unreadable one is 101.
pub async fn get(
    state: &AppState,
    auth: &Auth,
    class: &ClassName,
    id: &ObjectId,
    params: &Map<String, Value>,
) -> ApiResult<Value> {
    let opts = FindOptions::by_id(id, params)?;
    find(state, auth, class, &opts)
        .await?
        .results
        .into_iter()
        .next()
        .ok_or_else(ApiError::not_found)
}

/// `keys=a,b.c` → top-level keys `[a, b]` and, per included field, the keys to keep in it.
fn split_keys(keys: Option<&[String]>) -> (Option<Vec<String>>, HashMap<String, Vec<String>>) {
    let Some(keys) = keys else {
        return (None, HashMap::new());
    };
    let mut top = Vec::new();
    let mut nested: HashMap<String, Vec<String>> = HashMap::new();
    for k in keys {
        match k.split_once('.') {
            Some((head, rest)) => {
                top.push(head.to_string());
                nested
                    .entry(head.to_string())
                    .or_default()
                    .push(rest.to_string());
            }
            None => top.push(k.clone()),
        }
    }
    (Some(top), nested)
}

/// Replaces pointers at each include path with the objects they point to. Paths are expanded to
/// all their prefixes (`a.b` includes `a`) and resolved shortest first.
async fn include(
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
            let Ok(access) = clp::check(&target, clp::Op::Get, auth) else {
                continue;
            };
            let Ok(extra) = system_class_condition(&class, auth) else {
                continue;
            };
            let conditions: Vec<Filter> = access.filter(auth).into_iter().chain(extra).collect();
            let projection = Projection::new(
                &state.files_base(),
                &target,
                keys.as_deref(),
                &clp::protected_fields(&target, auth),
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
