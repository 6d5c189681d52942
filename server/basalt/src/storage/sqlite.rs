//! SQLite through rusqlite: one writer connection behind an async mutex, a pool of read-only
//! connections, WAL.
//!
//! Statements run on the calling runtime thread. A cached point lookup or insert takes a few
//! microseconds, less than handing it to another thread costs: with a worker thread per
//! connection (sqlx's design) a get cost ~150 µs of context switching on this kind of machine,
//! capping a core at ~5,700 gets/s. The runtime keeps at least two workers (see `main.rs`), so a
//! long scan delays one worker's tasks, not the server.
//!
//! `synchronous=NORMAL` in WAL mode: a committed transaction is in the WAL before the commit
//! returns, so it survives the process being killed (`kill -9`); only an OS crash or power loss
//! can lose the last commits before a checkpoint.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use basalt_query::value::{format_date, parse_iso};
use basalt_query::{Bind, Sql};
use rusqlite::functions::FunctionFlags;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;
use tokio::sync::OwnedMutexGuard;

use super::acl_keys::SqliteAclKeys;
use super::{Cell, CellRef, Col, EachRow, StorageError, StorageResult, owned_row};

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
    (
        3,
        "users",
        include_str!("../../../../migrations/sqlite/0003_users.sql"),
    ),
    (
        4,
        "acl_index",
        include_str!("../../../../migrations/sqlite/0004_acl_index.sql"),
    ),
    (
        5,
        "btree_gin",
        include_str!("../../../../migrations/sqlite/0005_btree_gin.sql"),
    ),
    (
        6,
        "events",
        include_str!("../../../../migrations/sqlite/0006_events.sql"),
    ),
    (
        7,
        "job_runs",
        include_str!("../../../../migrations/sqlite/0007_job_runs.sql"),
    ),
    (
        8,
        "cloud_code",
        include_str!("../../../../migrations/sqlite/0008_cloud_code.sql"),
    ),
];

/// How often the checkpointer copies the WAL back into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);
/// Most idle read connections kept open.
const MAX_IDLE_READERS: usize = 8;
/// Prepared statements cached per connection.
const STATEMENT_CACHE: usize = 256;
/// Page cache per reader connection, in KiB (SQLite's negative `cache_size`).
const READER_CACHE_KIB: i64 = 16_000;
/// Page cache of the writer, in KiB: SQLite's default. At the end of every write transaction
/// SQLite drops cached pages past the database's end (`pcache1TruncateUnsafe`), walking the
/// cache's hash table: with 16 MB that was 4.7% of the server's CPU on the create benchmark
/// (0.7% with 2 MB), and creates and updates ran 14% and 11% faster with 2 MB (two builds
/// alternating on one database, four rounds each). Reads keep their larger caches.
const WRITER_CACHE_KIB: i64 = 2_000;
/// Largest compiled `$regex` program (the patterns were checked for cost already); the
/// in-memory matcher builds its regexes with the same limit.
const REGEX_SIZE_LIMIT: usize = basalt_query::regex::COMPILED_SIZE_LIMIT;

#[derive(Clone)]
pub struct SqliteStore {
    writer: Arc<tokio::sync::Mutex<Connection>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    path: Arc<PathBuf>,
    /// Single-statement writes, committed in groups by [`group_committer`].
    jobs: tokio::sync::mpsc::Sender<Job>,
    /// The request whose transactional batch holds the writer ([`crate::cloud::Origin::root`]),
    /// 0 when none does.
    batch: Arc<AtomicU64>,
    /// When a user's query tests its read ACL on ACL keys.
    pub acl_keys: Arc<SqliteAclKeys>,
}

/// The writer held by a transactional batch, until this is dropped (see
/// [`SqliteStore::hold_for_batch`]).
pub struct BatchHold {
    batch: Arc<AtomicU64>,
    root: u64,
}

