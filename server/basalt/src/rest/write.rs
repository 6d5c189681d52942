//! Writes: create, update and delete, each inside one transaction together with any schema
//! growth it causes. Updates apply `Increment` atomically in SQL and read-modify-write array
//! operations under a row lock; the write ACL is part of the `UPDATE`/`DELETE` condition, so an
//! object the caller may not change is indistinguishable from a missing one (101).

use basalt_query::value::{as_pointer, format_date, infer_type};
use std::sync::Arc;

use basalt_query::{Bind, ClassSchema, Compiler, Dialect, FieldType, Sql};
use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{Map, Value, json};

use super::codec::{self, encode, number, perms_from_acl};
use crate::auth::Auth;
use crate::clp;
use crate::error::{ApiError, ApiResult, Code};
use crate::ids::{ClassName, ObjectId, new_object_id};
use crate::schema::{Ensured, Growth};
use crate::state::AppState;
use crate::storage::{Cell, Col, Storage, Tx};

/// One field change from a request body.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    Set(Value),
    Unset,
    Increment(f64),
    Add(Vec<Value>),
    AddUnique(Vec<Value>),
    Remove(Vec<Value>),
    AddRelation(Vec<String>),
    RemoveRelation(Vec<String>),
    Acl(Vec<String>, Vec<String>),
    /// `"field.a.b": v` — set (or with `Delete`, remove) a key inside an Object field.
    SetPath(Vec<String>, Option<Value>),
}

/// A parsed request body: the changes, and the field types they imply.
struct Changes {
    ops: Vec<(String, Op)>,
    types: Vec<(String, FieldType)>,
}

/// A request's writes. The transaction opens lazily: a write that turns out to be one
/// statement runs it autocommitted (one round trip instead of three on PostgreSQL); one that
/// needs more (schema growth, relations, a read-modify-write) opens it at its first statement.
/// Schema changes are published when it commits.
pub struct WriteTx {
    storage: Storage,
    tx: Option<Tx>,
    /// `/batch` with `transaction: true`: every statement joins one transaction.
    whole: bool,
    ensured: Vec<Ensured>,
    /// What the session cache must learn once this commits.
    effects: Vec<Effect>,
    /// The client's installation id, recorded on sessions it opens.
    pub installation_id: Option<String>,
}

/// A change to sessions or roles, applied to the session cache after commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// A session was revoked (by its token hash).
    SessionRevoked(String),
    /// A user's sessions were revoked (deleted, or its password changed).
    UserSessionsRevoked(String),
    /// A role or its membership changed.
    RolesChanged,
}

impl WriteTx {
    pub fn new(state: &AppState) -> Self {
        Self {
            storage: state.storage.clone(),
            tx: None,
            whole: false,
            ensured: Vec::new(),
            effects: Vec::new(),
            installation_id: None,
        }
    }

    /// Records what the session cache must learn once this commits.
    pub fn after_commit(&mut self, effect: Effect) {
        if !self.effects.contains(&effect) {
            self.effects.push(effect);
        }
    }

    /// One transaction for everything that follows (a transactional batch).
    pub async fn whole(state: &AppState) -> ApiResult<Self> {
        let mut w = Self::new(state);
        w.whole = true;
        w.tx().await?;
        Ok(w)
    }

    fn dialect(&self) -> Dialect {
        self.storage.dialect()
    }

    /// The open transaction, begun now if there is none.
    pub async fn tx(&mut self) -> ApiResult<&mut Tx> {
        if self.tx.is_none() {
            self.tx = Some(self.storage.begin().await?);
        }
        self.tx
            .as_mut()
            .ok_or_else(|| ApiError::internal("transaction vanished"))
    }

    /// A statement that is the request's only write: autocommitted unless a transaction is open.
    pub async fn execute_alone(&mut self, sql: &Sql) -> ApiResult<u64> {
        match self.tx.as_mut() {
            Some(tx) => Ok(tx.execute(sql).await?),
            None => Ok(self.storage.execute(sql).await?),
        }
    }

