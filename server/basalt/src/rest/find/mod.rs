//! Reads: find, get and count, with the caller's read ACL and class-level permissions inside
//! the SQL, the rules of [`rules`], then [`include`].

mod include;
mod rules;

use std::collections::HashMap;
use std::sync::Arc;

use basalt_query::filter::{CmpOp, KeyPath};
use basalt_query::value::as_pointer;
use basalt_query::{ClassSchema, Compiler, FieldType, Filter, KeyedAcl, Sql};
use serde_json::{Map, Value};

use super::codec::Projection;
use super::{check_query_keys, flag_param, json_param, list_param, uint_param};
use crate::auth::Auth;
use crate::clp;
use crate::error::{ApiError, ApiResult, Code};
use crate::ids::{ClassName, ObjectId};
use crate::schema::Schemas;
use crate::state::AppState;
use crate::storage::{Cell, Col};
use include::include;
use rules::{by_token_hash, refuse_protected, session_view, system_class_condition, user_privacy};

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
    /// The caller sends the rows straight to the client: they may come back as JSON text in
    /// [`FindResult::rendered`] instead of `Value`s.
    pub render: bool,
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
            render: false,
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
    /// With [`FindOptions::render`], when nothing needed the rows as `Value`s: the JSON array
    /// of the objects, and how many there are (`results` is then empty).
    pub rendered: Option<(Vec<u8>, usize)>,
}

impl FindResult {
    pub fn values(results: Vec<Value>, count: Option<i64>) -> Self {
        Self {
            results,
            count,
            rendered: None,
        }
    }

    pub fn is_empty(&self) -> bool {
        match &self.rendered {
            Some((_, n)) => *n == 0,
            None => self.results.is_empty(),
        }
    }
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
    let mut retries = 0;
    loop {
        match find_once(state, auth, class, opts).await {
            // A field or class was deleted while the query was built from the cached schema:
            // read the schema again and ask again (a read changes nothing, so it may).
            Err(e) if e.is_stale() => state.schemas.again(&state.storage, &mut retries, e).await?,
            r => return r,
        }
    }
}

async fn find_once(
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
        return Ok(FindResult::values(vec![], opts.count.then_some(0)));
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
    // A user's query (not a get by id) is planned for its values: which index is best depends
    // on how many objects the user's ACL entries match (measured in bench/: the generic plan
    // intersects the ACL index with a whole btree range; the custom one reads the user's rows
    // from the ACL-aware twin index).
    let custom_plan = !opts.by_id && compiler.perms.is_some_and(|p| p.len() > 1);
    // Such a query with `field = value` may test its ACL on the field's key column instead.
    let keyed = match compiler.perms {
        Some(perms) if custom_plan => keyed_acl(state, class, &schema, filter, perms),
        _ => None,
    };
    let (filter, keyed, custom_plan) = match &keyed {
        // Its plan does not depend on the values (see `where_clause_keyed`).
        Some((k, rest)) => (rest, Some(k), false),
        None => (filter, None, custom_plan),
    };
    let mut rendered = None;
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
        compiler.where_clause_keyed(&schema, filter, 0, keyed, &mut sql)?;
        compiler.order_by(&schema, opts.order.as_deref(), opts.filter.near(), &mut sql)?;
        sql.limit(Some(opts.limit), opts.skip);
        sql.custom_plan = custom_plan;
        // Nothing below would change these rows: write them as text as they are read.
        let plain =
            !per_row && opts.include.is_empty() && !matches!(class.as_str(), "_User" | "_Session");
        if opts.render && plain {
            rendered = Some(render_rows(state, &projection, &sql, opts.limit).await?);
            vec![]
        } else {
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
                            if o.get("objectId").and_then(Value::as_str) == Some(u.user_id.as_str())
                            {
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
        }
    };
    let count = if opts.count {
        let mut sql = Sql::new(compiler.dialect);
        sql.push("SELECT COUNT(*) FROM ")
            .ident(class.as_str())
            .push(" t0 WHERE ");
        compiler.where_clause_keyed(&schema, filter, 0, keyed, &mut sql)?;
        sql.custom_plan = custom_plan;
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
    Ok(FindResult {
        results,
        count,
        rendered,
    })
}

/// For a user's query: a `field = value` among the conditions it must all meet, on a field
/// whose ACL key column serves this value better than the plain ACL test (see storage's
/// `acl_keys`): the key test, and the filter without that equality (the key test implies it).
fn keyed_acl(
    state: &AppState,
    class: &ClassName,
    schema: &ClassSchema,
    filter: &Filter,
    perms: &[String],
) -> Option<(KeyedAcl, Filter)> {
    let wanted = |k: &KeyedAcl| {
        if !k.usable(perms) {
            return false;
        }
        let use_keys = state
            .storage
            .use_acl_keys(class.as_str(), &k.field, &k.value);
        // SQLite builds a field's keys when a user's query first asks for them: each key is
        // written by the one writer, and creates in a class whose users never query it that
        // way should not pay for them (bench/: SQLite creates 14% slower with keys).
        if !use_keys
            && Schemas::keyable(schema, &k.field)
            && state.storage.claim_acl_keys(class.as_str(), &k.field)
        {
            let (state, class, field) = (state.clone(), class.to_string(), k.field.clone());
            tokio::spawn(async move {
                if let Err(e) = state
                    .schemas
                    .build_acl_keys(&state.storage, &class, &field)
                    .await
                {
                    tracing::warn!(class, field, error = %e.message, "cannot build ACL keys");
                }
            });
        }
        use_keys
    };
    take_equality(schema, filter, &wanted)
}

fn take_equality(
    schema: &ClassSchema,
    filter: &Filter,
    wanted: &dyn Fn(&KeyedAcl) -> bool,
) -> Option<(KeyedAcl, Filter)> {
    match filter {
        Filter::And(items) => items.iter().enumerate().find_map(|(i, item)| {
            let (k, rest) = take_equality(schema, item, wanted)?;
            let mut items = items.clone();
            items[i] = rest;
            Some((k, Filter::And(items)))
        }),
        Filter::Cmp {
            key,
            op: CmpOp::Eq,
            value,
        } if key.path.is_empty() => {
            let value = match (schema.fields.get(&key.field)?, value) {
                (FieldType::String, Value::String(s)) => s.clone(),
                (FieldType::Pointer(target), v) => match as_pointer(v) {
                    Some((c, id)) if c == target => id.to_string(),
                    _ => return None,
                },
                _ => return None,
            };
            let k = KeyedAcl {
                field: key.field.clone(),
                value,
            };
            wanted(&k).then_some((k, Filter::All))
        }
        _ => None,
    }
}

/// Runs the find's SELECT and writes its rows as a JSON array of objects; and how many.
async fn render_rows(
    state: &AppState,
    projection: &Projection,
    sql: &Sql,
    limit: u64,
) -> ApiResult<(Vec<u8>, usize)> {
    // Room for `limit` small objects, up to a hundred: growing the buffer copies it.
    let mut out = Vec::with_capacity(64 + 256 * limit.min(100) as usize);
    let mut n = 0;
    out.push(b'[');
    state
        .storage
        .fetch_each(sql, &projection.cols(), &mut |cells| {
            if n > 0 {
                out.push(b',');
            }
            n += 1;
            projection.render(cells, &mut out)
        })
        .await?;
    out.push(b']');
    Ok((out, n))
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