impl Drop for BatchHold {
    fn drop(&mut self) {
        // Only its own mark: the next batch may already hold the writer (and have marked it)
        // when this one's transaction has ended before this is dropped.
        let _ = self
            .batch
            .compare_exchange(self.root, 0, Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// Most single-statement writes committed together.
const MAX_GROUP: usize = 128;

/// A single-statement write waiting for the group committer.
struct Job {
    sql: Sql,
    /// Columns to return (a `RETURNING` statement), or None for a row count.
    cols: Option<Vec<Col>>,
    done: tokio::sync::oneshot::Sender<StorageResult<Outcome>>,
}

enum Outcome {
    Count(u64),
    Rows(Vec<Vec<Cell>>),
}

/// Group commit: takes the first queued write, lets concurrent writers queue behind it, then
/// runs up to [`MAX_GROUP`] of them in one transaction — each inside a savepoint, so one that
/// fails undoes only itself — and answers every caller after the commit. Many inserts then
/// share one WAL append (and fewer checkpoints) instead of paying one each; no write is
/// acknowledged before it is committed. A caller that goes away is simply not answered.
async fn group_committer(
    writer: Arc<tokio::sync::Mutex<Connection>>,
    mut jobs: tokio::sync::mpsc::Receiver<Job>,
) {
    while let Some(first) = jobs.recv().await {
        tokio::task::yield_now().await;
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        let conn = writer.lock().await;
        let results = run_group(&conn, &group);
        drop(conn);
        for (job, result) in group.into_iter().zip(results) {
            let _ = job.done.send(result);
        }
    }
}

/// Copies WAL pages back into the database every [`CHECKPOINT_EVERY`], on a thread of its own
/// with its own connection. A PASSIVE checkpoint waits for no one; under a steady stream of
/// writes it can never finish on its own (new frames keep arriving), so the writer's automatic
/// checkpoint still completes each cycle and rewinds the WAL — but finds most pages already
/// copied. Without this, that work (~11% of a create's CPU) landed in bursts inside commits
/// requests were waiting for. The thread ends when the store is dropped.
fn checkpointer(
    path: &Path,
    store: std::sync::Weak<tokio::sync::Mutex<Connection>>,
) -> rusqlite::Result<()> {
    let conn = open(path, false)?;
    std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(move || {
            while store.strong_count() > 0 {
                std::thread::sleep(CHECKPOINT_EVERY);
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
        })
        .map(|_| ())
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn control(conn: &Connection, statement: &str) -> StorageResult<()> {
    conn.prepare_cached(statement)
        .and_then(|mut s| s.raw_execute())
        .map(|_| ())
        .map_err(map_err)
}

fn run_one(conn: &Connection, job: &Job) -> StorageResult<Outcome> {
    match &job.cols {
        Some(cols) => fetch(conn, &job.sql, cols).map(Outcome::Rows),
        None => execute(conn, &job.sql).map(Outcome::Count),
    }
}

fn run_group(conn: &Connection, group: &[Job]) -> Vec<StorageResult<Outcome>> {
    if let [only] = group {
        // Alone: an autocommitted statement needs no savepoint.
        return vec![run_one(conn, only)];
    }
    if let Err(e) = control(conn, "BEGIN IMMEDIATE") {
        return group
            .iter()
            .map(|_| Err(StorageError::Database(e.to_string())))
            .collect();
    }
    let mut results = Vec::with_capacity(group.len());
    for job in group {
        let r = control(conn, "SAVEPOINT one").and_then(|()| {
            let r = run_one(conn, job);
            if r.is_err() {
                control(conn, "ROLLBACK TO one")?;
            }
            control(conn, "RELEASE one")?;
            r
        });
        results.push(r);
    }
    if let Err(e) = control(conn, "COMMIT") {
        let _ = control(conn, "ROLLBACK");
        return group
            .iter()
            .map(|_| Err(StorageError::Database(e.to_string())))
            .collect();
    }
    results
}

pub(crate) fn map_err(e: rusqlite::Error) -> StorageError {
    if let rusqlite::Error::SqliteFailure(f, message) = &e {
        // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY
        if matches!(f.extended_code, 2067 | 1555) {
            return StorageError::Duplicate;
        }
        // SQLite reports a missing table or column only in its message (SQLITE_ERROR).
        if let Some(m) = message
            && is_stale_message(m)
        {
            return StorageError::Stale(m.clone());
        }
    }
    // The same found while preparing a statement.
    if let rusqlite::Error::SqlInputError { msg, .. } = &e
        && is_stale_message(msg)
    {
        return StorageError::Stale(msg.clone());
    }
    StorageError::Database(e.to_string())
}

/// SQLite's messages for a statement naming a table or column that is gone.
fn is_stale_message(m: &str) -> bool {
    m.starts_with("no such column: ")
        || m.starts_with("no such table: ")
        || (m.starts_with("table ") && m.contains(" has no column named "))
}

fn open(path: &Path, read_only: bool) -> rusqlite::Result<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI
    };
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // SQLite's automatic checkpoint stays on: run between transactions on the writer, it is
        // what completes a checkpoint and lets the WAL rewind. `checkpointer` copies most pages
        // ahead of it on another thread, so the part a request waits on stays small.
        conn.pragma_update(None, "journal_size_limit", 64 << 20)?;
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let cache_kib = if read_only {
        READER_CACHE_KIB
    } else {
        WRITER_CACHE_KIB
    };
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // The bundled SQLite has STAT4, which recompiles a statement whenever a bound value of an
    // indexed constraint changes — every get, measured at ~20% of its CPU. Plans stay stable.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    register_regexp(&conn)?;
    Ok(conn)
}

/// `x REGEXP pattern` with Rust's linear-time engine; each statement compiles its pattern once.
fn register_regexp(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "regexp",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let re = ctx.get_or_create_aux(
                0,
                |pattern| -> Result<regex::Regex, Box<dyn std::error::Error + Send + Sync>> {
                    let p = pattern.as_str()?;
                    Ok(regex::RegexBuilder::new(p)
                        .size_limit(REGEX_SIZE_LIMIT)
                        .build()?)
                },
            )?;
            Ok(match ctx.get_raw(1) {
                ValueRef::Text(t) => std::str::from_utf8(t).is_ok_and(|s| re.is_match(s)),
                _ => false,
            })
        },
    )
}

impl SqliteStore {
    pub async fn open(path: &Path) -> Result<Self, String> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let writer = Arc::new(tokio::sync::Mutex::new(
            open(path, false).map_err(|e| e.to_string())?,
        ));
        checkpointer(path, Arc::downgrade(&writer)).map_err(|e| e.to_string())?;
        let (jobs, queue) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(group_committer(writer.clone(), queue));
        Ok(Self {
            writer,
            readers: Arc::new(Mutex::new(Vec::new())),
            path: Arc::new(path.to_path_buf()),
            jobs,
            batch: Arc::default(),
            acl_keys: Arc::default(),
        })
    }

