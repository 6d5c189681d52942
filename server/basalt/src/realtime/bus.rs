//! Several nodes on one PostgreSQL: events and cache invalidations travel by `NOTIFY` on the
//! channel `basalt`, and every node `LISTEN`s. A payload too large for `NOTIFY` (8,000 bytes)
//! is stored in `_basalt_events` and its id sent instead. With `--liveQuery {"redisURL": …}`
//! they travel by Redis pub/sub instead (channel `basalt:<appId>`, any size). Each node skips
//! what it sent itself (it has already delivered it). On SQLite without Redis there is one node
//! and no bus.
//!
//! Events go out only for classes some node has subscribers for: a `NOTIFY` per write cost
//! PostgreSQL more than the write's own statement (measured in `bench/`: updates 5,720/s with
//! every event sent, 7,774/s with none). Each node tells the others which classes its clients
//! watch ([`Body::Interest`]) whenever that changes and every [`HEARTBEAT`], and answers a
//! newcomer's [`Body::Hello`] at once. A client's first subscription to a class on a node is
//! confirmed only once every other node has acknowledged it ([`Bus::confirmed`]), so a write
//! that starts after `subscribed` reaches the client from whichever node it is made on. A node
//! that has just joined (or lost its connection to the bus) cannot know the others' interests
//! yet, and sends events of every class until [`WARMUP`] has passed.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{Notify, mpsc};

use super::Event;
use super::redis::{self, Endpoint};
use crate::state::AppState;

const CHANNEL: &str = "basalt";
/// Largest payload sent inline; NOTIFY refuses more than 8,000 bytes.
const INLINE_MAX: usize = 7_000;
/// How long a stored payload is kept for the nodes to read.
const KEEP: Duration = Duration::from_secs(120);
/// How often each node repeats which classes it has subscribers for.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// A node not heard from for this long is gone, and its interests with it.
const EXPIRE: Duration = Duration::from_secs(20);
/// After joining the bus, a node sends events of every class for this long: by then it has
/// heard every other node's interests (their answers to its hello, then a heartbeat).
const WARMUP: Duration = Duration::from_secs(6);
/// After joining, how long a node gives the others to answer its hello before it trusts its
/// list of nodes (a subscription waits for it).
const SETTLE: Duration = Duration::from_millis(500);
/// The longest a subscription waits for the other nodes to acknowledge its class.
const ACK_WAIT: Duration = Duration::from_secs(2);

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
    /// A node joined: every node answers with its [`Body::Interest`].
    Hello {},
    /// The classes the sender's clients subscribe to (all of them), as of its version `v`.
    /// `ask`: acknowledge it ([`Body::Ack`]) once it is in force.
    Interest {
        classes: Vec<String>,
        v: u64,
        ask: bool,
    },
    /// Node `to`'s interests up to version `v` are in force on the sender.
    Ack {
        to: String,
        v: u64,
    },
}

/// What one node knows of the others.
#[derive(Debug)]
struct Peers {
    nodes: HashMap<String, Peer>,
    /// Events of every class go out until then; `None`: not (or no longer) on the bus.
    warm_until: Option<Instant>,
    /// From then on the list of nodes is complete; `None`: not on the bus.
    settled_at: Option<Instant>,
}

#[derive(Debug)]
struct Peer {
    classes: HashSet<String>,
    /// The version of `classes`: an older message (overtaken on its way) is not applied.
    version: u64,
    seen: Instant,
    /// Our highest interest version this node has acknowledged.
    acked: u64,
}

impl Peers {
    fn new() -> Self {
        Self {
            nodes: HashMap::new(),
            warm_until: None,
            settled_at: None,
        }
    }

    fn joined(&mut self, now: Instant) {
        self.warm_until = Some(now + WARMUP);
        self.settled_at = Some(now + SETTLE);
    }

    fn left(&mut self) {
        self.warm_until = None;
        self.settled_at = None;
    }

    fn wants(&self, class: &str, now: Instant) -> bool {
        self.warm_until.is_none_or(|t| now < t)
            || self
                .nodes
                .values()
                .any(|p| now < p.seen + EXPIRE && p.classes.contains(class))
    }

    fn peer(&mut self, node: &str, now: Instant) -> &mut Peer {
        let p = self.nodes.entry(node.to_string()).or_insert_with(|| Peer {
            classes: HashSet::new(),
            version: 0,
            seen: now,
            acked: 0,
        });
        p.seen = now;
        p
    }

    /// A node's classes as of its version `v` (ignored if a newer version was applied).
    fn interest(&mut self, node: &str, classes: Vec<String>, v: u64, now: Instant) {
        let p = self.peer(node, now);
        if v >= p.version {
            p.version = v;
            p.classes = classes.into_iter().collect();
        }
    }

