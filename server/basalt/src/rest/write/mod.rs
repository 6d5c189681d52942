//! Writes: create, update and delete, each inside one transaction together with any schema
//! growth it causes. Updates apply `Increment` atomically in SQL and read-modify-write array
//! operations under a row lock; the write ACL is part of the `UPDATE`/`DELETE` condition, so an
//! object the caller may not change is indistinguishable from a missing one (101).

mod changes;
mod tx;

pub use changes::OPERATORS;
pub use tx::{Effect, WriteTx};

use basalt_query::value::format_date;
use basalt_query::{Bind, ClassSchema, Compiler, Dialect, FieldType, Sql};
use chrono::{DateTime, SubsecRound, Utc};
use serde_json::{Map, Value, json};

use changes::{Op, apply_array, apply_path, increment_key, parse_changes};

use super::codec::{self, Projection, encode, number};
use crate::auth::Auth;
use crate::cloud::triggers::{self as cloud, After};
use crate::clp;
use crate::error::{ApiError, ApiResult};
use crate::ids::{ClassName, ObjectId, new_object_id};
use crate::realtime::Event;
use crate::schema::Growth;
use crate::state::AppState;
use crate::storage::{Cell, Col, Tx};
use basalt_cloud::Kind;

/// What this write may do to the schema: create the class (master key, or clients when
/// allowed), add fields (the `addField` permission).
fn growth(state: &AppState, auth: &Auth, schema: Option<&ClassSchema>) -> Growth {
    Growth {
        create_class: auth.is_master() || state.config.allow_client_class_creation,
        add_field: schema.is_none_or(|s| clp::allows(s, clp::Op::AddField, auth)),
    }
}

/// Puts a nested increment's result in the answer as Parse does: `{"field": {"key": n}}`,
/// with only the incremented keys.
fn echo_key(echo: &mut Map<String, Value>, field: &str, key: &str, value: Value) {
    let entry = echo.entry(field.to_string()).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    if let Value::Object(m) = entry {
        m.insert(key.to_string(), value);
    }
}