    /// As [`Self::execute_alone`], for a statement with `RETURNING`.
    async fn fetch_alone(&mut self, sql: &Sql, cols: &[Col]) -> ApiResult<Vec<Vec<Cell>>> {
        match self.tx.as_mut() {
            Some(tx) => Ok(tx.fetch(sql, cols).await?),
            None => Ok(self.storage.write_fetch(sql, cols).await?),
        }
    }

    /// Grows the schema as the write needs, inside the transaction when it must change.
    async fn ensure(
        &mut self,
        state: &AppState,
        class: &ClassName,
        types: &[(String, FieldType)],
        growth: Growth,
    ) -> ApiResult<Arc<ClassSchema>> {
        if let Some(s) = state.schemas.cached(class.as_str(), types)? {
            return Ok(s);
        }
        let tx = self.tx().await?;
        let ensured = state
            .schemas
            .ensure(tx, class.as_str(), types, growth)
            .await?;
        let schema = ensured.schema.clone();
        self.ensured.push(ensured);
        Ok(schema)
    }

    pub async fn commit(self, state: &AppState) -> ApiResult<()> {
        if let Some(tx) = self.tx {
            tx.commit().await?;
        }
        for e in &self.ensured {
            state.schemas.commit(e);
        }
        for e in self.effects {
            match e {
                Effect::SessionRevoked(hash) => state.sessions.forget(&hash),
                Effect::UserSessionsRevoked(user) => state.sessions.forget_user(&user),
                Effect::RolesChanged => state.sessions.roles_changed(),
            }
        }
        Ok(())
    }
}

/// Keys Parse refuses anywhere in a body (`requestKeywordDenylist`): they mean something to
/// JavaScript object prototypes or BSON, and stored they can poison cloud code and the schema.
const PROHIBITED_KEYS: [&str; 3] = ["_bsontype", "constructor", "__proto__"];

fn check_prohibited(v: &Value) -> ApiResult<()> {
    match v {
        Value::Object(o) => {
            for (k, inner) in o {
                if PROHIBITED_KEYS.contains(&k.as_str()) {
                    return Err(ApiError::new(
                        Code::InvalidKeyName,
                        format!("Prohibited keyword in request data: {{\"key\":\"{k}\"}}."),
                    ));
                }
                check_prohibited(inner)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(check_prohibited),
        _ => Ok(()),
    }
}

fn parse_changes(class: &ClassName, body: &Value) -> ApiResult<Changes> {
    check_prohibited(body)?;
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::invalid_json("request body must be a JSON object"))?;
    let mut ops = Vec::with_capacity(obj.len());
    let mut types: Vec<(String, FieldType)> = Vec::new();
    for (key, value) in obj {
        match key.as_str() {
            "objectId" => {
                return Err(ApiError::new(
                    Code::InvalidKeyName,
                    "objectId is an invalid field name.",
                ));
            }
            "createdAt" | "updatedAt" => {
                // Parse refuses a client-chosen timestamp that is not a Date; a Date is ignored.
                if basalt_query::value::as_date(value).is_none() {
                    return Err(ApiError::new(
                        Code::IncorrectType,
                        format!(
                            "schema mismatch for {class}.{key}; expected Date but got {}",
                            type_name(value)
                        ),
                    ));
                }
                continue;
            }
            "ACL" => {
                let (r, w) = perms_from_acl(value)?;
                ops.push((key.clone(), Op::Acl(r, w)));
                continue;
            }
            k if k.contains('.') => {
                let mut parts = k.split('.').map(str::to_string);
                let field = parts.next().unwrap_or_default();
                let path: Vec<String> = parts.collect();
                if !basalt_query::schema::is_valid_field_name(&field)
                    || path.iter().any(|p| p.is_empty() || p.contains('$'))
                {
                    return Err(ApiError::new(
                        Code::InvalidKeyName,
                        format!("Invalid field name: {k}."),
                    ));
                }
                let delete = value.get("__op").and_then(Value::as_str) == Some("Delete");
                if !types.iter().any(|(f, _)| *f == field) {
                    types.push((field.clone(), FieldType::Object));
                }
                ops.push((field, Op::SetPath(path, (!delete).then(|| value.clone()))));
                continue;
            }
            k if !basalt_query::schema::is_valid_field_name(k) => {
                return Err(ApiError::new(
                    Code::InvalidKeyName,
                    format!("Invalid field name: {k}."),
                ));
            }
            _ => {}
        }
        if let Some(t) = infer_type(value)? {
            if let Some((_, prev)) = types.iter().find(|(f, _)| f == key) {
                if *prev != t {
                    return Err(ApiError::new(
                        Code::IncorrectType,
                        format!("schema mismatch for {key}"),
                    ));
                }
            } else {
                types.push((key.clone(), t));
            }
        }
        parse_op(key, value, &mut ops)?;
    }
    Ok(Changes { ops, types })
}

fn type_name(v: &Value) -> String {
    infer_type(v)
        .ok()
        .flatten()
        .map(|t| t.to_string())
        .unwrap_or_else(|| "null".into())
}

fn op_objects<'a>(key: &str, value: &'a Value) -> ApiResult<&'a Vec<Value>> {
    value
        .get("objects")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::invalid_json(format!("objects to add must be an array for {key}")))
}