    pub async fn migrate(&self) -> StorageResult<()> {
        let mut conn = self.writer.lock().await;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS _basalt_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .map_err(map_err)?;
        for (version, name, body) in MIGRATIONS {
            let done: bool = conn
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM _basalt_migrations WHERE version = ?1)",
                    [version],
                    |r| r.get(0),
                )
                .map_err(map_err)?;
            if done {
                continue;
            }
            let tx = conn.transaction().map_err(map_err)?;
            tx.execute_batch(body).map_err(map_err)?;
            tx.execute(
                "INSERT INTO _basalt_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![version, name, format_date(&chrono::Utc::now())],
            )
            .map_err(map_err)?;
            tx.commit().map_err(map_err)?;
        }
        Ok(())
    }

    /// Runs a read on a pooled read-only connection.
    pub fn fetch(&self, sql: &Sql, cols: &[Col]) -> StorageResult<Vec<Vec<Cell>>> {
        self.read(|conn| fetch(conn, sql, cols))
    }

    /// [`Storage::fetch_each`] on a reader connection.
    pub fn fetch_each(&self, sql: &Sql, cols: &[Col], each: &mut EachRow<'_>) -> StorageResult<()> {
        self.read(|conn| each_row(conn, sql, cols, each))
    }

    /// Runs `f` on an idle reader connection (or a new one), which is kept for the next read.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> StorageResult<T>) -> StorageResult<T> {
        let conn = match self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop() {
            Some(c) => c,
            None => open(&self.path, true).map_err(map_err)?,
        };
        let result = f(&conn);
        let mut idle = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    /// Marks the writer, which a transactional batch of request `root` has just taken, as that
    /// batch's until the hold is dropped. Cloud code its hooks run cannot write meanwhile: it
    /// would wait for the writer, which the batch keeps until the hook answers, stalling every
    /// write on the server. Such a write is refused at once instead.
    pub fn hold_for_batch(&self, root: u64) -> BatchHold {
        self.batch.store(root, Ordering::Relaxed);
        BatchHold {
            batch: self.batch.clone(),
            root,
        }
    }

    fn refuse_inside_own_batch(&self) -> StorageResult<()> {
        let held = self.batch.load(Ordering::Relaxed);
        if held != 0 && held == crate::cloud::Origin::current_root() {
            return Err(StorageError::Refused(
                "Cloud code cannot write while the transactional batch it runs for holds the \
                 SQLite database; write in afterSave, or use PostgreSQL"
                    .into(),
            ));
        }
        Ok(())
    }

    async fn submit(&self, sql: &Sql, cols: Option<Vec<Col>>) -> StorageResult<Outcome> {
        self.refuse_inside_own_batch()?;
        let (done, answer) = tokio::sync::oneshot::channel();
        let gone = || StorageError::Database("the SQLite writer stopped".into());
        self.jobs
            .send(Job {
                sql: sql.clone(),
                cols,
                done,
            })
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// One write on its own, committed (with concurrent ones) before this returns.
    pub async fn execute_alone(&self, sql: &Sql) -> StorageResult<u64> {
        match self.submit(sql, None).await? {
            Outcome::Count(n) => Ok(n),
            Outcome::Rows(r) => Ok(r.len() as u64),
        }
    }

    /// As [`Self::execute_alone`], for a statement with `RETURNING`.
    pub async fn fetch_alone(&self, sql: &Sql, cols: &[Col]) -> StorageResult<Vec<Vec<Cell>>> {
        match self.submit(sql, Some(cols.to_vec())).await? {
            Outcome::Rows(r) => Ok(r),
            Outcome::Count(_) => Ok(Vec::new()),
        }
    }

    /// Starts a write transaction: waits for the writer, then `BEGIN IMMEDIATE`.
    pub async fn begin(&self) -> StorageResult<SqliteTx> {
        self.refuse_inside_own_batch()?;
        let conn = self.writer.clone().lock_owned().await;
        conn.execute_batch("BEGIN IMMEDIATE").map_err(map_err)?;
        Ok(SqliteTx {
            conn,
            open: true,
            ddl: false,
            acl_keys: self.acl_keys.clone(),
        })
    }
}

