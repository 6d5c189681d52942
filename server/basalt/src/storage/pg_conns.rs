//! The connections PostgreSQL statements run on. sqlx's pool pings a connection each time it
//! comes back (a `Sync` and its `ReadyForQuery`), which cannot be turned off: with one
//! statement per request, that was a second round trip for every request, and half of the
//! server's sends to PostgreSQL. This pool hands out plain `PgConnection`s and takes them back
//! without a word to the database, unless the connection has something to finish.
//!
//! - A connection that comes back with work outstanding (a statement cancelled half-way, a
//!   transaction dropped without commit, whose `ROLLBACK` sqlx has queued) is flushed by a task
//!   of its own before it is reused, so a dropped transaction never keeps its locks.
//! - One that failed at the connection level is closed, not reused.
//! - One that sat unused for more than [`TRUST_IDLE`] is pinged before it is handed out, so a
//!   pool left from before a database restart is replaced (HikariCP's rule).
//! - One opened before the last schema change is closed: it holds statements prepared for the
//!   old tables, which PostgreSQL refuses to run ("cached plan must not change result type").
//! - The most recently used connection goes out first, so a light load keeps few of them busy,
//!   and one unused for [`IDLE_TIMEOUT`] is closed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a connection may sit unused and still be handed out without a ping.
const TRUST_IDLE: Duration = Duration::from_millis(500);
/// An idle connection unused for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// How long a request waits for a connection when all are busy, or for a new one to open.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

struct Idle {
    conn: PgConnection,
    /// When it was opened, in nanoseconds after `Conns::epoch`.
    opened: u64,
    since: Instant,
}

pub struct Conns {
    options: PgConnectOptions,
    /// The connections plan every statement for its values (`plan_cache_mode`).
    custom_plans: bool,
    idle: Mutex<Vec<Idle>>,
    permits: Arc<Semaphore>,
    epoch: Instant,
    /// When the schema last changed, in nanoseconds after `epoch` (shared with the store).
    last_ddl: Arc<AtomicU64>,
}

impl Conns {
    pub fn new(
        options: PgConnectOptions,
        max: usize,
        epoch: Instant,
        last_ddl: Arc<AtomicU64>,
        custom_plans: bool,
    ) -> Arc<Self> {
        let options = if custom_plans {
            options.options([("plan_cache_mode", "force_custom_plan")])
        } else {
            options
        };
        Arc::new(Self {
            custom_plans,
            options,
            idle: Mutex::new(Vec::with_capacity(max)),
            permits: Arc::new(Semaphore::new(max)),
            epoch,
            last_ddl,
        })
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub async fn acquire(self: &Arc<Self>) -> Result<Lease, sqlx::Error> {
        let permit = tokio::time::timeout(ACQUIRE_TIMEOUT, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        loop {
            let next = self.idle().pop();
            let Some(mut idle) = next else { break };
            if idle.opened <= self.last_ddl.load(Ordering::Acquire) {
                close(idle.conn);
                continue;
            }
            if idle.since.elapsed() > TRUST_IDLE && idle.conn.ping().await.is_err() {
                continue;
            }
            return Ok(self.lease(idle.conn, idle.opened, permit));
        }
        let opened = self.now();
        let conn = tokio::time::timeout(ACQUIRE_TIMEOUT, PgConnection::connect_with(&self.options))
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)??;
        Ok(self.lease(conn, opened, permit))
    }

    fn lease(
        self: &Arc<Self>,
        conn: PgConnection,
        opened: u64,
        permit: OwnedSemaphorePermit,
    ) -> Lease {
        Lease {
            conn: Some(conn),
            opened,
            in_flight: false,
            in_tx: false,
            broken: false,
            conns: self.clone(),
            permit: Some(permit),
        }
    }

    /// Closes every idle connection (after one turned out to be dead).
    fn purge_idle(&self) {
        let idle = std::mem::take(&mut *self.idle());
        for i in idle {
            close(i.conn);
        }
    }

    fn put_back(&self, conn: PgConnection, opened: u64) {
        let mut idle = self.idle();
        idle.push(Idle {
            conn,
            opened,
            since: Instant::now(),
        });
        // The least recently used connection is at the front.
        if idle[0].since.elapsed() > IDLE_TIMEOUT {
            let old = idle.remove(0);
            drop(idle);
            close(old.conn);
        }
    }
}

/// Whether `e` means the connection is gone: anything but an error the database answered, or
/// one of the answers it gives as it drops a client (class 57P: shut down, crashed, starting
/// up; class 08: connection exceptions).
fn connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")),
        _ => true,
    }
}

