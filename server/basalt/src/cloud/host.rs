//! What scripts call back through: REST calls served in-process by the same router, envelope
//! and handlers as HTTP requests (so every rule and trigger applies), with the rights the
//! script named. The master key is sent only when the script asked for it (`useMasterKey`).

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock, Weak};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{Method, header};
use axum::response::Response;
use basalt_cloud::{BoxFuture, Host, RestCall};
use serde_json::{Map, Value, json};
use tower::ServiceExt;
use tower::util::BoxCloneSyncService;

use crate::state::{AppState, Inner};

/// Marks a request a script made, and the depth its own hooks run at. Only the server can set
/// it (it is not a header), so it also lets the master key in from inside the process whatever
/// `--masterKeyIps` says.
#[derive(Debug, Clone, Copy)]
pub struct CloudCall {
    pub depth: u32,
    /// The client request the script runs for ([`super::Origin::root`]).
    pub root: u64,
}

type Service = BoxCloneSyncService<Request, Response, Infallible>;

pub struct ServerHost {
    // Weak: the engine lives in the state; the service (built on first use) holds it strongly,
    // which is fine for a server that runs until the process ends.
    state: Weak<Inner>,
    service: OnceLock<Service>,
    outbound: Arc<super::outbound::Outbound>,
}

impl ServerHost {
    pub fn new(state: &AppState) -> Result<ServerHost, String> {
        Ok(ServerHost {
            state: Arc::downgrade(&state.0),
            service: OnceLock::new(),
            outbound: Arc::new(super::outbound::Outbound::new(
                state.config.cloud_http_hosts.clone(),
            )?),
        })
    }

    fn service(&self, state: &AppState) -> Service {
        self.service
            .get_or_init(|| crate::http::service(state.clone()))
            .clone()
    }
}

fn failure(status: u16, code: i64, message: &str) -> String {
    json!({"status": status, "body": {"code": code, "error": message}}).to_string()
}

impl Host for ServerHost {
    fn rest(&self, call: RestCall) -> BoxFuture<String> {
        let Some(inner) = self.state.upgrade() else {
            return Box::pin(async { failure(503, 1, "The server is shutting down.") });
        };
        let state = AppState(inner);
        let svc = self.service(&state);
        Box::pin(async move {
            let req = match envelope(&state, &call) {
                Ok(r) => r,
                Err(msg) => return failure(400, 107, &msg),
            };
            let Ok(res) = svc.oneshot(req).await;
            let status = res.status().as_u16();
            // The SDK reads the ids of what a call started from these.
            let headers: Map<String, Value> = ["X-Parse-Job-Status-Id", "X-Parse-Push-Status-Id"]
                .iter()
                .filter_map(|h| {
                    let v = res.headers().get(*h)?.to_str().ok()?;
                    Some((h.to_string(), Value::from(v)))
                })
                .collect();
            let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .unwrap_or_default();
            let body: Value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            json!({"status": status, "body": body, "headers": headers}).to_string()
        })
    }

    fn http(&self, request: String) -> BoxFuture<String> {
        let outbound = self.outbound.clone();
        Box::pin(async move { outbound.request(&request).await })
    }
}

/// The call as the JS SDK would send it: `POST` with a JSON envelope naming the method, the
/// application id and the rights.
fn envelope(state: &AppState, call: &RestCall) -> Result<Request, String> {
    let mut body: Map<String, Value> = if call.body.is_empty() {
        Map::new()
    } else {
        match serde_json::from_str(&call.body) {
            Ok(Value::Object(m)) => m,
            _ => return Err("the request body must be a JSON object".into()),
        }
    };
    let options: Map<String, Value> = serde_json::from_str(&call.options).unwrap_or_default();
    let method = call.method.to_ascii_uppercase();
    if !["GET", "POST", "PUT", "DELETE"].contains(&method.as_str()) {
        return Err(format!("unsupported method {method}"));
    }
    body.insert("_method".into(), Value::from(method));
    body.insert(
        "_ApplicationId".into(),
        Value::from(state.config.app_id.clone()),
    );
    if options.get("useMasterKey") == Some(&Value::Bool(true)) {
        body.insert(
            "_MasterKey".into(),
            Value::from(state.config.master_key.clone()),
        );
    } else if let Some(token) = options.get("sessionToken").and_then(Value::as_str) {
        body.insert("_SessionToken".into(), Value::from(token));
    }
    if let Some(id) = options.get("installationId").and_then(Value::as_str) {
        body.insert("_InstallationId".into(), Value::from(id));
    }
    if let Some(ctx) = options.get("context").filter(|c| c.is_object()) {
        body.insert("_context".into(), ctx.clone());
    }
    // Client keys are the SDK's to send; a script is the server's own code.
    if let Some(k) = &state.config.client_keys.javascript {
        body.insert("_JavaScriptKey".into(), Value::from(k.clone()));
    } else if let Some(k) = &state.config.client_keys.rest {
        body.insert("_RestAPIKey".into(), Value::from(k.clone()));
    } else if let Some(k) = &state.config.client_keys.client {
        body.insert("_ClientKey".into(), Value::from(k.clone()));
    }
    let path = call.path.trim_start_matches('/');
    if path.contains("..") {
        return Err(format!("invalid path {path}"));
    }
    let uri = format!("{}/{path}", state.config.mount_path.trim_end_matches('/'));
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(Value::Object(body).to_string()))
        .map_err(|e| format!("invalid request: {e}"))?;
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))));
    req.extensions_mut().insert(CloudCall {
        depth: call.depth,
        root: call.origin,
    });
    Ok(req)
}
