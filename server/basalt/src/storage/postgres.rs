//! PostgreSQL: statements run on Basalt's own connection pool (`pg_conns`, one round trip per
//! statement), migrations and the realtime bus on a small sqlx pool; every statement under a
//! `statement_timeout` so no query can hold a connection forever. Migrations take an advisory
//! lock so several nodes can start at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use basalt_query::{Bind, Sql};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{Executor, PgPool, Postgres, Row};

use super::acl_keys::AclKeys;
use super::pg_conns::{Conns, Lease};
use super::{Cell, CellRef, Col, EachRow, StorageError, StorageResult, map_err, owned_row};

#[derive(Clone)]
pub struct PgStore {
    pub pool: PgPool,
    pub conns: Arc<Conns>,
    /// Connections with `plan_cache_mode = force_custom_plan`, for [`Sql::custom_plan`] reads.
    planned: Arc<Conns>,
    /// When the schema last changed (nanoseconds after `epoch`); see [`PgStore::schema_changed`].
    last_ddl: Arc<AtomicU64>,
    epoch: Instant,
    /// When a user's query tests its ACL on a key column.
    pub acl_keys: Arc<AclKeys>,
}

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "system",
        include_str!("../../../../migrations/postgres/0001_system.sql"),
    ),
    (
        2,
        "files",
        include_str!("../../../../migrations/postgres/0002_files.sql"),
    ),
    (
        3,
        "users",
        include_str!("../../../../migrations/postgres/0003_users.sql"),
    ),
    (
        4,
        "acl_index",
        include_str!("../../../../migrations/postgres/0004_acl_index.sql"),
    ),
    (
        5,
        "btree_gin",
        include_str!("../../../../migrations/postgres/0005_btree_gin.sql"),
    ),
    (
        6,
        "events",
        include_str!("../../../../migrations/postgres/0006_events.sql"),
    ),
    (
        7,
        "job_runs",
        include_str!("../../../../migrations/postgres/0007_job_runs.sql"),
    ),
    (
        8,
        "cloud_code",
        include_str!("../../../../migrations/postgres/0008_cloud_code.sql"),
    ),
    (
        9,
        "acl_keys",
        include_str!("../../../../migrations/postgres/0009_acl_keys.sql"),
    ),
];
/// Connections for statements (requests), per node.
const STATEMENT_CONNECTIONS: usize = 30;
/// Connections for reads planned for their values (a user's finds), per node.
const PLANNED_CONNECTIONS: usize = 8;

/// An arbitrary constant naming Basalt's migration lock.
const MIGRATION_LOCK: i64 = 0x6261_7361_6c74;

impl PgStore {
    pub async fn open(url: &str) -> Result<Self, sqlx::Error> {
        let opts: PgConnectOptions = url.parse()?;
        let opts = opts
            .options([("statement_timeout", "15s")])
            .application_name("basalt");
        let epoch = Instant::now();
        let last_ddl = Arc::new(AtomicU64::new(0));
        // Migrations and the realtime bus's NOTIFYs use sqlx's pool; statements use `conns`.
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts.clone())
            .await?;
        // Statements that must be planned for their values run, prepared like the rest (one
        // round trip), on connections where PostgreSQL never falls back to a generic plan.
        let planned = Conns::new(
            opts.clone(),
            PLANNED_CONNECTIONS,
            epoch,
            last_ddl.clone(),
            true,
        );
        let conns = Conns::new(opts, STATEMENT_CONNECTIONS, epoch, last_ddl.clone(), false);
        Ok(Self {
            pool,
            conns,
            planned,
            last_ddl,
            epoch,
            acl_keys: Arc::default(),
        })
    }

    /// A connection for one statement outside any transaction: one that plans every statement
    /// for its values when `sql` asks for that.
    pub async fn lease(&self, sql: &Sql) -> StorageResult<Lease> {
        let conns = if sql.custom_plan {
            &self.planned
        } else {
            &self.conns
        };
        conns.acquire().await.map_err(map_err)
    }

    /// Runs a read on a connection of its own and returns its rows undecoded.
    pub async fn fetch_rows(&self, sql: &Sql) -> StorageResult<Vec<PgRow>> {
        let mut lease = self.lease(sql).await?;
        match fetch_rows(&mut lease, sql).await {
            // A read is safe to repeat: once, on a fresh connection, when the one it got had
            // been closed by the database (a restart since its last use).
            Err(_) if lease.is_broken() => {
                drop(lease);
                fetch_rows(&mut self.lease(sql).await?, sql).await
            }
            r => r,
        }
    }

    /// Records that tables changed (after the commit that changed them, or another node's).
    pub fn schema_changed(&self) {
        self.last_ddl
            .store(self.epoch.elapsed().as_nanos() as u64, Ordering::Release);
        self.acl_keys.forget();
    }

    pub async fn migrate(&self) -> StorageResult<()> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *conn)
            .await
            .map_err(map_err)?;
        let result = async {
            conn.execute("CREATE TABLE IF NOT EXISTS _basalt_migrations (version bigint PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")
                .await
                .map_err(map_err)?;
            for (version, name, body) in MIGRATIONS {
                let done: Option<i64> = sqlx::query_scalar("SELECT version FROM _basalt_migrations WHERE version = $1")
                    .bind(version)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(map_err)?;
                if done.is_some() {
                    continue;
                }
                let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(map_err)?;
                tx.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(*body))).await.map_err(map_err)?;
                sqlx::query("INSERT INTO _basalt_migrations (version, name) VALUES ($1, $2)")
                    .bind(version)
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                tx.commit().await.map_err(map_err)?;
            }
            Ok(())
        }
        .await;
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *conn)
            .await
            .map_err(map_err)?;
        result
    }
}