fn relation_ids(key: &str, value: &Value) -> ApiResult<Vec<String>> {
    op_objects(key, value)?
        .iter()
        .map(|p| {
            as_pointer(p).map(|(_, id)| id.to_string()).ok_or_else(|| {
                ApiError::new(
                    Code::InvalidPointer,
                    format!("{key}: relation objects must be pointers"),
                )
            })
        })
        .collect()
}

fn parse_op(key: &str, value: &Value, ops: &mut Vec<(String, Op)>) -> ApiResult<()> {
    let Some(op) = value
        .get("__op")
        .and_then(Value::as_str)
        .filter(|_| value.is_object())
    else {
        ops.push((
            key.to_string(),
            if value.is_null() {
                Op::Unset
            } else {
                Op::Set(value.clone())
            },
        ));
        return Ok(());
    };
    let parsed = match op {
        "Delete" => Op::Unset,
        "Increment" => {
            let amount = value
                .get("amount")
                .and_then(Value::as_f64)
                .filter(|f| f.is_finite())
                .ok_or_else(|| ApiError::invalid_json("Increment amount must be a number"))?;
            Op::Increment(amount)
        }
        "Add" => Op::Add(op_objects(key, value)?.clone()),
        "AddUnique" => Op::AddUnique(op_objects(key, value)?.clone()),
        "Remove" => Op::Remove(op_objects(key, value)?.clone()),
        "AddRelation" => Op::AddRelation(relation_ids(key, value)?),
        "RemoveRelation" => Op::RemoveRelation(relation_ids(key, value)?),
        "Batch" => {
            let subs = value
                .get("ops")
                .and_then(Value::as_array)
                .ok_or_else(|| ApiError::invalid_json("Batch ops must be an array"))?;
            for sub in subs {
                match sub.get("__op").and_then(Value::as_str) {
                    Some("AddRelation" | "RemoveRelation") => parse_op(key, sub, ops)?,
                    _ => {
                        return Err(ApiError::invalid_json(
                            "Batch may only hold AddRelation and RemoveRelation",
                        ));
                    }
                }
            }
            return Ok(());
        }
        other => return Err(ApiError::invalid_json(format!("Invalid operator: {other}"))),
    };
    ops.push((key.to_string(), parsed));
    Ok(())
}

/// What this write may do to the schema: create the class (master key, or clients when
/// allowed), add fields (the `addField` permission).
fn growth(state: &AppState, auth: &Auth, schema: Option<&ClassSchema>) -> Growth {
    Growth {
        create_class: auth.is_master() || state.config.allow_client_class_creation,
        add_field: schema.is_none_or(|s| clp::allows(s, clp::Op::AddField, auth)),
    }
}

/// Timestamps are kept to the millisecond, as clients see them.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

fn field_type<'a>(schema: &'a ClassSchema, field: &str) -> ApiResult<&'a FieldType> {
    schema
        .fields
        .get(field)
        .ok_or_else(|| ApiError::internal(format!("field {field} missing after schema ensure")))
}

