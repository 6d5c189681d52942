//! The only module that knows which database it is talking to.
//!
//! [`Storage`] holds a SQLite or PostgreSQL pool; everything above it speaks in compiled
//! [`Sql`] (from `basalt-query`), column kinds and decoded [`Cell`]s. Classes are tables with one
//! typed column per field (as Parse's own PostgreSQL adapter lays them out), plus `objectId`,
//! `createdAt`, `updatedAt`, `_rperm` and `_wperm`; relations are `_Join:field:Class` tables.

mod acl_keys;
mod ddl;
mod pg_conns;
mod postgres;
mod sqlite;

use basalt_query::{Dialect, Sql};
use chrono::{DateTime, Utc};
use serde_json::Value;

pub use ddl::{
    add_column, column_type, create_class_table, create_index, create_join_table, drop_column,
    drop_index, drop_table, join_table,
};
pub use sqlite::BatchHold;

/// How to decode one selected column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    Text,
    Float,
    Bool,
    Date,
    Json,
    Perms,
    Int,
    Bytes,
}

impl From<basalt_query::ColumnKind> for Col {
    fn from(k: basalt_query::ColumnKind) -> Self {
        use basalt_query::ColumnKind as K;
        match k {
            K::Text => Col::Text,
            K::Float => Col::Float,
            K::Boolean => Col::Bool,
            K::Date => Col::Date,
            K::Json => Col::Json,
        }
    }
}

/// One decoded column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Float(f64),
    Bool(bool),
    Date(DateTime<Utc>),
    Json(Value),
    Perms(Vec<String>),
    Int(i64),
    Bytes(Vec<u8>),
}

/// One column value as read, its text and bytes still borrowed from the row: what a [`Cell`]
/// holds, for a reader that writes the value out and needs no copy of it.
#[derive(Debug, Clone, PartialEq)]
pub enum CellRef<'a> {
    Null,
    Text(&'a str),
    Float(f64),
    Bool(bool),
    Date(DateTime<Utc>),
    Json(Value),
    Perms(Vec<String>),
    Int(i64),
    Bytes(&'a [u8]),
}

impl CellRef<'_> {
    pub fn into_owned(self) -> Cell {
        match self {
            CellRef::Null => Cell::Null,
            CellRef::Text(s) => Cell::Text(s.to_owned()),
            CellRef::Float(f) => Cell::Float(f),
            CellRef::Bool(b) => Cell::Bool(b),
            CellRef::Date(d) => Cell::Date(d),
            CellRef::Json(v) => Cell::Json(v),
            CellRef::Perms(p) => Cell::Perms(p),
            CellRef::Int(i) => Cell::Int(i),
            CellRef::Bytes(b) => Cell::Bytes(b.to_vec()),
        }
    }
}

#[cfg(test)]
impl Cell {
    /// The cell as a reader of [`CellRef`]s takes it (JSON and permissions copied): for tests
    /// that feed owned rows to such a reader.
    pub fn as_ref(&self) -> CellRef<'_> {
        match self {
            Cell::Null => CellRef::Null,
            Cell::Text(s) => CellRef::Text(s),
            Cell::Float(f) => CellRef::Float(*f),
            Cell::Bool(b) => CellRef::Bool(*b),
            Cell::Date(d) => CellRef::Date(*d),
            Cell::Json(v) => CellRef::Json(v.clone()),
            Cell::Perms(p) => CellRef::Perms(p.clone()),
            Cell::Int(i) => CellRef::Int(*i),
            Cell::Bytes(b) => CellRef::Bytes(b),
        }
    }
}

/// What [`Storage::fetch_each`] hands its reader for each row: the row's cells in the order of
/// the columns asked for, each decoded when taken.
pub type RowCells<'r, 'i> = &'i mut dyn Iterator<Item = StorageResult<CellRef<'r>>>;

/// A reader of rows for [`Storage::fetch_each`]: called once per row, in order.
pub type EachRow<'a> = dyn for<'r, 'i> FnMut(RowCells<'r, 'i>) -> StorageResult<()> + Send + 'a;