    /// Whether a subscription announced in version `v` is in force on every node: `Err` with
    /// the instant to look again (the list of nodes is not settled yet).
    fn confirmed(&self, v: u64, now: Instant) -> Result<bool, Option<Instant>> {
        match self.settled_at {
            None => Err(None),
            Some(t) if now < t => Err(Some(t)),
            Some(_) => Ok(self
                .nodes
                .values()
                .all(|p| now >= p.seen + EXPIRE || p.acked >= v)),
        }
    }

    fn forget_gone(&mut self, now: Instant) {
        self.nodes.retain(|_, p| now < p.seen + EXPIRE);
    }
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
    rx: Mutex<Option<mpsc::UnboundedReceiver<String>>>,
    peers: Mutex<Peers>,
    /// The version of this node's interests last sent.
    version: AtomicU64,
    /// Wakes subscriptions waiting for acknowledgements.
    acks: Notify,
}

impl Bus {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            node: crate::ids::uuid(),
            tx,
            rx: Mutex::new(Some(rx)),
            peers: Mutex::new(Peers::new()),
            version: AtomicU64::new(0),
            acks: Notify::new(),
        }
    }

    fn peers(&self) -> std::sync::MutexGuard<'_, Peers> {
        self.peers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether some other node may have subscribers for `class`.
    pub fn wants(&self, class: &str) -> bool {
        self.peers().wants(class, Instant::now())
    }

    /// Tells the other nodes this node's subscribed classes (all of them), changed: returns
    /// the new version that carries them. `ask`: they acknowledge it (see [`Self::confirmed`]).
    /// The caller holds the lock its classes come from, so messages leave in the order of the
    /// changes.
    pub fn announce(&self, classes: Vec<String>, ask: bool) -> u64 {
        let v = self.version.fetch_add(1, Ordering::Relaxed) + 1;
        self.queue(Body::Interest { classes, v, ask });
        v
    }

    /// Tells the other nodes the current classes again (same lock rule as [`Self::announce`]).
    pub fn repeat(&self, classes: Vec<String>) {
        let v = self.version.load(Ordering::Relaxed);
        self.queue(Body::Interest {
            classes,
            v,
            ask: false,
        });
    }

    /// Waits until every other node has put interest version `v` in force (at most
    /// [`ACK_WAIT`]: a node that died unannounced is not waited for longer).
    pub async fn confirmed(&self, v: u64) {
        let deadline = Instant::now() + ACK_WAIT;
        loop {
            let acked = self.acks.notified();
            let now = Instant::now();
            let again = match self.peers().confirmed(v, now) {
                Ok(true) => return,
                Ok(false) | Err(None) => deadline,
                Err(Some(t)) => t.min(deadline),
            };
            if now >= deadline {
                tracing::warn!(
                    "realtime: not every node acknowledged a new subscription in time; events from them may be missed"
                );
                return;
            }
            tokio::select! {
                () = acked => {}
                () = tokio::time::sleep_until(again.into()) => {}
            }
        }
    }

    /// The bus is up (again): say hello, and send every event until the others are known.
    fn joined(&self) {
        self.peers().joined(Instant::now());
        self.queue(Body::Hello {});
    }

    /// The bus is down: other nodes' interests can no longer be heard.
    fn left(&self) {
        self.peers().left();
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
        tokio::spawn(heartbeat(state.clone()));
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

/// Repeats this node's interests (so a lost message or a node that missed one heals) and
/// forgets nodes that went quiet.
async fn heartbeat(state: AppState) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(bus) = state.realtime.bus.as_ref() else {
            return;
        };
        bus.peers().forget_gone(Instant::now());
        state.realtime.repeat_interest();
    }
}

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
        if let Some(bus) = &state.realtime.bus {
            bus.joined();
        }
        loop {
            match listener.recv().await {
                Ok(n) => receive(&state, Some(&pool), &node, n.payload()).await,
                Err(e) => {
                    tracing::warn!(error = %e, "realtime: LISTEN connection lost; reconnecting");
                    if let Some(bus) = &state.realtime.bus {
                        bus.left();
                    }
                    break;
                }
            }
        }
    }
}