/// Element equality for AddUnique and Remove (pointers compare by class and id).
fn same(a: &Value, b: &Value) -> bool {
    match (as_pointer(a), as_pointer(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Sets (or removes) `path` inside an Object value, creating intermediate objects.
fn apply_path(current: Option<Value>, path: &[String], value: Option<&Value>) -> Value {
    let mut root = match current {
        Some(Value::Object(m)) => Value::Object(m),
        _ => Value::Object(Map::new()),
    };
    let mut node = &mut root;
    for (i, key) in path.iter().enumerate() {
        let Value::Object(map) = node else { break };
        if i + 1 == path.len() {
            match value {
                Some(v) => {
                    map.insert(key.clone(), v.clone());
                }
                None => {
                    map.remove(key);
                }
            }
            break;
        }
        let child = map
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !child.is_object() {
            *child = Value::Object(Map::new());
        }
        node = child;
    }
    root
}

fn apply_array(current: Option<Vec<Value>>, op: &Op) -> Vec<Value> {
    let mut cur = current.unwrap_or_default();
    match op {
        Op::Add(items) => cur.extend(items.iter().cloned()),
        Op::AddUnique(items) => {
            for i in items {
                if !cur.iter().any(|c| same(c, i)) {
                    cur.push(i.clone());
                }
            }
        }
        Op::Remove(items) => cur.retain(|c| !items.iter().any(|i| same(c, i))),
        _ => {}
    }
    cur
}

pub struct Created {
    pub object_id: String,
    pub created_at: DateTime<Utc>,
    /// Values of fields changed by operators, which Parse echoes in the response.
    pub echo: Map<String, Value>,
    /// A body that replaces the usual `{objectId, createdAt, …}` (a session opened by a user).
    pub answer: Option<Value>,
    /// Sign-up with `authData` of a user who already exists logs that user in: 200, not 201.
    pub existing: bool,
}

impl Created {
    pub fn body(&self) -> Value {
        if let Some(answer) = &self.answer {
            return answer.clone();
        }
        let mut out = self.echo.clone();
        out.insert("objectId".into(), Value::from(self.object_id.clone()));
        out.insert(
            "createdAt".into(),
            Value::from(format_date(&self.created_at)),
        );
        Value::Object(out)
    }
}

/// `POST /classes/:className`.
pub async fn create(
    state: &AppState,
    auth: &Auth,
    class: &ClassName,
    body: &Value,
) -> ApiResult<Created> {
    let mut wtx = WriteTx::new(state);
    let created = create_in(state, auth, &mut wtx, class, body).await?;
    wtx.commit(state).await?;
    Ok(created)
}

/// Columns a system class stores beside the fields of a body, and a chosen objectId.
#[derive(Debug, Default)]
pub struct Extra {
    pub object_id: Option<String>,
    /// Columns no client field maps to (`_hashed_password`).
    pub hidden: Vec<(String, Bind)>,
}

/// Creates an object. System classes add their rules first: `_User` is a sign-up, `_Role`
/// names are checked, `_Session` is opened for the caller.
pub async fn create_in(
    state: &AppState,
    auth: &Auth,
    wtx: &mut WriteTx,
    class: &ClassName,
    body: &Value,
) -> ApiResult<Created> {
    super::guard_class("create", class.as_str(), auth)?;
    match class.as_str() {
        "_User" => super::users::create(state, auth, wtx, body).await,
        "_Session" => super::sessions::create(state, auth, wtx, body).await,
        "_Role" => {
            super::roles::check_create(body)?;
            wtx.after_commit(Effect::RolesChanged);
            insert(state, auth, wtx, class, body, Extra::default()).await
        }
        _ => insert(state, auth, wtx, class, body, Extra::default()).await,
    }
}

/// The generic create: CLP, schema growth, defaults and required fields, one `INSERT`.
pub async fn insert(
    state: &AppState,
    auth: &Auth,
    wtx: &mut WriteTx,
    class: &ClassName,
    body: &Value,
    extra: Extra,
) -> ApiResult<Created> {
    let existing = state.schemas.get(class.as_str());
    let changes = parse_changes(class, body)?;
    if let Some(s) = &existing {
        // Parse checks adding a field before creating the object.
        if changes.types.iter().any(|(f, _)| !s.fields.contains_key(f)) {
            clp::check(s, clp::Op::AddField, auth)?;
        }
        clp::check(s, clp::Op::Create, auth)?;
    }
    let schema = wtx
        .ensure(
            state,
            class,
            &changes.types,
            growth(state, auth, existing.as_deref()),
        )
        .await?;

    let object_id = extra.object_id.unwrap_or_else(new_object_id);
    let created_at = now();
    let dialect = wtx.dialect();
    let mut cols: Vec<(String, Option<Bind>)> = vec![
        ("objectId".into(), Some(Bind::Text(object_id.clone()))),
        ("createdAt".into(), Some(Bind::Date(created_at))),
        ("updatedAt".into(), Some(Bind::Date(created_at))),
    ];
    let mut echo = Map::new();
    let mut relations: Vec<(String, Vec<String>)> = Vec::new();
    let mut nested: Vec<(String, Value)> = Vec::new();
    for (field, op) in &changes.ops {
        match op {
            Op::SetPath(path, v) => match nested.iter_mut().find(|(f, _)| f == field) {
                Some((_, obj)) => *obj = apply_path(Some(obj.clone()), path, v.as_ref()),
                None => nested.push((field.clone(), apply_path(None, path, v.as_ref()))),
            },
            Op::Acl(r, w) => {
                cols.push(("_rperm".into(), Some(Bind::TextArray(r.clone()))));
                cols.push(("_wperm".into(), Some(Bind::TextArray(w.clone()))));
            }
            Op::Set(v) => {
                let ty = field_type(&schema, field)?;
                cols.push((field.clone(), encode(field, ty, v)?));
            }
            Op::Unset => {}
            Op::Increment(n) => {
                cols.push((field.clone(), Some(Bind::Float(*n))));
                echo.insert(field.clone(), number(*n));
            }
            // On create Parse stores AddUnique's items as given.
            Op::Add(items) | Op::AddUnique(items) => {
                cols.push((field.clone(), Some(Bind::Json(Value::Array(items.clone())))));
                echo.insert(field.clone(), Value::Array(items.clone()));
            }
            Op::Remove(_) => {
                cols.push((field.clone(), Some(Bind::Json(json!([])))));
                echo.insert(field.clone(), json!([]));
            }
            Op::AddRelation(ids) => relations.push((field.clone(), ids.clone())),
            Op::RemoveRelation(_) => {}
        }
    }
    for (field, obj) in nested {
        let ty = field_type(&schema, &field)?;
        cols.push((field.clone(), encode(&field, ty, &obj)?));
    }
    for (col, bind) in extra.hidden {
        cols.push((col, Some(bind)));
    }
    // Defaults fill fields the body left out (and are echoed); required fields must be set.
    for (field, opts) in &schema.field_options {
        let given = cols.iter().any(|(c, b)| c == field && b.is_some());
        if given {
            continue;
        }
        if let Some(default) = &opts.default_value {
            let ty = field_type(&schema, field)?;
            cols.retain(|(c, _)| c != field);
            cols.push((field.clone(), encode(field, ty, default)?));
            echo.insert(field.clone(), default.clone());
        } else if opts.required {
            return Err(ApiError::with_code(142, format!("{field} is required")));
        }
    }
    let mut sql = Sql::new(dialect);
    sql.push("INSERT INTO ").ident(class.as_str()).push(" (");
    for (i, (name, _)) in cols.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.ident(name);
    }
    sql.push(") VALUES (");
    for (i, (_, bind)) in cols.into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        match bind {
            Some(b) => {
                sql.bind(b);
            }
            None => {
                sql.push("NULL");
            }
        }
    }
    sql.push(")");
    if relations.is_empty() {
        wtx.execute_alone(&sql).await?;
    } else {
        let tx = wtx.tx().await?;
        tx.execute(&sql).await?;
        for (field, ids) in relations {
            change_relations(tx, class.as_str(), &field, &object_id, &ids, true).await?;
        }
    }
    Ok(Created {
        object_id,
        created_at,
        echo,
        answer: None,
        existing: false,
    })
}

/// Adds (`add`) or removes links from `owner` to `ids` in a Relation's join table, in one
/// statement; adding a link twice keeps one.
async fn change_relations(
    tx: &mut Tx,
    class: &str,
    field: &str,
    owner: &str,
    ids: &[String],
    add: bool,
) -> ApiResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let table = crate::storage::join_table(class, field);
    let mut sql = Sql::new(tx.dialect());
    if add {
        sql.push("INSERT INTO ")
            .ident(&table)
            .push(" (\"owningId\", \"relatedId\") VALUES ");
        let owner_n = sql.binds.len() + 1;
        for (i, id) in ids.iter().enumerate() {
            sql.push(if i == 0 { "(" } else { ", (" });
            if i == 0 {
                sql.bind(Bind::Text(owner.to_string()));
            } else {
                sql.placeholder(owner_n);
            }
            sql.push(", ");
            sql.bind(Bind::Text(id.clone()));
            sql.push(")");
        }
        sql.push(" ON CONFLICT DO NOTHING");
    } else {
        sql.push("DELETE FROM ")
            .ident(&table)
            .push(" WHERE \"owningId\" = ");
        sql.bind(Bind::Text(owner.to_string()));
        sql.push(" AND \"relatedId\" IN (");
        sql.bind_list(ids.iter().map(|v| Bind::Text(v.clone())));
        sql.push(")");
    }
    tx.execute(&sql).await?;
    Ok(())
}

