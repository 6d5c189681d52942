//! The schema layer: every class's fields, CLPs and indexes, cached in memory and kept in
//! `_SCHEMA`. Writes infer new fields here; the table DDL and the `_SCHEMA` row change in one
//! transaction, and the cache only after it commits.
//!
//! Changes are serialised on this node by a mutex and across nodes by the `_SCHEMA` row lock
//! (PostgreSQL `FOR UPDATE`), and each change re-reads the stored schema inside its transaction,
//! so a node with a stale cache merges with what another node added rather than overwriting it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use basalt_query::schema::{is_default_field, is_valid_class_name};
use basalt_query::{Bind, ClassSchema, Dialect, FieldType, SchemaSource, Sql};
use serde_json::Value;

use crate::error::{ApiError, ApiResult, Code};
use crate::storage::{self, Cell, Col, Storage, Tx};

/// The system classes whose tables the migrations create (with columns and indexes the
/// server's own statements rely on: `_hashed_password`, `_token_hash`, the unique username),
/// and the schema the migrations store for each. Deleting such a class's schema keeps its
/// table; using the class again brings this schema back, as Parse re-creates a system class
/// with its default fields. A test checks that both dialects' migrations store exactly these.
const MIGRATED: [(&str, &str); 3] = [
    (
        "_User",
        r#"{"className":"_User","fields":{"objectId":{"type":"String"},"createdAt":{"type":"Date"},"updatedAt":{"type":"Date"},"ACL":{"type":"ACL"},"username":{"type":"String"},"email":{"type":"String"},"emailVerified":{"type":"Boolean"},"authData":{"type":"Object"}},"classLevelPermissions":{"ACL":{"*":{"read":true,"write":true}},"find":{"*":true},"count":{"*":true},"get":{"*":true},"create":{"*":true},"update":{"*":true},"delete":{"*":true},"addField":{"*":true},"protectedFields":{"*":[]}}}"#,
    ),
    (
        "_Role",
        r#"{"className":"_Role","fields":{"objectId":{"type":"String"},"createdAt":{"type":"Date"},"updatedAt":{"type":"Date"},"ACL":{"type":"ACL"},"name":{"type":"String"},"users":{"type":"Relation","targetClass":"_User"},"roles":{"type":"Relation","targetClass":"_Role"}},"classLevelPermissions":{"ACL":{"*":{"read":true,"write":true}},"find":{"*":true},"count":{"*":true},"get":{"*":true},"create":{"*":true},"update":{"*":true},"delete":{"*":true},"addField":{"*":true},"protectedFields":{"*":[]}}}"#,
    ),
    (
        "_Session",
        r#"{"className":"_Session","fields":{"objectId":{"type":"String"},"createdAt":{"type":"Date"},"updatedAt":{"type":"Date"},"ACL":{"type":"ACL"},"user":{"type":"Pointer","targetClass":"_User"},"installationId":{"type":"String"},"expiresAt":{"type":"Date"},"createdWith":{"type":"Object"}},"classLevelPermissions":{"ACL":{"*":{"read":true,"write":true}},"find":{"*":true},"count":{"*":true},"get":{"*":true},"create":{"*":true},"update":{"*":true},"delete":{"*":true},"addField":{"*":true},"protectedFields":{"*":[]}}}"#,
    ),
];

/// The schema a migrated system class starts from (see [`MIGRATED`]).
fn migrated(class: &str) -> Option<ClassSchema> {
    let (_, json) = MIGRATED.iter().find(|(c, _)| *c == class)?;
    let v: Value = serde_json::from_str(json).ok()?;
    ClassSchema::from_json(&v).ok()
}

/// How many times a request whose statement met a dropped table or column
/// ([`crate::error::ApiError::is_stale`]) reads the schema again and retries.
pub const STALE_RETRIES: u32 = 5;

pub struct Schemas {
    cache: RwLock<HashMap<String, Arc<ClassSchema>>>,
    change: tokio::sync::Mutex<()>,
    /// Counts the cache's changes, so that a reload does not put back what it read before
    /// a change published while it read.
    generation: std::sync::atomic::AtomicU64,
}

impl SchemaSource for Schemas {
    fn class(&self, name: &str) -> Option<Arc<ClassSchema>> {
        self.get(name)
    }
}