/// Evaluates `$write` (a write through `$wtx`), and again (up to
/// [`crate::schema::STALE_RETRIES`] times, with the schema read again) when its statement
/// named a column or table another request had just dropped and nothing was written: no
/// transaction was open, so the failed statement was the write's only one. A field deleted
/// meanwhile is added back, as a write after the delete would add it. A macro, not a function
/// taking an async closure: the closure's future is not `Send` for every borrow it holds.
macro_rules! retry_stale {
    ($state:expr, $wtx:expr, $write:expr) => {{
        let mut retries = 0;
        loop {
            match $write {
                Err(e) if e.is_stale() && !$wtx.has_tx() => {
                    $state
                        .schemas
                        .again(&$state.storage, &mut retries, e)
                        .await?
                }
                r => break r,
            }
        }
    }};
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
/// `installation_id` is recorded on a session the create opens (sign-up).
pub async fn create(
    state: &AppState,
    auth: &Auth,
    class: &ClassName,
    body: &Value,
    installation_id: Option<String>,
) -> ApiResult<Created> {
    let mut wtx = WriteTx::new(state);
    wtx.installation_id = installation_id;
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
    let sent = body;
    let mut before = cloud::before_save(state, auth, class, None, body).await?;
    let changed = before.body.take();
    let body = changed.as_ref().unwrap_or(sent);
    let mut created = retry_stale!(
        state,
        wtx,
        create_by_class(state, auth, wtx, class, body).await
    )?;
    if let Some(changed) = &changed {
        created.echo.extend(trigger_changes(sent, changed));
    }
    if !created.existing {
        wtx.after_hook(After::owed(
            state,
            auth,
            Kind::AfterSave,
            class.as_str(),
            &created.object_id,
            before,
        ));
    }
    Ok(created)
}

async fn create_by_class(
    state: &AppState,
    auth: &Auth,
    wtx: &mut WriteTx,
    class: &ClassName,
    body: &Value,
) -> ApiResult<Created> {
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

/// Values a `beforeSave` set that the client did not send as they are: Parse answers them, so
/// the client's object learns what the trigger changed. Operators are answered by the write.
fn trigger_changes(sent: &Value, written: &Value) -> Map<String, Value> {
    let Some(written) = written.as_object() else {
        return Map::new();
    };
    written
        .iter()
        .filter(|(k, v)| {
            sent.get(k.as_str()) != Some(*v)
                && !v.get("__op").is_some_and(Value::is_string)
                && k.as_str() != "ACL"
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
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
    // Object fields some `"field.key"` changes: built here from the field's own value in the
    // body, if any (whatever the order of the keys), with the keys applied to it, as Parse.
    let mut nested: Vec<(String, Value)> = Vec::new();
    let pathed = |field: &String| {
        changes
            .ops
            .iter()
            .any(|(f, op)| f == field && matches!(op, Op::SetPath(..) | Op::IncrementPath(..)))
    };
    // The object a field's keys apply to: its own value in the body, or nothing yet.
    let slot = |nested: &mut Vec<(String, Value)>, field: &String| match nested
        .iter()
        .position(|(f, _)| f == field)
    {
        Some(i) => i,
        None => {
            let base = changes.ops.iter().find_map(|(f, op)| match op {
                Op::Set(v) if f == field => Some(v.clone()),
                _ => None,
            });
            nested.push((field.clone(), base.unwrap_or(Value::Null)));
            nested.len() - 1
        }
    };
    for (field, op) in &changes.ops {
        match op {
            Op::SetPath(path, v) => {
                let at = slot(&mut nested, field);
                nested[at].1 = apply_path(Some(nested[at].1.take()), path, v.as_ref());
            }
            Op::IncrementPath(key, n) => {
                let at = slot(&mut nested, field);
                let (obj, next) = increment_key(Some(nested[at].1.take()), field, key, *n)?;
                nested[at].1 = obj;
                echo_key(&mut echo, field, key, next);
            }
            Op::Set(_) if pathed(field) => {}
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
    // LiveQuery hears the object as stored, defaults and all.
    let projection = wtx.event_projection(state, &schema);
    let cols = projection
        .as_ref()
        .map(Projection::cols)
        .unwrap_or_default();
    if let Some(p) = &projection {
        sql.push(" RETURNING ");
        p.bare_list(&mut sql);
    }
    let rows = if relations.is_empty() {
        if projection.is_some() {
            wtx.fetch_alone(&sql, &cols).await?
        } else {
            wtx.execute_alone(&sql).await?;
            Vec::new()
        }
    } else {
        let tx = wtx.tx().await?;
        let rows = if projection.is_some() {
            tx.fetch(&sql, &cols).await?
        } else {
            tx.execute(&sql).await?;
            Vec::new()
        };
        for (field, ids) in relations {
            change_relations(tx, class.as_str(), &field, &object_id, &ids, true).await?;
        }
        rows
    };
    if let (Some(p), Some(row)) = (&projection, rows.into_iter().next()) {
        wtx.emit(Event {
            class: class.as_str().to_string(),
            deleted: false,
            object: p.object(row, true),
            original: None,
        });
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
/// `installation_id` is recorded on a session the update opens (a password change).
pub async fn update(
    state: &AppState,
    auth: &Auth,
    class: &ClassName,
    id: &ObjectId,
    body: &Value,
    installation_id: Option<String>,
) -> ApiResult<Value> {
    let mut wtx = WriteTx::new(state);
    wtx.installation_id = installation_id;
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
    let sent = body;
    let mut before = cloud::before_save(state, auth, class, Some(id), body).await?;
    let changed = before.body.take();
    let body = changed.as_ref().unwrap_or(sent);
    let mut out = retry_stale!(
        state,
        wtx,
        update_by_class(state, auth, wtx, class, id, body).await
    )?;
    if let (Some(changed), Value::Object(o)) = (&changed, &mut out) {
        for (k, v) in trigger_changes(sent, changed) {
            o.entry(k).or_insert(v);
        }
    }
    wtx.after_hook(After::owed(
        state,
        auth,
        Kind::AfterSave,
        class.as_str(),
        id.as_str(),
        before,
    ));
    Ok(out)
}

async fn update_by_class(
    state: &AppState,
    auth: &Auth,
    wtx: &mut WriteTx,
    class: &ClassName,
    id: &ObjectId,
    body: &Value,
) -> ApiResult<Value> {
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
                Op::Add(_)
                    | Op::AddUnique(_)
                    | Op::Remove(_)
                    | Op::SetPath(..)
                    | Op::IncrementPath(..)
            )
        })
        .map(|(f, _)| f)
        .collect();
    // Fields some `"field.key"` changes (read above, under the lock).
    let pathed: Vec<&String> = changes
        .ops
        .iter()
        .filter(|(_, op)| matches!(op, Op::SetPath(..) | Op::IncrementPath(..)))
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
    // The field's own value in the body, when keys inside it change too, is merged into the
    // stored object first (its keys replace the stored ones), then the keys are applied: what
    // Parse on PostgreSQL stores.
    for (field, op) in &changes.ops {
        if let Op::Set(Value::Object(set)) = op
            && pathed.contains(&field)
        {
            let mut merged = match current.remove(field) {
                Some(Value::Object(m)) => m,
                _ => Map::new(),
            };
            merged.extend(set.clone());
            current.insert(field.clone(), Value::Object(merged));
        }
    }

    // LiveQuery hears the object before and after. SQLite reads the original first, in the
    // transaction (it has one writer); PostgreSQL gets both from the UPDATE itself, joined
    // to the row it locks (`FROM … o`), in one round trip.
    let projection = wtx.event_projection(state, &schema);
    let mut original: Option<Map<String, Value>> = None;
    if let (Some(p), Dialect::Sqlite) = (&projection, dialect) {
        let mut sql = Sql::new(dialect);
        sql.push("SELECT ");
        p.select_list(&mut sql, "t0");
        sql.push(" FROM ")
            .ident(class.as_str())
            .push(" t0 WHERE t0.\"objectId\" = ");
        sql.bind(Bind::Text(id.as_str().to_string()));
        let rows = wtx.tx().await?.fetch(&sql, &p.cols()).await?;
        original = rows.into_iter().next().map(|r| p.object(r, true));
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
            Op::Set(_) if pathed.contains(&field) => {}
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
                if !nested_fields.contains(&field) {
                    nested_fields.push(field);
                }
            }
            Op::IncrementPath(key, n) => {
                let (obj, next) = increment_key(current.remove(field), field, key, *n)?;
                current.insert(field.clone(), obj);
                echo_key(&mut echo, field, key, next);
                if !nested_fields.contains(&field) {
                    nested_fields.push(field);
                }
            }
            Op::AddRelation(_) | Op::RemoveRelation(_) => relation_ops.push((field, op)),
        }
    }
    for (col, bind) in hidden {
        sql.push(", ").ident(&col).push(" = ");
        sql.bind(bind);
    }
    for field in nested_fields {
        let ty = field_type(&schema, field)?;
        if let Some(b) = encode(field, ty, &current[field.as_str()])? {
            sql.push(", ").ident(field).push(" = ");
            sql.bind(b);
        }
    }
    let joined = projection.is_some() && dialect == Dialect::Postgres;
    if joined {
        sql.push(" FROM (SELECT * FROM ")
            .ident(class.as_str())
            .push(" WHERE \"objectId\" = ");
        sql.bind(Bind::Text(id.as_str().to_string()));
        sql.push(" FOR UPDATE) AS o");
    }
    sql.push(" WHERE t0.\"objectId\" = ");
    sql.bind(Bind::Text(id.as_str().to_string()));
    if joined {
        sql.push(" AND o.\"objectId\" = t0.\"objectId\"");
    }
    write_acl(dialect, state, auth, &schema, &access, &mut sql)?;
    // SQLite's RETURNING cannot name the table alias; PostgreSQL's must when `o` is joined.
    let returned = |sql: &mut Sql, name: &str| {
        if dialect == Dialect::Postgres {
            sql.column("t0", name);
        } else {
            sql.ident(name);
        }
    };
    sql.push(" RETURNING ");
    returned(&mut sql, "objectId");
    for f in &returning {
        sql.push(", ");
        returned(&mut sql, f);
    }
    let mut cols = vec![Col::Text];
    cols.extend(returning.iter().map(|_| Col::Float));
    if let Some(p) = &projection {
        if joined {
            sql.push(", ");
            p.select_list(&mut sql, "o");
            cols.extend(p.cols());
        }
        sql.push(", ");
        if dialect == Dialect::Postgres {
            p.select_list(&mut sql, "t0");
        } else {
            p.bare_list(&mut sql);
        }
        cols.extend(p.cols());
    }
    // With relation changes to follow, the update and they share a transaction.
    let rows = if relation_ops.is_empty() {
        wtx.fetch_alone(&sql, &cols).await?
    } else {
        wtx.tx().await?.fetch(&sql, &cols).await?
    };
    let row = rows.into_iter().next().ok_or_else(ApiError::not_found)?;
    let mut cells = row.into_iter().skip(1);
    for (f, cell) in returning.iter().zip(cells.by_ref()) {
        if let Some(v) = codec::decode(&FieldType::Number, cell) {
            echo.insert(f.clone(), v);
        }
    }
    if let Some(p) = &projection {
        let width = p.cols().len();
        if joined {
            original = Some(p.object(cells.by_ref().take(width).collect(), true));
        }
        let object = p.object(cells.collect(), true);
        if let Some(original) = original {
            wtx.emit(Event {
                class: class.as_str().to_string(),
                deleted: false,
                object,
                original: Some(original),
            });
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
    let before = cloud::before_delete(state, auth, class, id).await?;
    // The statement's answer names the object's fields, so a delete meets dropped ones too.
    retry_stale!(
        state,
        wtx,
        delete_by_class(state, auth, wtx, class, id).await
    )?;
    wtx.after_hook(After::owed(
        state,
        auth,
        Kind::AfterDelete,
        class.as_str(),
        id.as_str(),
        before,
    ));
    Ok(())
}

async fn delete_by_class(
    state: &AppState,
    auth: &Auth,
    wtx: &mut WriteTx,
    class: &ClassName,
    id: &ObjectId,
) -> ApiResult<()> {
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
    let projection = wtx.event_projection(state, &schema);
    let deleted = match &projection {
        Some(p) => {
            sql.push(" RETURNING ");
            p.bare_list(&mut sql);
            let rows = if relations.is_empty() {
                wtx.fetch_alone(&sql, &p.cols()).await?
            } else {
                wtx.tx().await?.fetch(&sql, &p.cols()).await?
            };
            let n = rows.len();
            if let Some(row) = rows.into_iter().next() {
                wtx.emit(Event {
                    class: class.as_str().to_string(),
                    deleted: true,
                    object: p.object(row, true),
                    original: None,
                });
            }
            n as u64
        }
        None if relations.is_empty() => wtx.execute_alone(&sql).await?,
        None => wtx.tx().await?.execute(&sql).await?,
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