/// Appends `AND <write ACL>` for the caller (nothing for the master key), and the pointer
/// permission's condition when the class grants the write only through one.
fn write_acl(
    dialect: Dialect,
    state: &AppState,
    auth: &Auth,
    schema: &ClassSchema,
    access: &clp::Access,
    sql: &mut Sql,
) -> ApiResult<()> {
    if let Some(perms) = auth.perms() {
        let c = Compiler {
            dialect,
            schemas: &state.schemas,
            perms: None,
        };
        sql.push(" AND ");
        c.perms_overlap("t0", "_wperm", &perms, sql);
        if let Some(filter) = access.filter(auth) {
            sql.push(" AND ");
            c.where_clause(schema, &filter, 0, sql)?;
        }
    }
    Ok(())
}

/// `PUT /classes/:className/:objectId`: answers `{updatedAt}` plus operator results.
pub async fn update(
    state: &AppState,
    auth: &Auth,
    class: &ClassName,
    id: &ObjectId,
    body: &Value,
) -> ApiResult<Value> {
    let mut wtx = WriteTx::new(state);
    let out = update_in(state, auth, &mut wtx, class, id, body).await?;
    wtx.commit(state).await?;
    Ok(out)
}

/// Updates an object. System classes add their rules first: a user changes only itself,
/// a role keeps its name, a session is not changed by clients.
pub async fn update_in(
    state: &AppState,
    auth: &Auth,
    wtx: &mut WriteTx,
    class: &ClassName,
    id: &ObjectId,
    body: &Value,
) -> ApiResult<Value> {
    super::guard_class("update", class.as_str(), auth)?;
    match class.as_str() {
        "_User" => super::users::update(state, auth, wtx, id, body).await,
        "_Session" => super::sessions::update(state, auth, wtx, id, body).await,
        "_Role" => {
            super::roles::check_update(body)?;
            wtx.after_commit(Effect::RolesChanged);
            modify(state, auth, wtx, class, id, body, Vec::new()).await
        }
        _ => modify(state, auth, wtx, class, id, body, Vec::new()).await,
    }
}