/// The writer connection inside a transaction; dropped without [`SqliteTx::commit`], it rolls back.
pub struct SqliteTx {
    conn: OwnedMutexGuard<Connection>,
    open: bool,
    /// Tables changed: what was known of ACL keys is forgotten at commit.
    pub ddl: bool,
    acl_keys: Arc<SqliteAclKeys>,
}

impl SqliteTx {
    pub fn execute(&mut self, sql: &Sql) -> StorageResult<u64> {
        execute(&self.conn, sql)
    }

    pub fn fetch(&mut self, sql: &Sql, cols: &[Col]) -> StorageResult<Vec<Vec<Cell>>> {
        fetch(&self.conn, sql, cols)
    }

    pub fn commit(mut self) -> StorageResult<()> {
        self.open = false;
        self.conn.execute_batch("COMMIT").map_err(map_err)?;
        if self.ddl {
            self.acl_keys.forget();
        }
        Ok(())
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.open
            && let Err(e) = self.conn.execute_batch("ROLLBACK")
        {
            tracing::error!(error = %e, "rollback failed");
        }
    }
}

fn bind(stmt: &mut rusqlite::CachedStatement<'_>, sql: &Sql) -> StorageResult<()> {
    for (i, b) in sql.binds.iter().enumerate() {
        let n = i + 1;
        let r = match b {
            Bind::Text(s) => stmt.raw_bind_parameter(n, s.as_str()),
            Bind::Float(f) => stmt.raw_bind_parameter(n, f),
            Bind::Int(v) => stmt.raw_bind_parameter(n, v),
            Bind::Bool(v) => stmt.raw_bind_parameter(n, v),
            Bind::Date(d) => stmt.raw_bind_parameter(n, format_date(d)),
            Bind::Json(v) => stmt.raw_bind_parameter(n, v.to_string()),
            Bind::TextArray(a) => stmt.raw_bind_parameter(n, Value::from(a.clone()).to_string()),
            Bind::Bytes(v) => stmt.raw_bind_parameter(n, v.as_slice()),
        };
        r.map_err(map_err)?;
    }
    Ok(())
}

