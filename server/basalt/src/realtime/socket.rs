//! One WebSocket connection: its frames in, its queue out, a ping every 10 s (a client that
//! misses a pong is closed, as Parse does), in one task with small buffers so that an idle
//! connection costs a few kilobytes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use basalt_query::matcher::CompiledFilter;
use basalt_query::{ClassSchema, Filter};
use futures_util::SinkExt;
use subtle::ConstantTimeEq;
use tokio::sync::{Notify, mpsc};

use super::protocol::{self, Connect, Request, SubscribeRequest};
use super::{Client, Profile, QUEUE, Sub, constrained_fields};
use crate::clp;
use crate::state::AppState;

/// Largest frame a client may send.
const MAX_FRAME: usize = 64 << 10;
/// Most subscriptions one connection may hold.
pub const MAX_SUBSCRIPTIONS: usize = 1_000;
const PING_EVERY: Duration = Duration::from_secs(10);
/// How long one write to a client may take before the client is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most queued frames written together.
const BATCH: usize = 64;

/// `GET` at the mount path (or `/`): a WebSocket upgrade, else Parse's 404.
pub async fn upgrade(
    State(state): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Ok(ws) = ws else {
        return crate::http::routes::not_found(method, uri).await;
    };
    ws.read_buffer_size(4 << 10)
        .write_buffer_size(16 << 10)
        .max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .on_upgrade(move |socket| run(state, socket, addr))
        .into_response()
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

async fn run(state: AppState, mut socket: WebSocket, addr: SocketAddr) {
    let (tx, mut rx) = mpsc::channel::<String>(QUEUE);
    let mut client: Option<Arc<Client>> = None;
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut awaiting_pong = false;
    // Before `connect` there is no client to kick; this one never fires.
    let idle = Notify::new();
    loop {
        let kick = client.as_ref().map_or(&idle, |c| &c.kick);
        tokio::select! {
            frame = socket.recv() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let replies = handle(&state, &mut client, &tx, addr, text.as_str()).await;
                    for r in replies {
                        if socket.send(Message::text(r)).await.is_err() {
                            break;
                        }
                    }
                }
                Some(Ok(Message::Pong(_))) => awaiting_pong = false,
                Some(Ok(Message::Ping(_) | Message::Binary(_))) => {}
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
            },
            Some(out) = rx.recv() => {
                // Whatever else is waiting goes in the same write. A client that stops reading
                // would block the write forever (and with it this task): it gets WRITE_TIMEOUT.
                let write = async {
                    socket.feed(Message::text(out)).await?;
                    for _ in 1..BATCH {
                        let Ok(more) = rx.try_recv() else { break };
                        socket.feed(Message::text(more)).await?;
                    }
                    socket.flush().await
                };
                if !matches!(tokio::time::timeout(WRITE_TIMEOUT, write).await, Ok(Ok(()))) {
                    break;
                }
            }
            () = kick.notified() => {
                let frame = protocol::error(1, "Client is too slow: too many events waiting", true, None);
                let goodbye = async {
                    socket.send(Message::text(frame)).await?;
                    socket.send(Message::Close(None)).await
                };
                let _ = tokio::time::timeout(Duration::from_secs(1), goodbye).await;
                break;
            }
            _ = ping.tick() => {
                if awaiting_pong || socket.send(Message::Ping(Default::default())).await.is_err() {
                    break;
                }
                awaiting_pong = true;
            }
        }
    }
    if let Some(c) = client {
        state.realtime.disconnect(&c);
    }
}

/// Answers one frame; events reach the client through its queue instead.
async fn handle(
    state: &AppState,
    client: &mut Option<Arc<Client>>,
    tx: &mpsc::Sender<String>,
    addr: SocketAddr,
    text: &str,
) -> Vec<String> {
    let request = match protocol::parse(text) {
        Ok(Some(r)) => r,
        // Not JSON: Parse ignores it.
        Ok(None) => return vec![],
        Err(e) => return vec![protocol::error(e.code, &e.message, true, None)],
    };
    match request {
        Request::Connect(c) => match connect(state, c, tx, addr) {
            Ok(c) => {
                if let Some(old) = client.replace(c.clone()) {
                    state.realtime.disconnect(&old);
                }
                vec![protocol::ack(
                    "connected",
                    &c.id,
                    c.installation_id.as_deref(),
                    None,
                )]
            }
            Err(frame) => vec![frame],
        },
        Request::Subscribe { sub, replace } => {
            let Some(c) = client.clone() else {
                return vec![protocol::error(
                    2,
                    "Can not find this client, make sure you connect to server before subscribing",
                    true,
                    None,
                )];
            };
            if replace {
                state.realtime.unsubscribe(&c, &sub.request_id.to_string());
            }
            let rid = sub.request_id.clone();
            match subscribe(state, &c, sub).await {
                Ok(()) => vec![protocol::ack(
                    "subscribed",
                    &c.id,
                    c.installation_id.as_deref(),
                    Some(&rid),
                )],
                Err((code, message)) => vec![protocol::error(code, &message, false, Some(&rid))],
            }
        }
        Request::Unsubscribe { request_id } => {
            let Some(c) = client.clone() else {
                return vec![protocol::error(
                    2,
                    "Can not find this client, make sure you connect to server before unsubscribing",
                    true,
                    None,
                )];
            };
            if state.realtime.unsubscribe(&c, &request_id.to_string()) {
                vec![protocol::ack(
                    "unsubscribed",
                    &c.id,
                    c.installation_id.as_deref(),
                    Some(&request_id),
                )]
            } else {
                vec![protocol::error(
                    2,
                    &format!(
                        "Cannot find subscription with clientId {} subscriptionId {request_id}. Make sure you subscribe to live query server before unsubscribing.",
                        c.id
                    ),
                    true,
                    None,
                )]
            }
        }
    }
}