/// The generic update; `hidden` sets columns no client field maps to.
pub async fn modify(
    state: &AppState,
    auth: &Auth,
    wtx: &mut WriteTx,
    class: &ClassName,
    id: &ObjectId,
    body: &Value,
    hidden: Vec<(String, Bind)>,
) -> ApiResult<Value> {
    let Some(existing) = state.schemas.get(class.as_str()) else {
        return Err(ApiError::not_found());
    };
    let access = clp::check(&existing, clp::Op::Update, auth)?;
    let changes = parse_changes(class, body)?;
    for (field, op) in &changes.ops {
        let clears = matches!(op, Op::Unset | Op::Set(Value::Null));
        if clears
            && existing
                .field_options
                .get(field)
                .is_some_and(|o| o.required)
        {
            return Err(ApiError::with_code(142, format!("{field} is required")));
        }
    }
    let schema = wtx
        .ensure(
            state,
            class,
            &changes.types,
            growth(state, auth, Some(&existing)),
        )
        .await?;
    let dialect = wtx.dialect();

    // Array operators need the current values: read them under a row lock.
    let array_fields: Vec<&String> = changes
        .ops
        .iter()
        .filter(|(_, op)| {
            matches!(
                op,
                Op::Add(_) | Op::AddUnique(_) | Op::Remove(_) | Op::SetPath(..)
            )
        })
        .map(|(f, _)| f)
        .collect();
    let mut current: Map<String, Value> = Map::new();
    if !array_fields.is_empty() {
        let mut sql = Sql::new(dialect);
        sql.push("SELECT ");
        for (i, f) in array_fields.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.column("t0", f);
        }
        sql.push(" FROM ")
            .ident(class.as_str())
            .push(" t0 WHERE t0.\"objectId\" = ");
        sql.bind(Bind::Text(id.as_str().to_string()));
        write_acl(dialect, state, auth, &schema, &access, &mut sql)?;
        if dialect == Dialect::Postgres {
            sql.push(" FOR UPDATE");
        }
        let cols = vec![Col::Json; array_fields.len()];
        let row = wtx
            .tx()
            .await?
            .fetch(&sql, &cols)
            .await?
            .into_iter()
            .next()
            .ok_or_else(ApiError::not_found)?;
        for (f, cell) in array_fields.iter().zip(row) {
            if let Cell::Json(v) = cell {
                current.insert((*f).clone(), v);
            }
        }
    }

    let updated_at = now();
    let mut sql = Sql::new(dialect);
    sql.push("UPDATE ")
        .ident(class.as_str())
        .push(" AS t0 SET \"updatedAt\" = ");
    sql.bind(Bind::Date(updated_at));
    let mut echo = Map::new();
    let mut returning: Vec<String> = Vec::new();
    let mut relation_ops: Vec<(&String, &Op)> = Vec::new();
    let mut nested_fields: Vec<&String> = Vec::new();
    for (field, op) in &changes.ops {
        match op {
            Op::Acl(r, w) => {
                sql.push(", \"_rperm\" = ");
                sql.bind(Bind::TextArray(r.clone()));
                sql.push(", \"_wperm\" = ");
                sql.bind(Bind::TextArray(w.clone()));
            }
            Op::Set(v) => {
                let ty = field_type(&schema, field)?;
                sql.push(", ").ident(field).push(" = ");
                match encode(field, ty, v)? {
                    Some(b) => sql.bind(b),
                    None => {
                        sql.push("NULL");
                        0
                    }
                };
            }
            Op::Unset => {
                if schema
                    .fields
                    .get(field)
                    .is_some_and(|t| t.column().is_some())
                {
                    sql.push(", ").ident(field).push(" = NULL");
                }
            }
            Op::Increment(n) => {
                sql.push(", ")
                    .ident(field)
                    .push(" = COALESCE(")
                    .column("t0", field)
                    .push(", 0) + ");
                sql.bind(Bind::Float(*n));
                returning.push(field.clone());
            }
            Op::Add(_) | Op::AddUnique(_) | Op::Remove(_) => {
                let cur = current.get(field).and_then(Value::as_array).cloned();
                let next = Value::Array(apply_array(cur, op));
                sql.push(", ").ident(field).push(" = ");
                sql.bind(Bind::Json(next.clone()));
                echo.insert(field.clone(), next);
            }
            Op::SetPath(path, v) => {
                let next = apply_path(current.get(field).cloned(), path, v.as_ref());
                current.insert(field.clone(), next);
                nested_fields.push(field);
            }
            Op::AddRelation(_) | Op::RemoveRelation(_) => relation_ops.push((field, op)),
        }
    }
    for (col, bind) in hidden {
        sql.push(", ").ident(&col).push(" = ");
        sql.bind(bind);
    }
    nested_fields.dedup();
    for field in nested_fields {
        let ty = field_type(&schema, field)?;
        if let Some(b) = encode(field, ty, &current[field.as_str()])? {
            sql.push(", ").ident(field).push(" = ");
            sql.bind(b);
        }
    }
    sql.push(" WHERE t0.\"objectId\" = ");
    sql.bind(Bind::Text(id.as_str().to_string()));
    write_acl(dialect, state, auth, &schema, &access, &mut sql)?;
    // SQLite's RETURNING cannot name the table alias.
    sql.push(" RETURNING \"objectId\"");
    for f in &returning {
        sql.push(", ").ident(f);
    }
    let mut cols = vec![Col::Text];
    cols.extend(returning.iter().map(|_| Col::Float));
    // With relation changes to follow, the update and they share a transaction.
    let rows = if relation_ops.is_empty() {
        wtx.fetch_alone(&sql, &cols).await?
    } else {
        wtx.tx().await?.fetch(&sql, &cols).await?
    };
    let row = rows.into_iter().next().ok_or_else(ApiError::not_found)?;
    for (f, cell) in returning.iter().zip(row.into_iter().skip(1)) {
        if let Some(v) = codec::decode(&FieldType::Number, cell) {
            echo.insert(f.clone(), v);
        }
    }
    for (field, op) in relation_ops {
        let (ids, add) = match op {
            Op::AddRelation(ids) => (ids, true),
            Op::RemoveRelation(ids) => (ids, false),
            _ => continue,
        };
        change_relations(
            wtx.tx().await?,
            class.as_str(),
            field,
            id.as_str(),
            ids,
            add,
        )
        .await?;
    }
    echo.insert("updatedAt".into(), Value::from(format_date(&updated_at)));
    Ok(Value::Object(echo))
}