/// A class schema as a write left it; `changed` if the write's transaction altered it.
#[derive(Debug, Clone)]
pub struct Ensured {
    pub schema: Arc<ClassSchema>,
    pub changed: bool,
    /// Whether the write created the class.
    created: bool,
    /// The fields the write added.
    added: Vec<(String, FieldType)>,
}

/// What a caller may do to the schema while writing.
#[derive(Debug, Clone, Copy)]
pub struct Growth {
    pub create_class: bool,
    pub add_field: bool,
}

impl Schemas {
    pub async fn load(storage: &Storage) -> Result<Self, String> {
        let s = Self {
            cache: RwLock::new(HashMap::new()),
            change: tokio::sync::Mutex::new(()),
            generation: std::sync::atomic::AtomicU64::new(0),
        };
        s.reload(storage).await.map_err(|e| e.message)?;
        Ok(s)
    }

    /// Re-reads every class from `_SCHEMA`. If this node published a change meanwhile, what
    /// was read may predate it: read again (a few times at most, then keep the last read).
    pub async fn reload(&self, storage: &Storage) -> ApiResult<()> {
        use std::sync::atomic::Ordering;
        for attempt in 0..4 {
            let seen = self.generation.load(Ordering::SeqCst);
            let mut sql = Sql::new(storage.dialect());
            sql.push("SELECT \"schema\" FROM \"_SCHEMA\"");
            let rows = storage.fetch(&sql, &[Col::Json]).await?;
            let mut map = HashMap::new();
            for row in rows {
                if let Some(Cell::Json(v)) = row.into_iter().next() {
                    let s = ClassSchema::from_json(&v)?;
                    map.insert(s.class_name.clone(), Arc::new(s));
                }
            }
            let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
            if self.generation.load(Ordering::SeqCst) == seen || attempt == 3 {
                *cache = map;
                self.generation.fetch_add(1, Ordering::SeqCst);
                break;
            }
        }
        Ok(())
    }

    /// After a statement met a dropped table or column ([`ApiError::is_stale`]): reads the
    /// schema again so the caller may retry, or answers `stale` when it has retried
    /// [`STALE_RETRIES`] times already.
    pub async fn again(
        &self,
        storage: &Storage,
        retries: &mut u32,
        stale: ApiError,
    ) -> ApiResult<()> {
        if *retries >= STALE_RETRIES {
            return Err(stale);
        }
        *retries += 1;
        self.reload(storage).await
    }

