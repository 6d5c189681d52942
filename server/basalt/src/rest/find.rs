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
    /// The `where` was exactly `{"objectId": "<string>"}`: Parse checks such a find as a get.
    pub single_id: bool,
}

impl FindOptions {
    pub fn from_params(params: &Map<String, Value>, max_limit: u64) -> ApiResult<Self> {
        check_query_keys(params)?;
        let where_ = json_param(params, "where")?;
        let single_id = where_
            .as_ref()
            .and_then(Value::as_object)
            .is_some_and(|w| w.len() == 1 && w.get("objectId").is_some_and(Value::is_string));
        let filter = match where_ {
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
            single_id,
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
    super::guard_class(
        if opts.by_id { "get" } else { "find" },
        class.as_str(),
        auth,
    )?;
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
    let token_filter;
    let opts = if class.as_str() == "_Session" && opts.filter.fields().contains(&"sessionToken") {
        token_filter = FindOptions {
            filter: by_token_hash(state, &opts.filter).await?,
            ..opts.clone()
        };
        &token_filter
    } else {
        opts
    };
    if opts.filter.fields().contains(&"ACL") {
        return Err(ApiError::new(Code::InvalidQuery, "Cannot query on ACL."));
    }
    if opts.limit > 0 || !opts.count {
        // A find whose whole `where` is one objectId is a get, for class-level permissions.
        let op = if opts.by_id || opts.single_id {
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
    let protection = clp::protection(&schema, auth);
    let protected = protection.base.clone();
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
    // A user sees all of itself, and `userField:` entries show more to the user an object
    // points at: then the fields are selected and removed row by row instead of left out of
    // the SQL.
    let user_rows = class.as_str() == "_User" && auth.user().is_some();
    let per_row = user_rows || !protection.by_pointer.is_empty();
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
        let (mut top_keys, nested_keys) = split_keys(opts.keys.as_deref());
        // The pointer fields that decide `userField:` entries are read even when `keys`
        // leaves them out, and dropped again below.
        let mut helper_keys = Vec::new();
        if let Some(keys) = top_keys.as_mut() {
            for (field, _) in &protection.by_pointer {
                if !keys.contains(field) {
                    keys.push(field.clone());
                    helper_keys.push(field.clone());
                }
            }
        }
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
        if per_row && !user_rows {
            for o in objects.iter_mut().filter_map(Value::as_object_mut) {
                for f in protection.hidden_in(o).iter().chain(&helper_keys) {
                    o.remove(f);
                }
            }
        }
        match class.as_str() {
            "_User" => {
                let strip = if user_rows { protected.as_slice() } else { &[] };
                objects
                    .iter_mut()
                    .for_each(|o| user_privacy(o, auth, strip));
                // A user reading itself by id gets the token it asked with, as from /users/me.
                if let (true, Some(u)) = (opts.by_id, auth.user()) {
                    for o in &mut objects {
                        if o.get("objectId").and_then(Value::as_str) == Some(u.user_id.as_str()) {
                            o["sessionToken"] = Value::from(u.token.clone());
                        }
                    }
                }
            }
            "_Session" => objects.iter_mut().for_each(|o| session_view(o, auth)),
            _ => {}
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
async fn by_token_hash(state: &AppState, filter: &Filter) -> ApiResult<Filter> {
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
fn session_view(obj: &mut Value, auth: &Auth) {
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