/// `DELETE /classes/:className/:objectId`.
pub async fn delete(
    state: &AppState,
    auth: &Auth,
    class: &ClassName,
    id: &ObjectId,
) -> ApiResult<()> {
    let mut wtx = WriteTx::new(state);
    delete_in(state, auth, &mut wtx, class, id).await?;
    wtx.commit(state).await
}

/// Deletes an object. Deleting a user ends its sessions; deleting a session revokes it;
/// deleting a role changes everyone's role set.
pub async fn delete_in(
    state: &AppState,
    auth: &Auth,
    wtx: &mut WriteTx,
    class: &ClassName,
    id: &ObjectId,
) -> ApiResult<()> {
    super::guard_class("delete", class.as_str(), auth)?;
    match class.as_str() {
        "_User" => super::users::delete(state, auth, wtx, id).await,
        "_Session" => super::sessions::delete(state, auth, wtx, id).await,
        "_Role" => {
            wtx.after_commit(Effect::RolesChanged);
            remove(state, auth, wtx, class, id).await
        }
        _ => remove(state, auth, wtx, class, id).await,
    }
}

/// The generic delete: CLP, write ACL, then the object's relation links.
pub async fn remove(
    state: &AppState,
    auth: &Auth,
    wtx: &mut WriteTx,
    class: &ClassName,
    id: &ObjectId,
) -> ApiResult<()> {
    let Some(schema) = state.schemas.get(class.as_str()) else {
        return Err(ApiError::not_found());
    };
    let access = clp::check(&schema, clp::Op::Delete, auth)?;
    let dialect = wtx.dialect();
    let mut sql = Sql::new(dialect);
    sql.push("DELETE FROM ")
        .ident(class.as_str())
        .push(" AS t0 WHERE t0.\"objectId\" = ");
    sql.bind(Bind::Text(id.as_str().to_string()));
    write_acl(dialect, state, auth, &schema, &access, &mut sql)?;
    let relations: Vec<&String> = schema
        .fields
        .iter()
        .filter(|(_, ty)| matches!(ty, FieldType::Relation(_)))
        .map(|(f, _)| f)
        .collect();
    let deleted = if relations.is_empty() {
        wtx.execute_alone(&sql).await?
    } else {
        wtx.tx().await?.execute(&sql).await?
    };
    if deleted == 0 {
        return Err(ApiError::not_found());
    }
    for field in relations {
        {
            let mut del = Sql::new(dialect);
            del.push("DELETE FROM ")
                .ident(&crate::storage::join_table(class.as_str(), field))
                .push(" WHERE \"owningId\" = ");
            del.bind(Bind::Text(id.as_str().to_string()));
            wtx.tx().await?.execute(&del).await?;
        }
    }
    Ok(())
}