    fn changed(&self) {
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn get(&self, class: &str) -> Option<Arc<ClassSchema>> {
        self.cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(class)
            .cloned()
    }

    pub fn all(&self) -> Vec<Arc<ClassSchema>> {
        let mut v: Vec<_> = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        v.sort_by(|a, b| a.class_name.cmp(&b.class_name));
        v
    }

    fn put(&self, s: ClassSchema) -> Arc<ClassSchema> {
        let s = Arc::new(s);
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(s.class_name.clone(), s.clone());
        self.changed();
        s
    }

    fn remove(&self, class: &str) {
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(class);
        self.changed();
    }

    /// The cached schema if it already has `fields` with these types (the common case: no
    /// transaction needed); `None` if the schema must grow; 111 on a type mismatch.
    pub fn cached(
        &self,
        class: &str,
        fields: &[(String, FieldType)],
    ) -> ApiResult<Option<Arc<ClassSchema>>> {
        let Some(s) = self.get(class) else {
            return Ok(None);
        };
        Ok(has_all(&s, fields)?.then_some(s))
    }

    /// Makes sure `class` exists with `fields` of these types, adding what is missing inside
    /// the caller's transaction, so a write that fails leaves the schema as it was. Reads the
    /// stored schema under its lock (the caller has looked at the cache already), so what it
    /// answers is what the transaction's statements may name. A field already of another type
    /// is error 111. Call [`Schemas::commit`] with the result once the transaction has
    /// committed.
    pub async fn ensure(
        &self,
        tx: &mut Tx,
        class: &str,
        fields: &[(String, FieldType)],
        growth: Growth,
    ) -> ApiResult<Ensured> {
        // A migrated system class is not created by the write, only given its schema back
        // (Parse lets any client bring its system classes into being).
        let kept = migrated(class);
        if !growth.create_class && kept.is_none() && self.get(class).is_none() {
            return Err(ApiError::forbidden("Permission denied"));
        }
        if !is_valid_class_name(class) {
            return Err(ApiError::invalid_json(
                "schema class name does not revalidate",
            ));
        }
        // Claim the class's `_SCHEMA` row first: a concurrent creator waits here, then sees ours.
        let mut claim = Sql::new(tx.dialect());
        claim.push("INSERT INTO \"_SCHEMA\" (\"className\", \"schema\") VALUES (");
        claim.bind(Bind::Text(class.to_string()));
        claim.push(", ");
        claim.bind(Bind::Json(ClassSchema::new(class).to_json()));
        claim.push(") ON CONFLICT (\"className\") DO NOTHING");
        let created = tx.execute(&claim).await? == 1;
        let mut made = false;
        let mut schema = match read_locked(tx, class).await? {
            Some(s) if !created => s,
            _ => {
                match kept {
                    // Its schema was deleted; its table never goes.
                    Some(s) => s,
                    None if !growth.create_class => {
                        return Err(ApiError::forbidden("Permission denied"));
                    }
                    None => {
                        create_tables(tx, class).await?;
                        made = true;
                        ClassSchema::new(class)
                    }
                }
            }
        };
        has_all(&schema, fields)?;
        let mut added = Vec::new();
        for (name, ty) in fields {
            if schema.fields.contains_key(name) {
                continue;
            }
            if !growth.add_field {
                return Err(ApiError::forbidden("Permission denied"));
            }
            add_field(tx, class, name, ty).await?;
            schema.fields.insert(name.clone(), ty.clone());
            added.push((name.clone(), ty.clone()));
        }
        // Another write may have added the fields since the caller looked at the cache: the
        // schema read under the lock is then the one to use, and nothing changes.
        let changed = made || !added.is_empty();
        if changed {
            write(tx, &schema).await?;
        }
        Ok(Ensured {
            schema: Arc::new(schema),
            changed,
            created: made,
            added,
        })
    }

    /// Publishes a schema changed by [`Schemas::ensure`] after its transaction committed: the
    /// fields it added join the cached schema (another write may have published others
    /// meanwhile). Only those: a field the ensure merely saw may have been deleted since, and
    /// putting its whole schema back would bring that field back to the cache.
    pub fn commit(&self, ensured: &Ensured) {
        if !ensured.changed {
            return;
        }
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        let merged = match cache.get(&ensured.schema.class_name) {
            Some(cur) if !ensured.created => {
                let mut m = (**cur).clone();
                for (k, t) in &ensured.added {
                    m.fields.entry(k.clone()).or_insert_with(|| t.clone());
                }
                Arc::new(m)
            }
            _ => ensured.schema.clone(),
        };
        cache.insert(merged.class_name.clone(), merged);
        drop(cache);
        self.changed();
    }

    /// `POST /schemas/:className`.
    pub async fn create(
        &self,
        storage: &Storage,
        schema: ClassSchema,
    ) -> ApiResult<Arc<ClassSchema>> {
        let _guard = self.change.lock().await;
        let mut tx = storage.begin().await?;
        if read_locked(&mut tx, &schema.class_name).await?.is_some() {
            return Err(ApiError::new(
                Code::InvalidClassName,
                format!("Class {} already exists.", schema.class_name),
            ));
        }
        // A migrated system class whose schema was deleted comes back with its defaults, on
        // the table it kept; the request's fields are added to them.
        let schema = match migrated(&schema.class_name) {
            Some(mut base) => {
                for (name, ty) in &schema.fields {
                    if !base.fields.contains_key(name) {
                        add_field(&mut tx, &schema.class_name, name, ty).await?;
                        base.fields.insert(name.clone(), ty.clone());
                    }
                }
                base.field_options = schema.field_options;
                base.class_level_permissions = schema.class_level_permissions;
                base.indexes = schema.indexes;
                base
            }
            None => {
                create_tables(&mut tx, &schema.class_name).await?;
                for (name, ty) in &schema.fields {
                    if !basalt_query::schema::default_fields().contains_key(name) {
                        add_field(&mut tx, &schema.class_name, name, ty).await?;
                    }
                }
                schema
            }
        };
        for (name, spec) in &schema.indexes {
            create_index(&mut tx, &schema, name, spec).await?;
        }
        write(&mut tx, &schema).await?;
        tx.commit().await?;
        Ok(self.put(schema))
    }

    /// `PUT /schemas/:className`: applies field, index and CLP changes to the stored schema.
    pub async fn update(
        &self,
        storage: &Storage,
        class: &str,
        change: SchemaChange,
    ) -> ApiResult<Arc<ClassSchema>> {
        let _guard = self.change.lock().await;
        let mut tx = storage.begin().await?;
        let mut schema = read_locked(&mut tx, class).await?.ok_or_else(|| {
            ApiError::new(
                Code::InvalidClassName,
                format!("Class {class} does not exist."),
            )
        })?;
        // As Parse: every deleted field must exist (a default one always does in Parse's
        // schema), then none may be a default field; only then does anything change.
        for name in &change.delete_fields {
            if !schema.fields.contains_key(name) && !is_default_field(class, name) {
                return Err(ApiError::with_code(
                    255,
                    format!("Field {name} does not exist, cannot delete."),
                ));
            }
        }
        if let Some(name) = change
            .delete_fields
            .iter()
            .find(|name| is_default_field(class, name))
        {
            return Err(ApiError::with_code(
                136,
                format!("field {name} cannot be changed"),
            ));
        }
        for name in &change.delete_fields {
            drop_field(&mut tx, &mut schema, name).await?;
        }
        for (name, ty) in &change.add_fields {
            if schema.fields.contains_key(name) {
                return Err(ApiError::with_code(
                    255,
                    format!("Field {name} exists, cannot update."),
                ));
            }
            add_field(&mut tx, class, name, ty).await?;
            schema.fields.insert(name.clone(), ty.clone());
        }
        for name in &change.delete_indexes {
            if !drop_index_decl(&mut tx, &mut schema, name).await? {
                return Err(ApiError::with_code(
                    255,
                    format!("Index \"{name}\" does not exist, cannot delete."),
                ));
            }
        }
        if !change.add_indexes.is_empty() && !schema.indexes.contains_key("_id_") {
            // Parse lists the primary-key index as `_id_` once indexes are edited; so do we.
            schema
                .indexes
                .insert("_id_".into(), serde_json::json!({"_id": 1}));
        }
        for (name, spec) in &change.add_indexes {
            if schema.indexes.contains_key(name) {
                return Err(ApiError::with_code(
                    255,
                    format!("Index \"{name}\" exists, cannot update."),
                ));
            }
            create_index(&mut tx, &schema, name, spec).await?;
            schema.indexes.insert(name.clone(), spec.clone());
        }
        if let Some(clp) = change.class_level_permissions {
            schema.class_level_permissions = clp;
        }
        write(&mut tx, &schema).await?;
        tx.commit().await?;
        Ok(self.put(schema))
    }

    /// Whether a declared index of `schema` starts with `field`, a String or Pointer: the
    /// fields that get ACL keys.
    pub fn keyable(schema: &ClassSchema, field: &str) -> bool {
        matches!(
            schema.fields.get(field),
            Some(FieldType::String | FieldType::Pointer(_))
        ) && schema
            .indexes
            .values()
            .any(|spec| first_field(spec) == Some(field))
    }

    /// SQLite: builds the ACL keys of `field` (storage's `acl_keys`), if the stored schema
    /// still has a declared index that starts with it. Under the schema lock, so no field or
    /// index goes meanwhile.
    pub async fn build_acl_keys(
        &self,
        storage: &Storage,
        class: &str,
        field: &str,
    ) -> ApiResult<()> {
        let _guard = self.change.lock().await;
        let mut tx = storage.begin().await?;
        let Some(schema) = read_locked(&mut tx, class).await? else {
            return Ok(());
        };
        if !Self::keyable(&schema, field) {
            return Ok(());
        }
        tx.create_acl_keys(class, field).await?;
        tx.commit().await?;
        Ok(())
    }

    /// `DELETE /schemas/:className`: only an empty class may be dropped.
    pub async fn delete(&self, storage: &Storage, class: &str) -> ApiResult<()> {
        let _guard = self.change.lock().await;
        let mut tx = storage.begin().await?;
        let Some(schema) = read_locked(&mut tx, class).await? else {
            return Ok(());
        };
        let mut count = Sql::new(tx.dialect());
        count.push("SELECT COUNT(*) FROM ").ident(class);
        let n = match tx
            .fetch(&count, &[Col::Int])
            .await?
            .first()
            .and_then(|r| r.first())
        {
            Some(Cell::Int(n)) => *n,
            _ => 0,
        };
        if n > 0 {
            return Err(ApiError::with_code(
                255,
                format!("Class {class} is not empty, contains {n} objects, cannot drop schema."),
            ));
        }
        if let Some(base) = migrated(class) {
            // The server's own statements use this table: it stays, without what the app
            // added to it (the class is empty, so no data goes).
            let mut schema = schema;
            let indexes: Vec<String> = schema.indexes.keys().cloned().collect();
            for name in indexes {
                drop_index_decl(&mut tx, &mut schema, &name).await?;
            }
            let added: Vec<String> = schema
                .fields
                .keys()
                .filter(|f| !base.fields.contains_key(*f))
                .cloned()
                .collect();
            for name in added {
                drop_field(&mut tx, &mut schema, &name).await?;
            }
        } else {
            for (name, ty) in &schema.fields {
                if matches!(ty, FieldType::Relation(_)) {
                    tx.ddl(&storage::drop_table(&storage::join_table(class, name)))
                        .await?;
                } else {
                    tx.drop_acl_keys(class, name).await?;
                }
            }
            tx.ddl(&storage::drop_table(class)).await?;
        }
        let mut del = Sql::new(tx.dialect());
        del.push("DELETE FROM \"_SCHEMA\" WHERE \"className\" = ");
        del.bind(Bind::Text(class.to_string()));
        tx.execute(&del).await?;
        tx.commit().await?;
        self.remove(class);
        Ok(())
    }
}

/// The first field of a declared index's spec (`{field: 1, …}`).
fn first_field(spec: &Value) -> Option<&str> {
    spec.as_object()?.keys().next().map(String::as_str)
}

/// Drops `name`'s column (or join table) and removes it from `schema`.
async fn drop_field(tx: &mut Tx, schema: &mut ClassSchema, name: &str) -> ApiResult<()> {
    let class = schema.class_name.clone();
    let Some(ty) = schema.fields.get(name).cloned() else {
        return Ok(());
    };
    match ty {
        FieldType::Relation(_) => {
            tx.ddl(&storage::drop_table(&storage::join_table(&class, name)))
                .await?
        }
        _ if ty.column().is_some() => {
            // SQLite cannot drop an indexed column (PostgreSQL drops the indexes with it).
            // Parse goes on listing such indexes, and so does Basalt.
            if tx.dialect() == Dialect::Sqlite {
                for (index, spec) in &schema.indexes {
                    if spec.get(name).is_some() {
                        tx.ddl(&storage::drop_index(&class, index)).await?;
                    }
                }
                // Its ACL keys' triggers name the column too.
                tx.drop_acl_keys(&class, name).await?;
            }
            let stmt = storage::drop_column(tx.dialect(), &class, name);
            tx.ddl(&stmt).await?
        }
        _ => {}
    }
    schema.fields.shift_remove(name);
    Ok(())
}

/// Drops the declared index `name` (and the ACL keys of its first field, if no other index
/// starts with it); false if `schema` declares no such index.
async fn drop_index_decl(tx: &mut Tx, schema: &mut ClassSchema, name: &str) -> ApiResult<bool> {
    let Some(spec) = schema.indexes.shift_remove(name) else {
        return Ok(false);
    };
    let unkeyed =
        first_field(&spec).filter(|f| !schema.indexes.values().any(|s| first_field(s) == Some(f)));
    tx.drop_declared_index(&schema.class_name, name, unkeyed)
        .await?;
    Ok(true)
}

/// Field, index and CLP edits for [`Schemas::update`].
#[derive(Debug, Default)]
pub struct SchemaChange {
    pub add_fields: Vec<(String, FieldType)>,
    pub delete_fields: Vec<String>,
    pub add_indexes: Vec<(String, Value)>,
    pub delete_indexes: Vec<String>,
    pub class_level_permissions: Option<Value>,
}

/// Whether `schema` has every one of `fields` already; 111 if one has another type. One
/// lookup a field: this runs on every write.
fn has_all(schema: &ClassSchema, fields: &[(String, FieldType)]) -> ApiResult<bool> {
    let mut all = true;
    for (name, ty) in fields {
        match schema.fields.get(name) {
            Some(existing) if existing != ty => {
                return Err(ApiError::new(
                    Code::IncorrectType,
                    format!(
                        "schema mismatch for {}.{name}; expected {existing} but got {ty}",
                        schema.class_name
                    ),
                ));
            }
            Some(_) => {}
            None => all = false,
        }
    }
    Ok(all)
}

/// Reads a class's stored schema, locking its row on PostgreSQL until the transaction ends.
async fn read_locked(tx: &mut Tx, class: &str) -> ApiResult<Option<ClassSchema>> {
    let mut sql = Sql::new(tx.dialect());
    sql.push("SELECT \"schema\" FROM \"_SCHEMA\" WHERE \"className\" = ");
    sql.bind(Bind::Text(class.to_string()));
    if tx.dialect() == Dialect::Postgres {
        sql.push(" FOR UPDATE");
    }
    let rows = tx.fetch(&sql, &[Col::Json]).await?;
    match rows.into_iter().next().and_then(|r| r.into_iter().next()) {
        Some(Cell::Json(v)) => Ok(Some(ClassSchema::from_json(&v)?)),
        _ => Ok(None),
    }
}

async fn write(tx: &mut Tx, schema: &ClassSchema) -> ApiResult<()> {
    let mut sql = Sql::new(tx.dialect());
    sql.push("INSERT INTO \"_SCHEMA\" (\"className\", \"schema\") VALUES (");
    sql.bind(Bind::Text(schema.class_name.clone()));
    sql.push(", ");
    sql.bind(Bind::Json(schema.to_json()));
    sql.push(") ON CONFLICT (\"className\") DO UPDATE SET \"schema\" = excluded.\"schema\"");
    tx.execute(&sql).await?;
    Ok(())
}

pub fn invalid_class_name(class: &str) -> ApiError {
    ApiError::new(
        Code::InvalidClassName,
        format!(
            "Invalid classname: {class}, classnames can only have alphanumeric characters and _, and must start with an alpha character "
        ),
    )
}

async fn create_tables(tx: &mut Tx, class: &str) -> ApiResult<()> {
    if !is_valid_class_name(class) {
        return Err(invalid_class_name(class));
    }
    for stmt in storage::create_class_table(tx.dialect(), class) {
        tx.ddl(&stmt).await?;
    }
    Ok(())
}

async fn add_field(tx: &mut Tx, class: &str, name: &str, ty: &FieldType) -> ApiResult<()> {
    match ty {
        FieldType::Relation(_) => {
            for stmt in storage::create_join_table(tx.dialect(), class, name) {
                tx.ddl(&stmt).await?;
            }
        }
        _ => {
            if let Some(kind) = ty.column() {
                tx.ddl(&storage::add_column(tx.dialect(), class, name, kind.into()))
                    .await?;
            }
        }
    }
    Ok(())
}

/// Creates a declared index: `{"field": 1, "other": -1}`.
async fn create_index(
    tx: &mut Tx,
    schema: &ClassSchema,
    name: &str,
    spec: &Value,
) -> ApiResult<()> {
    let obj = spec.as_object().filter(|o| !o.is_empty()).ok_or_else(|| {
        ApiError::with_code(
            255,
            format!("Index \"{name}\" must be an object of field: 1 or -1"),
        )
    })?;
    let mut fields = Vec::new();
    for (field, dir) in obj {
        let ty = schema.fields.get(field).ok_or_else(|| {
            ApiError::with_code(
                102,
                format!("Field {field} does not exist, cannot add index."),
            )
        })?;
        let Some(kind) = ty.column() else {
            return Err(ApiError::with_code(
                255,
                format!("Field {field} cannot be indexed."),
            ));
        };
        fields.push((field.clone(), dir.as_i64() != Some(-1), kind.into()));
    }
    tx.create_declared_index(&schema.class_name, name, &fields)
        .await
        .map_err(ApiError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`MIGRATED`] must be what the migrations store, on both databases: a class brought
    /// back after its schema was deleted then has the schema it was born with.
    #[test]
    fn migrated_schemas_are_the_migrations_own() {
        for sql in [
            include_str!("../../../../migrations/sqlite/0003_users.sql"),
            include_str!("../../../../migrations/postgres/0003_users.sql"),
        ] {
            for (class, json) in MIGRATED {
                assert!(
                    sql.contains(&format!("('{class}', '{json}')")),
                    "the migration stores another schema for {class}"
                );
                let s = migrated(class).expect("a valid schema");
                assert_eq!(s.class_name, class);
                for f in s.fields.keys() {
                    assert!(
                        is_default_field(class, f),
                        "{class}.{f} is not a default field"
                    );
                }
            }
            assert_eq!(sql.matches("INSERT INTO \"_SCHEMA\"").count(), 1);
            assert_eq!(sql.matches("('_").count(), MIGRATED.len());
        }
        assert!(migrated("Post").is_none());
    }
}