/// One row's cells, each copied out of the row.
fn owned_row(cells: RowCells<'_, '_>) -> StorageResult<Vec<Cell>> {
    cells.map(|c| c.map(CellRef::into_owned)).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("duplicate value")]
    Duplicate,
    #[error("statement timed out")]
    Timeout,
    #[error("{0}")]
    Invalid(String),
    #[error("database error: {0}")]
    Database(String),
    /// A write that cannot be done here (the message says why).
    #[error("{0}")]
    Refused(String),
    /// The statement named a table or column that is gone: the schema it was built from was
    /// changed meanwhile (a field or class deleted by another request, maybe on another node).
    #[error("schema changed: {0}")]
    Stale(String),
}

pub type StorageResult<T> = Result<T, StorageError>;

/// Where the data lives, parsed from `--databaseURI`.
#[derive(Debug, Clone, PartialEq)]
pub enum DatabaseUri {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl DatabaseUri {
    pub fn parse(s: &str) -> Result<Self, String> {
        if let Some(path) = s
            .strip_prefix("sqlite://")
            .or_else(|| s.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                return Err(
                    "sqlite URI has no file path (expected sqlite://path/to/file.db)".into(),
                );
            }
            Ok(Self::Sqlite(path.into()))
        } else if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            Ok(Self::Postgres(s.to_string()))
        } else {
            Err(format!(
                "unsupported database URI `{}` (expected sqlite://… or postgres://…)",
                redact(s)
            ))
        }
    }

    /// The URI with any password removed, for messages.
    pub fn display(&self) -> String {
        match self {
            Self::Sqlite(p) => format!("sqlite://{}", p.display()),
            Self::Postgres(u) => redact(u),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
fn redact(uri: &str) -> String {
    match (uri.find("://"), uri.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &uri[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &uri[..s + 3], &uri[at..]),
                None => uri.to_string(),
            }
        }
        _ => uri.to_string(),
    }
}

#[derive(Clone)]
pub enum Storage {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

/// A write transaction. Schema changes and data writes in one request share it.
pub enum Tx {
    Sqlite(sqlite::SqliteTx),
    Postgres(PgTx),
}

/// A PostgreSQL transaction, and whether it changed tables (see [`PgStore::schema_changed`]).
pub struct PgTx {
    lease: pg_conns::Lease,
    store: postgres::PgStore,
    ddl: bool,
}

impl Storage {
    /// Connects and applies the embedded migrations. Fails with a message naming the database.
    pub async fn open(uri: &DatabaseUri) -> Result<Self, String> {
        let storage = match uri {
            DatabaseUri::Sqlite(path) => Storage::Sqlite(
                sqlite::SqliteStore::open(path)
                    .await
                    .map_err(|e| format!("cannot open SQLite database {}: {e}", uri.display()))?,
            ),
            DatabaseUri::Postgres(url) => {
                Storage::Postgres(postgres::PgStore::open(url).await.map_err(|e| {
                    format!("cannot connect to PostgreSQL at {}: {e}", uri.display())
                })?)
            }
        };
        storage
            .migrate()
            .await
            .map_err(|e| format!("cannot apply migrations to {}: {e}", uri.display()))?;
        Ok(storage)
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Storage::Sqlite(_) => Dialect::Sqlite,
            Storage::Postgres(_) => Dialect::Postgres,
        }
    }

    async fn migrate(&self) -> StorageResult<()> {
        match self {
            Storage::Sqlite(s) => s.migrate().await,
            Storage::Postgres(s) => s.migrate().await,
        }
    }

    pub async fn begin(&self) -> StorageResult<Tx> {
        match self {
            Storage::Sqlite(s) => Ok(Tx::Sqlite(s.begin().await?)),
            Storage::Postgres(s) => Ok(Tx::Postgres(PgTx {
                lease: {
                    let mut lease = s.conns.acquire().await.map_err(map_err)?;
                    lease
                        .transaction(pg_conns::Verb::Begin)
                        .await
                        .map_err(map_err)?;
                    lease
                },
                store: s.clone(),
                ddl: false,
            })),
        }
    }