/// `connect`: the application id must be ours, and a client key one of ours when any is
/// configured (as for REST). A master key counts only from `--masterKeyIps`; a wrong one
/// leaves the client without it, as in Parse.
fn connect(
    state: &AppState,
    c: Connect,
    tx: &mpsc::Sender<String>,
    addr: SocketAddr,
) -> Result<Arc<Client>, String> {
    let cfg = &state.config;
    let bad_keys = || protocol::error(4, "Key in request is not valid", true, None);
    if !ct_eq(&c.application_id, &cfg.app_id) {
        return Err(bad_keys());
    }
    let master = c.master_key.as_deref().is_some_and(|k| {
        ct_eq(k, &cfg.master_key)
            || cfg
                .read_only_master_key
                .as_deref()
                .is_some_and(|ro| ct_eq(k, ro))
    }) && cfg.master_key_ips.iter().any(|r| r.contains(addr.ip()));
    let keys = &cfg.client_keys;
    if !master && keys.any_configured() {
        let ours = [&keys.javascript, &keys.rest, &keys.client, &keys.dotnet];
        let ok = c.client_keys.iter().any(|k| {
            ours.iter()
                .any(|o| o.as_deref().is_some_and(|o| ct_eq(k, o)))
        });
        if !ok {
            return Err(bad_keys());
        }
    }
    Ok(Arc::new(Client::new(
        c.installation_id,
        master,
        c.session_token,
        tx.clone(),
    )))
}

/// `subscribe`: the query must parse and be decidable in memory, the class-level permissions
/// must allow find (or get, for a query on `objectId` alone), and neither the query nor
/// `watch` may name a field hidden from the subscriber.
async fn subscribe(
    state: &AppState,
    client: &Arc<Client>,
    req: SubscribeRequest,
) -> Result<(), (i64, String)> {
    let fail = |e: crate::error::ApiError| (i64::from(e.code), e.message);
    {
        let subs = client.subs.lock().unwrap_or_else(|e| e.into_inner());
        if subs.len() >= MAX_SUBSCRIPTIONS && !subs.contains_key(&req.request_id.to_string()) {
            return Err((
                1,
                format!("A connection may hold at most {MAX_SUBSCRIPTIONS} subscriptions"),
            ));
        }
    }
    let token = req
        .session_token
        .clone()
        .or_else(|| client.session_token.clone());
    let auth = super::rights(state, client.master, token.as_deref()).await;
    crate::ids::ClassName::parse(&req.class_name).map_err(fail)?;
    // What a client may not list through REST it may not watch either: `_Installation` (device
    // tokens), the master key's classes, `_Join` tables.
    crate::rest::guard_class("find", &req.class_name, &auth).map_err(fail)?;
    if req.class_name == "_Session" && auth.user().is_none() && !auth.reads_everything() {
        return Err((209, "Invalid session token".into()));
    }
    let filter = Filter::parse(&req.where_).map_err(|e| fail(e.into()))?;
    if filter.fields().contains(&"ACL") {
        return Err((102, "Cannot query on ACL.".into()));
    }
    let schema = state
        .schemas
        .get(&req.class_name)
        .unwrap_or_else(|| Arc::new(ClassSchema::new(&req.class_name)));
    let compiled = CompiledFilter::new(&schema, &filter).map_err(|e| fail(e.into()))?;
    if filter.needs_database() || compiled.needs_database() {
        return Err((
            102,
            "LiveQuery cannot match $inQuery, $notInQuery, $select, $dontSelect, $relatedTo or relation fields".into(),
        ));
    }
    let by_id = req
        .where_
        .as_object()
        .is_some_and(|w| w.len() == 1 && w.get("objectId").is_some_and(|v| v.is_string()));
    let fields = constrained_fields(&filter);
    let op = if by_id { clp::Op::Get } else { clp::Op::Find };
    clp::access(&schema, op, &auth).map_err(fail)?;
    let protected = clp::protected_fields(&schema, &auth);
    let named = |f: &String| {
        protected
            .iter()
            .any(|p| p == f.split('.').next().unwrap_or(f))
    };
    if fields.iter().any(named) || req.watch.iter().flatten().any(named) {
        return Err((119, "Permission denied".into()));
    }
    let sub = Sub {
        client: client.clone(),
        request_id: req.request_id,
        profile: Profile {
            master: client.master,
            session_token: token,
            keys: req.keys,
            watch: req.watch,
            by_id,
            fields,
        },
    };
    let version = state.realtime.subscribe(
        &req.class_name,
        &req.where_,
        filter,
        (schema, compiled),
        sub,
    );
    state.realtime.confirmed(version).await;
    Ok(())
}
