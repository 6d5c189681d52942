//! SQLite: one writer connection and a pool of readers on a WAL database.
//!
//! `synchronous=NORMAL` in WAL mode: a committed transaction is in the WAL before the commit
//! returns, so it survives the process being killed (`kill -9`); only an OS crash or power loss
//! can lose the last commits before a checkpoint. `busy_timeout` covers the moments a checkpoint
//! holds the file.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use basalt_query::{Bind, Sql};
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Executor, Row, Sqlite, SqlitePool};

use super::{Cell, Col, StorageError, StorageResult, map_err};
use basalt_query::value::{format_date, parse_iso};

#[derive(Clone)]
pub struct SqliteStore {
    pub writer: SqlitePool,
    pub reader: SqlitePool,
}

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "system",
        include_str!("../../../../migrations/sqlite/0001_system.sql"),
    ),
    (
        2,
        "files",
        include_str!("../../../../migrations/sqlite/0002_files.sql"),
    ),
];

impl SqliteStore {
    pub async fn open(path: &Path) -> Result<Self, sqlx::Error> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(false)
            .with_regexp()
            .pragma("cache_size", "-16000")
            .pragma("temp_store", "memory");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(opts.clone())
            .await?;
        let readers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 8) as u32;
        let reader = SqlitePoolOptions::new()
            .max_connections(readers)
            .min_connections(1)
            .connect_with(opts.read_only(true))
            .await?;
        Ok(Self { writer, reader })
    }

    pub async fn migrate(&self) -> StorageResult<()> {
        let mut conn = self.writer.acquire().await.map_err(map_err)?;
        conn.execute("CREATE TABLE IF NOT EXISTS _basalt_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
            .await
            .map_err(map_err)?;
        for (version, name, body) in MIGRATIONS {
            let done: Option<i64> =
                sqlx::query_scalar("SELECT version FROM _basalt_migrations WHERE version = ?1")
                    .bind(version)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(map_err)?;
            if done.is_some() {
                continue;
            }
            let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(map_err)?;
            tx.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(*body)))
                .await
                .map_err(map_err)?;
            sqlx::query(
                "INSERT INTO _basalt_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            )
            .bind(version)
            .bind(name)
            .bind(format_date(&chrono::Utc::now()))
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
            tx.commit().await.map_err(map_err)?;
        }
        Ok(())
    }
}

fn query(sql: &Sql) -> sqlx::query::Query<'_, Sqlite, sqlx::sqlite::SqliteArguments> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.text.as_str()));
    for b in &sql.binds {
        q = match b {
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Float(f) => q.bind(*f),
            Bind::Int(i) => q.bind(*i),
            Bind::Bool(b) => q.bind(*b),
            Bind::Date(d) => q.bind(format_date(d)),
            Bind::Json(v) => q.bind(v.to_string()),
            Bind::TextArray(a) => q.bind(Value::from(a.clone()).to_string()),
            Bind::Bytes(b) => q.bind(b.as_slice()),
        };
    }
    q
}

pub async fn execute<'e, E: Executor<'e, Database = Sqlite>>(
    ex: E,
    sql: &Sql,
) -> StorageResult<u64> {
    query(sql)
        .execute(ex)
        .await
        .map(|r| r.rows_affected())
        .map_err(map_err)
}

pub async fn fetch<'e, E: Executor<'e, Database = Sqlite>>(
    ex: E,
    sql: &Sql,
    cols: &[Col],
) -> StorageResult<Vec<Vec<Cell>>> {
    let rows = query(sql).fetch_all(ex).await.map_err(map_err)?;
    rows.iter().map(|row| decode(row, cols)).collect()
}

fn decode(row: &SqliteRow, cols: &[Col]) -> StorageResult<Vec<Cell>> {
    let bad = |e: sqlx::Error| StorageError::Database(e.to_string());
    cols.iter()
        .enumerate()
        .map(|(i, col)| {
            Ok(match col {
                Col::Text => row
                    .try_get::<Option<String>, _>(i)
                    .map_err(bad)?
                    .map_or(Cell::Null, Cell::Text),
                Col::Bytes => row
                    .try_get::<Option<Vec<u8>>, _>(i)
                    .map_err(bad)?
                    .map_or(Cell::Null, Cell::Bytes),
                Col::Float => row
                    .try_get_unchecked::<Option<f64>, _>(i)
                    .map_err(bad)?
                    .map_or(Cell::Null, Cell::Float),
                Col::Int => row
                    .try_get_unchecked::<Option<i64>, _>(i)
                    .map_err(bad)?
                    .map_or(Cell::Null, Cell::Int),
                Col::Bool => row
                    .try_get_unchecked::<Option<bool>, _>(i)
                    .map_err(bad)?
                    .map_or(Cell::Null, Cell::Bool),
                Col::Date => match row.try_get::<Option<String>, _>(i).map_err(bad)? {
                    None => Cell::Null,
                    Some(s) => parse_iso(&s).map_or(Cell::Null, Cell::Date),
                },
                Col::Json => match row.try_get::<Option<String>, _>(i).map_err(bad)? {
                    None => Cell::Null,
                    Some(s) => serde_json::from_str(&s).map_or(Cell::Null, Cell::Json),
                },
                Col::Perms => match row.try_get::<Option<String>, _>(i).map_err(bad)? {
                    None => Cell::Null,
                    Some(s) => serde_json::from_str(&s).map_or(Cell::Null, Cell::Perms),
                },
            })
        })
        .collect()
}