    /// Runs a read and hands each row, decoded by `cols` as it is read, to `each`: nothing is
    /// copied out of the rows that `each` does not copy itself.
    pub async fn fetch_each(
        &self,
        sql: &Sql,
        cols: &[Col],
        each: &mut EachRow<'_>,
    ) -> StorageResult<()> {
        match self {
            Storage::Sqlite(s) => s.fetch_each(sql, cols, each),
            Storage::Postgres(s) => {
                let rows = s.fetch_rows(sql).await?;
                postgres::each_row(&rows, cols, each)
            }
        }
    }

    /// Runs a read and decodes each row by `cols`.
    pub async fn fetch(&self, sql: &Sql, cols: &[Col]) -> StorageResult<Vec<Vec<Cell>>> {
        match self {
            Storage::Sqlite(s) => s.fetch(sql, cols),
            Storage::Postgres(s) => postgres::owned(&s.fetch_rows(sql).await?, cols),
        }
    }

    /// Runs one write outside any transaction (autocommitted).
    pub async fn execute(&self, sql: &Sql) -> StorageResult<u64> {
        match self {
            Storage::Sqlite(s) => s.execute_alone(sql).await,
            Storage::Postgres(s) => postgres::execute(&mut s.lease(sql).await?, sql).await,
        }
    }

    /// Runs one write with `RETURNING` outside any transaction (autocommitted).
    pub async fn write_fetch(&self, sql: &Sql, cols: &[Col]) -> StorageResult<Vec<Vec<Cell>>> {
        match self {
            Storage::Sqlite(s) => s.fetch_alone(sql, cols).await,
            Storage::Postgres(s) => postgres::fetch(&mut s.lease(sql).await?, sql, cols).await,
        }
    }

    /// Whether a user's query with `field = value` on `class` tests its read ACL on the field's
    /// ACL keys (see `acl_keys`).
    pub fn use_acl_keys(&self, class: &str, field: &str, value: &str) -> bool {
        match self {
            Storage::Postgres(s) => s.acl_keys.use_keys(s, class, field, value),
            Storage::Sqlite(s) => s.acl_keys.use_keys(class, field, value, |sql| {
                match s.fetch(sql, &[Col::Int]).ok()?.first()?.first()? {
                    Cell::Int(n) => Some(*n),
                    _ => None,
                }
            }),
        }
    }

    /// SQLite: whether `class` has no ACL keys for `field` yet and no one has set out to build
    /// them; if so, the caller is to build them (see `acl_keys`). Always false on PostgreSQL,
    /// whose key columns come with the declared index.
    pub fn claim_acl_keys(&self, class: &str, field: &str) -> bool {
        match self {
            Storage::Sqlite(s) => s.acl_keys.claim(class, field),
            Storage::Postgres(_) => false,
        }
    }

    /// Another node changed tables: PostgreSQL connections opened before now are not reused.
    pub fn schema_changed(&self) {
        if let Storage::Postgres(s) = self {
            s.schema_changed();
        }
    }

    /// Checks the database answers (for `/health` and `doctor`).
    pub async fn ping(&self) -> StorageResult<()> {
        let sql = {
            let mut s = Sql::new(self.dialect());
            s.push("SELECT CAST(1 AS BIGINT)");
            s
        };
        self.fetch(&sql, &[Col::Int]).await.map(|_| ())
    }
}

