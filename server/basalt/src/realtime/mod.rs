//! LiveQuery: subscriptions over WebSocket, fed by committed writes.
//!
//! A write that commits hands its [`Event`]s (the object after, and before, as the master key
//! sees it) to [`Realtime::publish`]. They go to this node's dispatcher and, through the [`bus`]
//! (PostgreSQL's `NOTIFY`, or Redis), to every other node. The dispatcher matches each event against the
//! subscriptions of its class — grouped by query, so one test serves every client of the same
//! query — then decides per subscriber, as Parse does, what that subscriber may learn
//! ([`deliver`]): class-level permissions, the object's ACL before and after, protected fields,
//! `keys` and `watch`. Each connection has a bounded queue; a client that cannot keep up is
//! dropped with an error rather than holding memory or slowing the others.

pub mod bus;
mod deliver;
pub mod protocol;
pub mod redis;
pub mod socket;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use basalt_query::matcher::CompiledFilter;
use basalt_query::{ClassSchema, Filter};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};
use tokio::sync::{Notify, mpsc};

use crate::auth::Auth;
use crate::state::AppState;

/// How many frames may wait for one client before it is dropped as too slow.
pub const QUEUE: usize = 256;

/// A committed change to one object, as the master key sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    pub class: String,
    /// `afterDelete` rather than `afterSave`.
    pub deleted: bool,
    /// The object after the write (the deleted object for a delete).
    pub object: Map<String, Value>,
    /// The object before an update.
    pub original: Option<Map<String, Value>>,
}

/// One WebSocket client after `connect`.
pub struct Client {
    /// The id Parse gives a client: a UUID.
    pub id: String,
    /// `"clientId":…` and `"installationId":…` as every event frame carries them.
    frame_ids: String,
    pub installation_id: Option<String>,
    /// Connected with the master key (from an allowed address).
    pub master: bool,
    pub session_token: Option<String>,
    out: mpsc::Sender<String>,
    /// Set once the client is to be dropped; the socket task sends `error` and closes.
    dropped: AtomicBool,
    kick: Notify,
    /// Its subscriptions: request id → (class, query key).
    subs: Mutex<HashMap<String, (String, String)>>,
}

impl Client {
    pub fn new(
        installation_id: Option<String>,
        master: bool,
        session_token: Option<String>,
        out: mpsc::Sender<String>,
    ) -> Self {
        let id = crate::ids::uuid();
        let mut frame_ids = format!("\"clientId\":{}", Value::from(id.as_str()));
        if let Some(i) = &installation_id {
            frame_ids.push_str(&format!(",\"installationId\":{}", Value::from(i.as_str())));
        }
        Self {
            id,
            frame_ids,
            installation_id,
            master,
            session_token,
            out,
            dropped: AtomicBool::new(false),
            kick: Notify::new(),
            subs: Mutex::default(),
        }
    }

    /// Queues a frame; a full queue drops the client.
    fn send(&self, frame: String) {
        if self.dropped.load(Ordering::Relaxed) {
            return;
        }
        if self.out.try_send(frame).is_err() {
            self.dropped.store(true, Ordering::Relaxed);
            self.kick.notify_one();
        }
    }
}

/// One client's subscription.
pub struct Sub {
    pub client: Arc<Client>,
    pub request_id: Number,
    pub profile: Profile,
}

/// Everything about a subscription that decides what it is shown of an event, apart from the
/// event: subscriptions with equal profiles (a thousand anonymous clients of one query, say)
/// are decided once per event.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Profile {
    /// Connected with the master key.
    pub master: bool,
    /// The subscription's own session token, else the connection's.
    pub session_token: Option<String>,
    pub keys: Option<Vec<String>>,
    pub watch: Option<Vec<String>>,
    /// A query on `objectId` alone is a get for class-level permissions, as in Parse.
    pub by_id: bool,
    /// The fields the query constrains: none may be hidden from the subscriber.
    pub fields: Vec<String>,
}

/// Every subscription with the same class and query.
struct Group {
    filter: Filter,
    /// The filter resolved against the class schema it was built for; built again when the
    /// schema changes (a field added after the subscription is then known).
    compiled: RwLock<(Arc<ClassSchema>, CompiledFilter)>,
    subs: Vec<Arc<Sub>>,
}

impl Group {
    /// Whether `object` matches, by the current `schema`.
    fn matches(&self, schema: &Arc<ClassSchema>, object: &Map<String, Value>) -> bool {
        {
            let c = self.compiled.read().unwrap_or_else(|e| e.into_inner());
            if Arc::ptr_eq(&c.0, schema) {
                return c.1.matches(object);
            }
        }
        let Ok(fresh) = CompiledFilter::new(schema, &self.filter) else {
            return false;
        };
        let matched = fresh.matches(object);
        *self.compiled.write().unwrap_or_else(|e| e.into_inner()) = (schema.clone(), fresh);
        matched
    }
}

#[derive(Default)]
struct Hub {
    /// class → query key → group.
    classes: HashMap<String, HashMap<String, Group>>,
    /// class → the version of this node's interests that first named it (see [`bus`]).
    announced: HashMap<String, u64>,
}

