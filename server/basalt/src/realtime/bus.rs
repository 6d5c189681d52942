//! Several nodes on one PostgreSQL: events and cache invalidations travel by `NOTIFY` on the
//! channel `basalt`, and every node `LISTEN`s. A payload too large for `NOTIFY` (8,000 bytes)
//! is stored in `_basalt_events` and its id sent instead. With `--liveQuery {"redisURL": …}`
//! they travel by Redis pub/sub instead (channel `basalt:<appId>`, any size). Each node skips
//! what it sent itself (it has already delivered it). On SQLite without Redis there is one node
//! and no bus.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;

use super::Event;
use super::redis::{self, Endpoint};
use crate::state::AppState;

const CHANNEL: &str = "basalt";
/// Largest payload sent inline; NOTIFY refuses more than 8,000 bytes.
const INLINE_MAX: usize = 7_000;
/// How long a stored payload is kept for the nodes to read.
const KEEP: Duration = Duration::from_secs(120);

/// What the session cache of every node must learn.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum Invalidation {
    /// A session was revoked (token hash).
    Session(String),
    /// Every session of a user.
    User(String),
    /// Some role or role membership changed.
    Roles,
    /// A class, its fields, permissions or indexes changed: reload the schemas, and do not
    /// reuse statements prepared for the old tables.
    Schema,
    /// Cloud code was deployed (the `_basalt_cloud_code` row): run it.
    CloudCode(i64),
}

#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    /// The sending node.
    n: String,
    #[serde(flatten)]
    body: Body,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Body {
    Event(Event),
    Invalidate(Invalidation),
    /// The payload is in `_basalt_events` under this id.
    Stored(i64),
}

/// What carries the bus between nodes.
pub enum Transport {
    Postgres(PgPool),
    Redis(Endpoint),
}

/// The sending half: writes are queued to one task so they leave in commit order.
pub struct Bus {
    node: String,
    tx: mpsc::UnboundedSender<String>,
    rx: std::sync::Mutex<Option<mpsc::UnboundedReceiver<String>>>,
}

impl Bus {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            node: crate::ids::uuid(),
            tx,
            rx: std::sync::Mutex::new(Some(rx)),
        }
    }

    fn queue(&self, body: Body) {
        let wire = Wire {
            n: self.node.clone(),
            body,
        };
        if let Ok(text) = serde_json::to_string(&wire) {
            let _ = self.tx.send(text);
        }
    }

    pub fn send(&self, e: &Arc<Event>) {
        self.queue(Body::Event((**e).clone()));
    }

    pub fn invalidate(&self, i: Invalidation) {
        self.queue(Body::Invalidate(i));
    }

    /// Starts the sender and the listener.
    pub fn start(state: &AppState, transport: Transport) {
        let Some(bus) = state.realtime.bus.as_ref() else {
            return;
        };
        let Some(rx) = bus.rx.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        match transport {
            Transport::Postgres(pool) => {
                tokio::spawn(send_loop(pool.clone(), bus.node.clone(), rx));
                tokio::spawn(listen_loop(state.clone(), pool, bus.node.clone()));
            }
            Transport::Redis(endpoint) => {
                let channel = format!("basalt:{}", state.config.app_id);
                tokio::spawn(redis_send_loop(endpoint.clone(), channel.clone(), rx));
                tokio::spawn(redis_listen_loop(
                    state.clone(),
                    endpoint,
                    channel,
                    bus.node.clone(),
                ));
            }
        }
    }
}

impl Default for Bus {
    fn default() -> Self {
        Self::new()
    }
}

/// Most messages sent in one NOTIFY.
const BATCH: usize = 64;

async fn send_loop(pool: PgPool, node: String, mut rx: mpsc::UnboundedReceiver<String>) {
    let mut stored = 0u64;
    while let Some(first) = rx.recv().await {
        if first.len() >= INLINE_MAX {
            send_stored(&pool, &node, &mut stored, format!("[{first}]")).await;
            continue;
        }
        // Whatever else is waiting goes in the same NOTIFY (as a JSON array), while it fits:
        // under load one notification carries many writes.
        let mut len = first.len() + 2;
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(next) if len + next.len() < INLINE_MAX => {
                    len += next.len() + 1;
                    batch.push(next);
                }
                Ok(next) => {
                    send_one(&pool, &node, &mut stored, std::mem::take(&mut batch)).await;
                    len = next.len() + 2;
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        send_one(&pool, &node, &mut stored, batch).await;
    }
}

/// Sends a batch of messages: inline when small enough, else through `_basalt_events`.
async fn send_one(pool: &PgPool, node: &str, stored: &mut u64, batch: Vec<String>) {
    if batch.is_empty() {
        return;
    }
    let text = format!("[{}]", batch.join(","));
    if text.len() <= INLINE_MAX {
        notify(pool, &text).await;
    } else {
        send_stored(pool, node, stored, text).await;
    }
}

async fn notify(pool: &PgPool, payload: &str) {
    if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(pool)
        .await
    {
        tracing::error!(error = %e, "realtime: NOTIFY failed; other nodes miss this event");
    }
}

/// Stores a payload too large for NOTIFY and sends its id.
async fn send_stored(pool: &PgPool, node: &str, stored: &mut u64, text: String) {
    {
        let id: Result<i64, _> =
            sqlx::query_scalar("INSERT INTO \"_basalt_events\" (payload) VALUES ($1) RETURNING id")
                .bind(&text)
                .fetch_one(pool)
                .await;
        *stored += 1;
        if stored.is_multiple_of(100) {
            let _ = sqlx::query(
                "DELETE FROM \"_basalt_events\" WHERE at < now() - make_interval(secs => $1)",
            )
            .bind(KEEP.as_secs_f64())
            .execute(pool)
            .await;
        }
        match id {
            Ok(id) => {
                if let Ok(t) = serde_json::to_string(&[Wire {
                    n: node.to_string(),
                    body: Body::Stored(id),
                }]) {
                    notify(pool, &t).await;
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "realtime: cannot store a large event for the other nodes");
            }
        }
    }
}

async fn listen_loop(state: AppState, pool: PgPool, node: String) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(l) => l,
            Err(e) => {
                tracing::error!(error = %e, "realtime: cannot LISTEN; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(CHANNEL).await {
            tracing::error!(error = %e, "realtime: cannot LISTEN; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            match listener.recv().await {
                Ok(n) => receive(&state, Some(&pool), &node, n.payload()).await,
                Err(e) => {
                    tracing::warn!(error = %e, "realtime: LISTEN connection lost; reconnecting");
                    break;
                }
            }
        }
    }
}