fn execute(conn: &Connection, sql: &Sql) -> StorageResult<u64> {
    let mut stmt = conn.prepare_cached(&sql.text).map_err(map_err)?;
    bind(&mut stmt, sql)?;
    stmt.raw_execute().map(|n| n as u64).map_err(map_err)
}

fn fetch(conn: &Connection, sql: &Sql, cols: &[Col]) -> StorageResult<Vec<Vec<Cell>>> {
    let mut out = Vec::new();
    each_row(conn, sql, cols, &mut |cells| {
        out.push(owned_row(cells)?);
        Ok(())
    })?;
    Ok(out)
}

/// Runs a read and hands each row's cells, decoded by `cols` as they are taken, to `each`.
fn each_row(
    conn: &Connection,
    sql: &Sql,
    cols: &[Col],
    each: &mut EachRow<'_>,
) -> StorageResult<()> {
    let mut stmt = conn.prepare_cached(&sql.text).map_err(map_err)?;
    bind(&mut stmt, sql)?;
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next().map_err(map_err)? {
        let mut cells = cols
            .iter()
            .enumerate()
            .map(|(i, col)| decode(row.get_ref(i).map_err(map_err)?, *col));
        each(&mut cells)?;
    }
    Ok(())
}

fn text(t: &[u8]) -> StorageResult<&str> {
    std::str::from_utf8(t).map_err(|e| StorageError::Database(e.to_string()))
}