pub struct Realtime {
    /// `--liveQuery {"classNames": …}`: only these classes publish; `None`: all do.
    classes: Option<HashSet<String>>,
    hub: RwLock<Hub>,
    local: mpsc::UnboundedSender<Arc<Event>>,
    local_rx: Mutex<Option<mpsc::UnboundedReceiver<Arc<Event>>>>,
    bus: Option<bus::Bus>,
}

/// Classes whose objects never go out as events: sessions carry tokens.
fn never_published(class: &str) -> bool {
    class == "_Session" || class.starts_with("_Join:")
}

/// A key that is the same for the same query, whatever the order of its keys.
fn query_key(v: &Value) -> String {
    fn canon(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), canon(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(canon).collect()),
            other => other.clone(),
        }
    }
    canon(v).to_string()
}

impl Realtime {
    pub fn new(classes: Option<&[String]>, bus: Option<bus::Bus>) -> Self {
        let (local, rx) = mpsc::unbounded_channel();
        Self {
            classes: classes.map(|c| c.iter().cloned().collect()),
            hub: RwLock::new(Hub::default()),
            local,
            local_rx: Mutex::new(Some(rx)),
            bus,
        }
    }

    /// Whether writes to `class` produce events: some client of this node, or (as far as this
    /// node knows) of another, subscribes to it. A write nobody watches costs nothing.
    pub fn publishes(&self, class: &str) -> bool {
        !never_published(class)
            && self.classes.as_ref().is_none_or(|c| c.contains(class))
            && (self
                .hub
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .classes
                .contains_key(class)
                || self.bus.as_ref().is_some_and(|b| b.wants(class)))
    }

    /// Hands committed events to this node's subscribers and, through the bus, to the others'.
    pub fn publish(&self, events: Vec<Event>) {
        for e in events {
            let e = Arc::new(e);
            if let Some(bus) = &self.bus
                && bus.wants(&e.class)
            {
                bus.send(&e);
            }
            let _ = self.local.send(e);
        }
    }

    /// Tells the other nodes again which classes this node's clients subscribe to. Under the
    /// hub's lock, as every change is announced: a repeat cannot overtake a change.
    pub fn repeat_interest(&self) {
        if let Some(bus) = &self.bus {
            let hub = self.hub.read().unwrap_or_else(|e| e.into_inner());
            bus.repeat(hub.classes.keys().cloned().collect());
        }
    }

    /// Waits until the other nodes publish the class of a subscription `subscribe` announced
    /// in `version` (at once on one node, or once they have acknowledged it).
    pub async fn confirmed(&self, version: Option<u64>) {
        if let (Some(bus), Some(v)) = (&self.bus, version) {
            bus.confirmed(v).await;
        }
    }

    /// Tells the other nodes' session caches what this node's learnt.
    pub fn invalidate(&self, i: bus::Invalidation) {
        if let Some(bus) = &self.bus {
            bus.invalidate(i);
        }
    }

    /// An event another node published.
    pub(crate) fn receive(&self, e: Event) {
        let _ = self.local.send(Arc::new(e));
    }

    /// Starts the dispatcher (once).
    pub fn start(state: &AppState) {
        let rx = state
            .realtime
            .local_rx
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(mut rx) = rx {
            let state = state.clone();
            tokio::spawn(async move {
                while let Some(e) = rx.recv().await {
                    deliver::dispatch(&state, &e).await;
                }
            });
        }
    }

    /// Adds (or replaces, under the same request id) a subscription. Returns the version of
    /// this node's interests that named its class to the other nodes (for [`Self::confirmed`]).
    fn subscribe(
        &self,
        class: &str,
        where_: &Value,
        filter: Filter,
        compiled: (Arc<ClassSchema>, CompiledFilter),
        sub: Sub,
    ) -> Option<u64> {
        let key = query_key(where_);
        let client = sub.client.clone();
        let rid = sub.request_id.to_string();
        self.unsubscribe(&client, &rid);
        let mut hub = self.hub.write().unwrap_or_else(|e| e.into_inner());
        let version = self.bus.as_ref().map(|bus| {
            if let Some(v) = hub.announced.get(class) {
                return *v;
            }
            let mut classes: Vec<String> = hub.classes.keys().cloned().collect();
            classes.push(class.to_string());
            let v = bus.announce(classes, true);
            hub.announced.insert(class.to_string(), v);
            v
        });
        hub.classes
            .entry(class.to_string())
            .or_default()
            .entry(key.clone())
            .or_insert_with(|| Group {
                filter,
                compiled: RwLock::new(compiled),
                subs: Vec::new(),
            })
            .subs
            .push(Arc::new(sub));
        client
            .subs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(rid, (class.to_string(), key));
        version
    }