impl Tx {
    pub fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(_) => Dialect::Sqlite,
            Tx::Postgres(_) => Dialect::Postgres,
        }
    }

    pub async fn execute(&mut self, sql: &Sql) -> StorageResult<u64> {
        match self {
            Tx::Sqlite(tx) => tx.execute(sql),
            Tx::Postgres(t) => postgres::execute(&mut t.lease, sql).await,
        }
    }

    pub async fn fetch(&mut self, sql: &Sql, cols: &[Col]) -> StorageResult<Vec<Vec<Cell>>> {
        match self {
            Tx::Sqlite(tx) => tx.fetch(sql, cols),
            Tx::Postgres(t) => postgres::fetch(&mut t.lease, sql, cols).await,
        }
    }

    /// Runs raw DDL with no binds (identifiers already validated and quoted).
    pub async fn ddl(&mut self, text: &str) -> StorageResult<()> {
        match self {
            Tx::Postgres(t) => t.ddl = true,
            Tx::Sqlite(t) => t.ddl = true,
        }
        let mut sql = Sql::new(self.dialect());
        sql.push(text);
        self.execute(&sql).await.map(|_| ())
    }

    /// Creates an index declared through `/schemas` (`fields` with ascending flags and column
    /// kinds) and, on PostgreSQL, the ACL key column of its first field when that is text
    /// ([`ddl::acl_key_column`]), else (with `btree_gin` installed) its ACL-aware twin
    /// ([`ddl::acl_twin_index`]).
    pub async fn create_declared_index(
        &mut self,
        class: &str,
        index: &str,
        fields: &[(String, bool, Col)],
    ) -> StorageResult<()> {
        let mut order: Vec<(String, bool)> =
            fields.iter().map(|(f, a, _)| (f.clone(), *a)).collect();
        if self.dialect() == Dialect::Sqlite {
            // SQLite's ACL-aware form: the read ACL as the index's last column, so a query
            // through the index tests each entry's ACL from the index itself and looks up
            // only the rows the caller may read (a user's query over a large class read every
            // row of the range from the table to find its few).
            order.push(("_rperm".to_string(), true));
        }
        self.ddl(&ddl::create_index(class, index, &order, false))
            .await?;
        if self.dialect() == Dialect::Postgres
            && let Some((first, _, Col::Text)) = fields.first()
            && let Some(stmts) = ddl::acl_key_column(class, first)
        {
            for stmt in stmts {
                self.ddl(&stmt).await?;
            }
        } else if self.dialect() == Dialect::Postgres {
            let mut probe = Sql::new(Dialect::Postgres);
            probe.push("SELECT 1::bigint FROM pg_extension WHERE extname = 'btree_gin'");
            let kinds: Vec<(String, Col)> =
                fields.iter().map(|(f, _, c)| (f.clone(), *c)).collect();
            if !self.fetch(&probe, &[Col::Int]).await?.is_empty()
                && let Some(twin) = ddl::acl_twin_index(class, index, &kinds)
            {
                self.ddl(&twin).await?;
            }
        }
        Ok(())
    }

    /// Drops a declared index and its ACL-aware twin, and the ACL key column of `unkeyed`: the
    /// index's first field, when no other declared index starts with it.
    pub async fn drop_declared_index(
        &mut self,
        class: &str,
        index: &str,
        unkeyed: Option<&str>,
    ) -> StorageResult<()> {
        self.ddl(&ddl::drop_index(class, index)).await?;
        if self.dialect() == Dialect::Postgres {
            self.ddl(&ddl::drop_acl_twin_index(class, index)).await?;
            if let Some(stmt) = unkeyed.and_then(|f| ddl::drop_acl_key_column(class, f)) {
                self.ddl(&stmt).await?;
            }
        } else if let Some(field) = unkeyed {
            self.drop_acl_keys(class, field).await?;
        }
        Ok(())
    }

    /// SQLite: builds the ACL keys of `field` ([`ddl::sqlite_acl_keys`]).
    pub async fn create_acl_keys(&mut self, class: &str, field: &str) -> StorageResult<()> {
        if self.dialect() == Dialect::Sqlite {
            for stmt in ddl::sqlite_acl_keys(class, field) {
                self.ddl(&stmt).await?;
            }
        }
        Ok(())
    }

    /// SQLite: drops the ACL keys of `field` if it has them ([`ddl::sqlite_acl_keys`]), as its
    /// column or its class goes. PostgreSQL's go with the column.
    pub async fn drop_acl_keys(&mut self, class: &str, field: &str) -> StorageResult<()> {
        if self.dialect() == Dialect::Sqlite {
            for stmt in ddl::drop_sqlite_acl_keys(class, field) {
                self.ddl(&stmt).await?;
            }
        }
        Ok(())
    }

    pub async fn commit(self) -> StorageResult<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit(),
            Tx::Postgres(mut t) => {
                t.lease
                    .transaction(pg_conns::Verb::Commit)
                    .await
                    .map_err(map_err)?;
                if t.ddl {
                    t.store.schema_changed();
                }
                Ok(())
            }
        }
    }
}