/// A notification: one message, or (from NOTIFY) an array of them. A message this node does
/// not understand (from a newer node) is skipped alone, not with the rest of its batch.
fn parse_wires(payload: &str) -> Option<Vec<Wire>> {
    if payload.trim_start().starts_with('[') {
        let items: Vec<Value> = serde_json::from_str(payload).ok()?;
        Some(
            items
                .into_iter()
                .filter_map(|v| serde_json::from_value(v).ok())
                .collect(),
        )
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
                            apply(state, &w.n, w.body).await;
                        }
                    }
                    None => tracing::warn!(id, "realtime: a stored event is gone"),
                }
            }
            body => apply(state, &wire.n, body).await,
        }
    }
}

async fn apply(state: &AppState, from: &str, body: Body) {
    match body {
        Body::Hello {} => {
            if let Some(bus) = &state.realtime.bus {
                bus.peers().peer(from, Instant::now());
                state.realtime.repeat_interest();
            }
        }
        Body::Interest { classes, v, ask } => {
            if let Some(bus) = &state.realtime.bus {
                bus.peers().interest(from, classes, v, Instant::now());
                // In force from now on: this node's next write decides with it.
                if ask {
                    bus.queue(Body::Ack {
                        to: from.to_string(),
                        v,
                    });
                }
            }
        }
        Body::Ack { to, v } => {
            if let Some(bus) = &state.realtime.bus
                && to == bus.node
            {
                let mut peers = bus.peers();
                let p = peers.peer(from, Instant::now());
                p.acked = p.acked.max(v);
                drop(peers);
                bus.acks.notify_waiters();
            }
        }
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
        if let Some(bus) = &state.realtime.bus {
            bus.joined();
        }
        loop {
            match conn.message().await {
                Ok(payload) => match std::str::from_utf8(&payload) {
                    Ok(text) => receive(&state, None, &node, text).await,
                    Err(_) => tracing::warn!("realtime: ignoring a non-UTF-8 message"),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "realtime: Redis subscription lost; reconnecting");
                    if let Some(bus) = &state.realtime.bus {
                        bus.left();
                    }
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_sends_every_class_until_it_has_heard_the_others() {
        let t0 = Instant::now();
        let mut p = Peers::new();
        // Not on the bus yet: others' interests cannot be known.
        assert!(p.wants("Anything", t0));
        p.joined(t0);
        assert!(p.wants("Anything", t0 + WARMUP - Duration::from_millis(1)));
        let after = t0 + WARMUP;
        assert!(!p.wants("Anything", after));
        p.interest("b", vec!["Message".to_string()], 1, after);
        assert!(p.wants("Message", after));
        assert!(!p.wants("Other", after));
        // A message overtaken by a newer one is not applied.
        p.interest(
            "b",
            vec!["Message".to_string(), "Other".to_string()],
            3,
            after,
        );
        p.interest("b", vec![], 2, after);
        assert!(p.wants("Message", after) && p.wants("Other", after));
        p.interest("b", vec!["Message".to_string()], 4, after);
        assert!(!p.wants("Other", after));
        // A node gone quiet takes its interests with it.
        assert!(!p.wants("Message", after + EXPIRE));
        // Losing the bus: every class again, until joined anew.
        p.left();
        assert!(p.wants("Other", after));
    }

    #[test]
    fn a_subscription_is_confirmed_once_every_live_node_acknowledged_it() {
        let t0 = Instant::now();
        let mut p = Peers::new();
        assert_eq!(p.confirmed(1, t0), Err(None));
        p.joined(t0);
        // The list of nodes is not settled before the others could answer the hello.
        assert_eq!(p.confirmed(1, t0), Err(Some(t0 + SETTLE)));
        let now = t0 + SETTLE;
        // Alone: nobody to wait for.
        assert_eq!(p.confirmed(1, now), Ok(true));
        p.peer("b", now);
        p.peer("c", now).acked = 3;
        assert_eq!(p.confirmed(2, now), Ok(false));
        p.peer("b", now).acked = 2;
        assert_eq!(p.confirmed(2, now), Ok(true));
        assert_eq!(p.confirmed(3, now), Ok(false));
        // A node that went quiet is not waited for.
        p.peer("c", now).acked = 0;
        assert_eq!(p.confirmed(2, now + EXPIRE), Ok(true));
        p.forget_gone(now + EXPIRE);
        assert!(p.nodes.is_empty());
    }

    #[test]
    fn a_message_from_a_newer_node_is_skipped_alone() {
        let payload =
            r#"[{"n":"a","hello":{}},{"n":"a","teleport":1},{"n":"a","ack":{"to":"b","v":2}}]"#;
        let wires = parse_wires(payload).expect("parses");
        assert_eq!(wires.len(), 2);
        assert!(matches!(wires[0].body, Body::Hello {}));
        assert!(matches!(&wires[1].body, Body::Ack { to, v: 2 } if to == "b"));
    }
}