    /// Removes one subscription; false if the client had none under that id.
    fn unsubscribe(&self, client: &Arc<Client>, request_id: &str) -> bool {
        let Some((class, key)) = client
            .subs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(request_id)
        else {
            return false;
        };
        let mut hub = self.hub.write().unwrap_or_else(|e| e.into_inner());
        if let Some(groups) = hub.classes.get_mut(&class) {
            if let Some(g) = groups.get_mut(&key) {
                g.subs.retain(|s| {
                    !(Arc::ptr_eq(&s.client, client) && s.request_id.to_string() == request_id)
                });
                if g.subs.is_empty() {
                    groups.remove(&key);
                }
            }
            if groups.is_empty() {
                hub.classes.remove(&class);
                hub.announced.remove(&class);
                if let Some(bus) = &self.bus {
                    bus.announce(hub.classes.keys().cloned().collect(), false);
                }
            }
        }
        true
    }

    /// Removes every subscription of a client that went away.
    fn disconnect(&self, client: &Arc<Client>) {
        let ids: Vec<String> = client
            .subs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        for id in ids {
            self.unsubscribe(client, &id);
        }
    }

    /// Subscriptions held on this node (for metrics and tests).
    pub fn subscription_count(&self) -> usize {
        let hub = self.hub.read().unwrap_or_else(|e| e.into_inner());
        hub.classes
            .values()
            .flat_map(|g| g.values())
            .map(|g| g.subs.len())
            .sum()
    }
}

/// A subscriber's rights now: the master key, the user of its session token (a revoked or
/// expired token counts as no user, as in Parse), or the public.
async fn rights(state: &AppState, master: bool, token: Option<&str>) -> Auth {
    if master {
        return Auth::Master;
    }
    match token {
        Some(t) => match state.sessions.resolve(&state.storage, t).await {
            Ok(u) => Auth::User(u),
            Err(_) => Auth::Public,
        },
        None => Auth::Public,
    }
}

/// The fields a `where` constrains, through `$and`/`$or`/`$nor`.
fn constrained_fields(filter: &Filter) -> Vec<String> {
    filter.fields().into_iter().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(queue: usize) -> (Arc<Client>, mpsc::Receiver<String>) {
        let (tx, rx) = mpsc::channel(queue);
        (Arc::new(Client::new(None, false, None, tx)), rx)
    }

    #[tokio::test]
    async fn a_client_whose_queue_is_full_is_dropped_and_its_socket_told() {
        let (c, mut rx) = client(2);
        c.send("1".into());
        c.send("2".into());
        assert!(!c.dropped.load(Ordering::Relaxed));
        c.send("3".into());
        assert!(c.dropped.load(Ordering::Relaxed));
        // The socket task is woken to send the error and close.
        tokio::time::timeout(std::time::Duration::from_secs(1), c.kick.notified())
            .await
            .expect("the socket task was not woken");
        // Nothing more is queued for a dropped client, even once there is room.
        assert_eq!(rx.recv().await.as_deref(), Some("1"));
        c.send("4".into());
        assert_eq!(rx.recv().await.as_deref(), Some("2"));
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn a_clients_ids_are_rendered_once_as_json() {
        let (tx, _rx) = mpsc::channel(1);
        let c = Client::new(Some("inst\"1".into()), false, None, tx);
        let v: Value =
            serde_json::from_str(&format!("{{{}}}", c.frame_ids)).expect("frame ids are JSON");
        assert_eq!(v["clientId"], c.id.as_str());
        assert_eq!(v["installationId"], "inst\"1");
        let (tx, _rx) = mpsc::channel(1);
        let bare = Client::new(None, false, None, tx);
        assert!(!bare.frame_ids.contains("installationId"));
    }

    #[test]
    fn the_same_query_in_another_key_order_is_one_group() {
        let a: Value = serde_json::json!({"a": 1, "b": {"$gt": 2, "$lt": 5}});
        let b: Value = serde_json::json!({"b": {"$lt": 5, "$gt": 2}, "a": 1});
        assert_eq!(query_key(&a), query_key(&b));
        assert_ne!(query_key(&a), query_key(&serde_json::json!({"a": 2})));
    }

    #[test]
    fn which_classes_publish() {
        let all = Realtime::new(None, Some(bus::Bus::new()));
        assert!(all.publishes("Message"));
        assert!(all.publishes("_User"));
        assert!(!all.publishes("_Session"));
        let some = Realtime::new(Some(&["Message".to_string()]), Some(bus::Bus::new()));
        assert!(some.publishes("Message"));
        assert!(!some.publishes("Other"));
        // Without a bus, only a class someone subscribes to.
        let alone = Realtime::new(None, None);
        assert!(!alone.publishes("Message"));
        let (c, _rx) = client(4);
        let filter = Filter::All;
        let schema = Arc::new(ClassSchema::new("Message"));
        let compiled = CompiledFilter::new(&schema, &filter).expect("compiles");
        let sub = Sub {
            client: c.clone(),
            request_id: Number::from(1),
            profile: Profile {
                master: false,
                session_token: None,
                keys: None,
                watch: None,
                by_id: false,
                fields: vec![],
            },
        };
        alone.subscribe("Message", &Value::Null, filter, (schema, compiled), sub);
        assert!(alone.publishes("Message"));
        assert!(!alone.publishes("Other"));
        alone.disconnect(&c);
        assert!(!alone.publishes("Message"));
    }
}