fn query(
    sql: &Sql,
    lease: &Lease,
) -> sqlx::query::Query<'static, Postgres, sqlx::postgres::PgArguments> {
    // A statement to be planned for its values is prepared only where PostgreSQL plans every
    // execution anew (`force_custom_plan`); elsewhere (in a transaction) it runs unnamed, which
    // is planned with its values at the cost of a second round trip.
    let persistent = !sql.custom_plan || lease.plans_each_time();
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.text.as_str())).persistent(persistent);
    for b in &sql.binds {
        q = match b {
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Float(f) => q.bind(*f),
            Bind::Int(i) => q.bind(*i),
            Bind::Bool(b) => q.bind(*b),
            Bind::Date(d) => q.bind(*d),
            Bind::Json(v) => q.bind(sqlx::types::Json(v)),
            Bind::TextArray(a) => q.bind(a.as_slice()),
            Bind::Bytes(b) => q.bind(b.as_slice()),
        };
    }
    q
}

pub async fn execute(lease: &mut Lease, sql: &Sql) -> StorageResult<u64> {
    let q = query(sql, lease);
    let conn = lease.statement().map_err(map_err)?;
    let r = q.execute(conn).await;
    lease.settle(&r);
    r.map(|r| r.rows_affected()).map_err(map_err)
}

/// Runs a read and returns its rows undecoded (see [`each_row`]).
pub async fn fetch_rows(lease: &mut Lease, sql: &Sql) -> StorageResult<Vec<PgRow>> {
    let q = query(sql, lease);
    let conn = lease.statement().map_err(map_err)?;
    let r = q.fetch_all(conn).await;
    lease.settle(&r);
    r.map_err(map_err)
}

pub async fn fetch(lease: &mut Lease, sql: &Sql, cols: &[Col]) -> StorageResult<Vec<Vec<Cell>>> {
    owned(&fetch_rows(lease, sql).await?, cols)
}

/// The rows decoded by `cols` into cells of their own.
pub fn owned(rows: &[PgRow], cols: &[Col]) -> StorageResult<Vec<Vec<Cell>>> {
    let mut out = Vec::with_capacity(rows.len());
    each_row(rows, cols, &mut |cells| {
        out.push(owned_row(cells)?);
        Ok(())
    })?;
    Ok(out)
}

/// Hands each row's cells, decoded by `cols` as they are taken, to `each`.
pub fn each_row(rows: &[PgRow], cols: &[Col], each: &mut EachRow<'_>) -> StorageResult<()> {
    for row in rows {
        let mut cells = cols.iter().enumerate().map(|(i, col)| decode(row, i, *col));
        each(&mut cells)?;
    }
    Ok(())
}

fn decode(row: &PgRow, i: usize, col: Col) -> StorageResult<CellRef<'_>> {
    fn get<'r, T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>>(
        row: &'r PgRow,
        i: usize,
    ) -> StorageResult<Option<T>> {
        row.try_get::<Option<T>, _>(i)
            .map_err(|e| StorageError::Database(e.to_string()))
    }
    Ok(match col {
        Col::Text => get::<&str>(row, i)?.map_or(CellRef::Null, CellRef::Text),
        Col::Bytes => get::<&[u8]>(row, i)?.map_or(CellRef::Null, CellRef::Bytes),
        Col::Float => get::<f64>(row, i)?.map_or(CellRef::Null, CellRef::Float),
        Col::Int => get::<i64>(row, i)?.map_or(CellRef::Null, CellRef::Int),
        Col::Bool => get::<bool>(row, i)?.map_or(CellRef::Null, CellRef::Bool),
        Col::Date => {
            get::<chrono::DateTime<chrono::Utc>>(row, i)?.map_or(CellRef::Null, CellRef::Date)
        }
        Col::Json => get::<Value>(row, i)?.map_or(CellRef::Null, CellRef::Json),
        Col::Perms => get::<Vec<String>>(row, i)?.map_or(CellRef::Null, CellRef::Perms),
    })
}