/// A notification: one message, or (from NOTIFY) an array of them.
fn parse_wires(payload: &str) -> Option<Vec<Wire>> {
    if payload.trim_start().starts_with('[') {
        serde_json::from_str(payload).ok()
    } else {
        serde_json::from_str(payload).ok().map(|w| vec![w])
    }
}

async fn receive(state: &AppState, pool: Option<&PgPool>, node: &str, payload: &str) {
    let Some(wires) = parse_wires(payload) else {
        tracing::warn!("realtime: ignoring a malformed notification");
        return;
    };
    for wire in wires.into_iter().filter(|w| w.n != node) {
        match wire.body {
            Body::Stored(id) => {
                let Some(pool) = pool else {
                    continue;
                };
                let text: Option<String> =
                    sqlx::query_scalar("SELECT payload FROM \"_basalt_events\" WHERE id = $1")
                        .bind(id)
                        .fetch_optional(pool)
                        .await
                        .ok()
                        .flatten();
                match text.as_deref().and_then(parse_wires) {
                    Some(stored) => {
                        for w in stored {
                            apply(state, w.body).await;
                        }
                    }
                    None => tracing::warn!(id, "realtime: a stored event is gone"),
                }
            }
            body => apply(state, body).await,
        }
    }
}

async fn apply(state: &AppState, body: Body) {
    match body {
        Body::Event(e) => state.realtime.receive(e),
        Body::Invalidate(Invalidation::Session(h)) => state.sessions.forget(&h),
        Body::Invalidate(Invalidation::User(u)) => state.sessions.forget_user(&u),
        Body::Invalidate(Invalidation::Roles) => state.sessions.roles_changed(),
        Body::Invalidate(Invalidation::Schema) => {
            state.storage.schema_changed();
            if let Err(e) = state.schemas.reload(&state.storage).await {
                tracing::error!(error = %e.message, "realtime: cannot reload the schemas another node changed");
            }
        }
        Body::Invalidate(Invalidation::CloudCode(id)) => {
            crate::cloud::deploy::follow(state, id).await
        }
        // A stored payload never points at another.
        Body::Stored(_) => {}
    }
}

/// Publishes each payload on Redis, reconnecting (and retrying once) when the connection fails.
async fn redis_send_loop(
    endpoint: Endpoint,
    channel: String,
    mut rx: mpsc::UnboundedReceiver<String>,
) {
    let mut conn: Option<redis::Connection> = None;
    while let Some(text) = rx.recv().await {
        for attempt in 0..2 {
            if conn.is_none() {
                match redis::Connection::open(&endpoint).await {
                    Ok(c) => conn = Some(c),
                    Err(e) => {
                        tracing::error!(error = %e, "realtime: cannot reach Redis; other nodes miss this event");
                        break;
                    }
                }
            }
            let Some(c) = conn.as_mut() else { break };
            match c.publish(&channel, text.as_bytes()).await {
                Ok(()) => break,
                Err(e) => {
                    conn = None;
                    if attempt == 1 {
                        tracing::error!(error = %e, "realtime: PUBLISH failed; other nodes miss this event");
                    }
                }
            }
        }
    }
}

async fn redis_listen_loop(state: AppState, endpoint: Endpoint, channel: String, node: String) {
    loop {
        let mut conn = match redis::Connection::open(&endpoint).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "realtime: cannot reach Redis to SUBSCRIBE; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if let Err(e) = conn.subscribe(&channel).await {
            tracing::error!(error = %e, "realtime: SUBSCRIBE failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        loop {
            match conn.message().await {
                Ok(payload) => match std::str::from_utf8(&payload) {
                    Ok(text) => receive(&state, None, &node, text).await,
                    Err(_) => tracing::warn!("realtime: ignoring a non-UTF-8 message"),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "realtime: Redis subscription lost; reconnecting");
                    break;
                }
            }
        }
    }
}