fn decode(v: ValueRef<'_>, col: Col) -> StorageResult<CellRef<'_>> {
    Ok(match (col, v) {
        (_, ValueRef::Null) => CellRef::Null,
        (Col::Text, ValueRef::Text(t)) => CellRef::Text(text(t)?),
        (Col::Float, ValueRef::Real(f)) => CellRef::Float(f),
        (Col::Float, ValueRef::Integer(i)) => CellRef::Float(i as f64),
        (Col::Int, ValueRef::Integer(i)) => CellRef::Int(i),
        (Col::Int, ValueRef::Real(f)) => CellRef::Int(f as i64),
        (Col::Bool, ValueRef::Integer(i)) => CellRef::Bool(i != 0),
        (Col::Date, ValueRef::Text(t)) => parse_iso(text(t)?).map_or(CellRef::Null, CellRef::Date),
        (Col::Json, ValueRef::Text(t)) => {
            serde_json::from_slice(t).map_or(CellRef::Null, CellRef::Json)
        }
        (Col::Perms, ValueRef::Text(t)) => {
            serde_json::from_slice(t).map_or(CellRef::Null, CellRef::Perms)
        }
        (Col::Bytes, ValueRef::Blob(b)) => CellRef::Bytes(b),
        (col, other) => {
            return Err(StorageError::Database(format!(
                "column stored as {:?}, expected {col:?}",
                other.data_type()
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insert(v: &str) -> Sql {
        let mut sql = Sql::new(basalt_query::Dialect::Sqlite);
        sql.push("INSERT INTO t (v) VALUES (");
        sql.bind(Bind::Text(v.to_string()));
        sql.push(")");
        sql
    }

    /// Concurrent single-statement writes are committed in groups; one that fails (here a
    /// duplicate) undoes only itself, and every other one is committed and acknowledged.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_in_a_group_undoes_only_itself() {
        let dir =
            std::env::temp_dir().join(format!("basalt-group-{}", crate::ids::random_token(8)));
        let store = SqliteStore::open(&dir.join("t.db")).await.expect("open");
        store
            .writer
            .lock()
            .await
            .execute_batch("CREATE TABLE t (v TEXT UNIQUE)")
            .expect("table");
        let mut tasks = Vec::new();
        for i in 0..64 {
            let store = store.clone();
            // Write number 10 repeats number 0's value.
            let v = if i == 10 {
                "v0".to_string()
            } else {
                format!("v{i}")
            };
            tasks.push(tokio::spawn(async move {
                (i, store.execute_alone(&insert(&v)).await)
            }));
        }
        for t in tasks {
            let (i, r) = t.await.expect("task");
            match i {
                // Either 0 or 10 lost the race for "v0"; the other must have succeeded.
                0 | 10 => assert!(
                    matches!(r, Ok(1) | Err(StorageError::Duplicate)),
                    "{i}: {r:?}"
                ),
                _ => assert!(matches!(r, Ok(1)), "{i}: {r:?}"),
            }
        }
        let mut count = Sql::new(basalt_query::Dialect::Sqlite);
        count.push("SELECT COUNT(*) FROM t");
        let rows = store.fetch(&count, &[Col::Int]).expect("count");
        assert_eq!(rows, vec![vec![Cell::Int(63)]]);
        std::fs::remove_dir_all(dir).ok();
    }

    /// A batch's hold, dropped after the next batch has taken the writer and marked it, leaves
    /// the next batch's mark alone.
    #[tokio::test]
    async fn a_batch_hold_clears_only_its_own_mark() {
        let dir = std::env::temp_dir().join(format!("basalt-hold-{}", crate::ids::random_token(8)));
        let store = SqliteStore::open(&dir.join("t.db")).await.expect("open");
        let first = store.hold_for_batch(1);
        let second = store.hold_for_batch(2);
        drop(first);
        assert_eq!(store.batch.load(Ordering::Relaxed), 2);
        drop(second);
        assert_eq!(store.batch.load(Ordering::Relaxed), 0);
        std::fs::remove_dir_all(dir).ok();
    }

    /// The savepoint path itself, deterministically: a group of three with a failing middle.
    #[test]
    fn group_with_a_failure_commits_the_rest() {
        let conn = Connection::open_in_memory().expect("open");
        conn.execute_batch("CREATE TABLE t (v TEXT UNIQUE); INSERT INTO t VALUES ('taken')")
            .expect("table");
        let job = |v: &str| Job {
            sql: insert(v),
            cols: None,
            done: tokio::sync::oneshot::channel().0,
        };
        let results = run_group(&conn, &[job("a"), job("taken"), job("b")]);
        assert!(matches!(results[0], Ok(Outcome::Count(1))));
        assert!(matches!(results[1], Err(StorageError::Duplicate)));
        assert!(matches!(results[2], Ok(Outcome::Count(1))));
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 3, "taken, a and b");
        assert!(conn.is_autocommit(), "the group's transaction is closed");
    }
}