/// Closes a connection politely (`Terminate`) in the background, if there is a runtime.
fn close(conn: PgConnection) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(async move {
            let _ = conn.close().await;
        });
    }
}

/// A connection on loan. Statements go through [`Lease::statement`] and report back with
/// [`Lease::settle`]; a lease dropped with a statement unfinished (cancelled) or a transaction
/// open has that finished by a task of its own before the connection is reused.
pub struct Lease {
    conn: Option<PgConnection>,
    opened: u64,
    /// A statement started and has not reported back.
    in_flight: bool,
    /// `BEGIN` ran and neither `COMMIT` nor `ROLLBACK` has.
    in_tx: bool,
    /// A statement failed at the connection level: the connection is not reused.
    broken: bool,
    conns: Arc<Conns>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Lease {
    /// The connection, for one statement; until [`Lease::settle`] the statement is in flight.
    pub fn statement(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        self.in_flight = true;
        self.conn.as_mut().ok_or(sqlx::Error::PoolClosed)
    }

    /// Records a statement's outcome. A database error (a constraint, a timeout) leaves the
    /// connection as good as before; any other error means it is not to be trusted.
    pub fn settle<T>(&mut self, r: &Result<T, sqlx::Error>) {
        self.in_flight = false;
        if let Err(e) = r
            && connection_lost(e)
        {
            self.broken = true;
            // The database most likely restarted or dropped its clients: the other idle
            // connections are as dead as this one, so none of them is handed out again.
            self.conns.purge_idle();
        }
    }

    /// Whether PostgreSQL plans every statement on this connection for its values.
    pub fn plans_each_time(&self) -> bool {
        self.conns.custom_plans
    }

    /// Whether a statement failed because the connection did.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Runs `BEGIN`, `COMMIT` or `ROLLBACK` and tracks whether a transaction is open.
    pub async fn transaction(&mut self, verb: Verb) -> Result<(), sqlx::Error> {
        let sql = match verb {
            Verb::Begin => "BEGIN",
            Verb::Commit => "COMMIT",
        };
        let conn = self.statement()?;
        let r = sqlx::Executor::execute(conn, sql).await.map(|_| ());
        self.settle(&r);
        // A COMMIT that fails ends the transaction too (PostgreSQL rolls it back).
        self.in_tx = matches!(verb, Verb::Begin) && r.is_ok();
        r
    }
}

#[derive(Clone, Copy)]
pub enum Verb {
    Begin,
    Commit,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let (Some(mut conn), Some(permit)) = (self.conn.take(), self.permit.take()) else {
            return;
        };
        if self.broken {
            return;
        }
        if self.opened <= self.conns.last_ddl.load(Ordering::Acquire) {
            close(conn);
            return;
        }
        if !self.in_flight && !self.in_tx {
            self.conns.put_back(conn, self.opened);
            return;
        }
        // Finish what is outstanding (a cancelled statement's answer, an open transaction)
        // before anyone else gets the connection; the permit is held until then, so the
        // pool's size still bounds what PostgreSQL sees.
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (conns, opened, in_tx) = (self.conns.clone(), self.opened, self.in_tx);
        rt.spawn(async move {
            let done = if in_tx {
                sqlx::Executor::execute(&mut conn, "ROLLBACK")
                    .await
                    .map(|_| ())
            } else {
                conn.ping().await
            };
            if done.is_ok() {
                conns.put_back(conn, opened);
            }
            drop(permit);
        });
    }
}