/// Maps a driver error: unique violations and timeouts have Parse codes; the rest is internal.
pub(crate) fn map_err(e: sqlx::Error) -> StorageError {
    if let sqlx::Error::Database(db) = &e {
        let code = db.code().unwrap_or_default();
        // PostgreSQL's unique_violation.
        if code == "23505" {
            return StorageError::Duplicate;
        }
        if code == "57014" {
            return StorageError::Timeout;
        }
        // undefined_column, undefined_table.
        if code == "42703" || code == "42P01" {
            return StorageError::Stale(db.message().to_string());
        }
        // PostgreSQL's data exceptions (class 22): input the database refuses — a NUL byte in
        // text, a regex its engine rejects, a number out of range. The client's fault, so a
        // Parse error, without the database's wording.
        if code.starts_with("22") {
            tracing::debug!(error = %db.message(), "data exception");
            return StorageError::Invalid(match code.as_ref() {
                "2201B" => "Invalid regular expression.".to_string(),
                _ => "A value in the request cannot be stored or compared.".to_string(),
            });
        }
    }
    StorageError::Database(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use basalt_query::compile::{acl_key, acl_key_table};

    async fn sqlite() -> (Storage, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("basalt-keys-{}", crate::ids::random_token(8)));
        let storage = Storage::open(&DatabaseUri::Sqlite(dir.join("t.db")))
            .await
            .expect("open");
        (storage, dir)
    }

    async fn run(storage: &Storage, stmts: &[&str]) {
        let mut tx = storage.begin().await.expect("begin");
        for s in stmts {
            tx.ddl(s).await.unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        tx.commit().await.expect("commit");
    }

    /// The key table's (key, id) rows, with the separator written as `|`.
    async fn keys(storage: &Storage) -> Vec<(String, String)> {
        let mut sql = Sql::new(Dialect::Sqlite);
        sql.push("SELECT \"key\", \"id\" FROM ")
            .ident(&acl_key_table("K", "cat"))
            .push(" ORDER BY 2, 1");
        let rows = storage
            .fetch(&sql, &[Col::Text, Col::Text])
            .await
            .expect("keys");
        rows.into_iter()
            .map(|r| match &r[..] {
                [Cell::Text(k), Cell::Text(id)] => (k.replace('\u{1f}', "|"), id.clone()),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(k, id)| (k.to_string(), id.to_string()))
            .collect()
    }

    /// SQLite's ACL keys (`ddl::sqlite_acl_keys`) hold exactly one key per read entry of each
    /// object and its value of the field, from the rows already there when the index is
    /// declared and through every later insert, update and delete; and a user's query takes
    /// them only where few objects with the value are public.
    #[tokio::test]
    async fn sqlite_acl_keys_follow_every_write() {
        let (storage, dir) = sqlite().await;
        let mut stmts = ddl::create_class_table(Dialect::Sqlite, "K");
        stmts.push(ddl::add_column(Dialect::Sqlite, "K", "cat", Col::Text));
        stmts.push(ddl::add_column(Dialect::Sqlite, "K", "n", Col::Float));
        let row = |id: &str, cat: &str, rperm: &str| {
            format!(
                "INSERT INTO \"K\" VALUES ('{id}', '2026-01-01', '2026-01-01', {rperm}, NULL, {cat}, 0)"
            )
        };
        stmts.push(row("a", "'x'", r#"'["u1","role:r"]'"#));
        stmts.push(row("b", "'x'", "NULL"));
        stmts.push(row("c", "NULL", r#"'["u1"]'"#));
        stmts.push(row("d", "'y'", "'[]'"));
        // Entries and values holding the separator get no key (as `basalt_acl_keys`).
        stmts.push(row("e", "'x'", "'[\"u\u{1f}2\",\"u3\"]'"));
        stmts.push(row("f", "'x\u{1f}'", r#"'["u1"]'"#));
        let stmts: Vec<&str> = stmts.iter().map(String::as_str).collect();
        run(&storage, &stmts).await;
        let mut tx = storage.begin().await.expect("begin");
        tx.create_declared_index("K", "cat_n", &[("cat".into(), true, Col::Text)])
            .await
            .expect("index");
        tx.commit().await.expect("commit");
        // No keys until a user's query asks for them, once.
        assert!(!storage.use_acl_keys("K", "cat", "x"));
        assert!(storage.claim_acl_keys("K", "cat"));
        assert!(!storage.claim_acl_keys("K", "cat"));
        let mut tx = storage.begin().await.expect("begin");
        tx.create_acl_keys("K", "cat").await.expect("keys");
        tx.commit().await.expect("commit");
        assert_eq!(
            keys(&storage).await,
            pairs(&[
                ("role:r|x", "a"),
                ("u1|x", "a"),
                ("*|x", "b"),
                ("u3|x", "e")
            ])
        );

        run(
            &storage,
            &[
                &row("g", "'y'", r#"'["*","u2"]'"#),
                r#"UPDATE "K" SET "cat" = 'y' WHERE "objectId" = 'a'"#,
                r#"UPDATE "K" SET "_rperm" = '["u4"]' WHERE "objectId" = 'b'"#,
                r#"UPDATE "K" SET "cat" = 'z' WHERE "objectId" = 'c'"#,
                r#"UPDATE "K" SET "n" = 5 WHERE "objectId" = 'e'"#,
                r#"DELETE FROM "K" WHERE "objectId" = 'f'"#,
            ],
        )
        .await;
        assert_eq!(
            keys(&storage).await,
            pairs(&[
                ("role:r|y", "a"),
                ("u1|y", "a"),
                ("u4|x", "b"),
                ("u1|z", "c"),
                ("u3|x", "e"),
                ("*|y", "g"),
                ("u2|y", "g"),
            ])
        );
        run(
            &storage,
            &[r#"DELETE FROM "K" WHERE "objectId" IN ('a', 'g')"#],
        )
        .await;
        assert_eq!(
            keys(&storage).await,
            pairs(&[("u4|x", "b"), ("u1|z", "c"), ("u3|x", "e")])
        );

        // Few public objects with `x`: the keys. Many with `w`: the plain test, which walks
        // the declared index in order. A class without keys: the plain test.
        assert!(storage.use_acl_keys("K", "cat", "x"));
        let public: Vec<String> = (0..=500)
            .map(|i| row(&format!("p{i}"), "'w'", "NULL"))
            .collect();
        run(
            &storage,
            &public.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .await;
        assert!(!storage.use_acl_keys("K", "cat", "w"));
        assert!(storage.use_acl_keys("K", "cat", "x"));
        assert!(!storage.use_acl_keys("K", "n", "x"));
        assert!(!storage.use_acl_keys("Other", "cat", "x"));
        assert_eq!(acl_key("*", "w"), "*\u{1f}w");

        // The field deleted: keys and triggers go, and writes go on.
        let mut tx = storage.begin().await.expect("begin");
        tx.drop_acl_keys("K", "cat").await.expect("drop keys");
        tx.ddl(&ddl::drop_index("K", "cat_n")).await.expect("index");
        tx.ddl(&ddl::drop_column(Dialect::Sqlite, "K", "cat"))
            .await
            .expect("column");
        tx.commit().await.expect("commit");
        assert!(!storage.use_acl_keys("K", "cat", "x"));
        run(
            &storage,
            &[r#"UPDATE "K" SET "_rperm" = NULL"#, r#"DELETE FROM "K""#],
        )
        .await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
