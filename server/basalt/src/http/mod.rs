//! The HTTP edge: the route tree under the mount path, the request envelope, CORS, and the
//! [`Ctx`] extractor that turns keys into an [`Auth`]. Handlers live in `routes/` and stay thin.
//!
//! The official SDKs send every call as `POST` with a `text/plain` JSON body carrying
//! `_method`, `_ApplicationId`, `_MasterKey`… and, for reads, the query parameters. The
//! [`envelope`] middleware runs *before* routing, so it can turn such a request into the one it
//! stands for; handlers then see one shape whichever form the client used.

mod envelope;
pub mod routes;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;
use tower::Layer;

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub use envelope::{Envelope, RequestData};

/// The whole API as one service: the envelope middleware around the route tree. HTTP
/// requests and cloud code's in-process REST calls both go through it.
pub fn service(state: AppState) -> Service {
    let mount = state.config.mount_path.clone();
    // LiveQuery's WebSocket answers at the mount path and at `/`, on the API's own port.
    let live = axum::routing::get(crate::realtime::socket::upgrade);
    let api = routes::router().route("/", live.clone());
    let router = if mount == "/" {
        api
    } else {
        Router::new().nest(&mount, api).route("/", live)
    };
    let router = router
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::not_found)
        .with_state(state.clone());
    // The envelope middleware wraps the router (not `Router::layer`) so it runs before routing
    // and can rewrite the method.
    Service::new(axum::middleware::from_fn_with_state(state, envelope::prepare).layer(router))
}

pub type Service = tower::util::BoxCloneSyncService<
    axum::extract::Request,
    axum::response::Response,
    std::convert::Infallible,
>;

/// Serves the API on `listener` until `shutdown` resolves.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let svc = service(state);
    axum::serve(listener, axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<SocketAddr>(svc))
        .with_graceful_shutdown(shutdown)
        .await
}

/// What a handler knows about the request: who is calling, the query parameters (from the URL
/// or the envelope) and the JSON body.
pub struct Ctx {
    pub auth: Auth,
    /// The method the request stands for (after the envelope's `_method`).
    pub method: axum::http::Method,
    /// `X-Parse-Installation-Id` / `_InstallationId`.
    pub installation_id: Option<String>,
    /// The session token as sent, for `/sessions/me`, which looks it up itself.
    pub session_token: Option<String>,
    pub params: Map<String, Value>,
    body: Option<Value>,
    body_error: Option<ApiError>,
    /// The body as sent, for file uploads.
    pub raw: axum::body::Bytes,
    pub content_type: Option<String>,
}

impl Ctx {
    /// The JSON body, or the error that reading it produced.
    pub fn body(&mut self) -> ApiResult<Value> {
        if let Some(e) = self.body_error.take() {
            return Err(e);
        }
        Ok(self
            .body
            .take()
            .unwrap_or_else(|| Value::Object(Map::new())))
    }

    /// The JSON body if the request had one (a raw upload has none).
    pub fn json_body(&self) -> Option<&Value> {
        self.body.as_ref()
    }

    /// Master-key-only routes. The read-only master key passes for reads and is refused (119)
    /// for anything else.
    pub fn require_master(&self) -> ApiResult<()> {
        match self.auth {
            Auth::Master => Ok(()),
            Auth::ReadOnlyMaster if self.method == axum::http::Method::GET => Ok(()),
            Auth::ReadOnlyMaster => self.auth.check_writable(match self.method.as_str() {
                "DELETE" => "delete",
                "PUT" => "update",
                _ => "create",
            }),
            _ => Err(ApiError::master_required()),
        }
    }
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let data = parts.extensions.remove::<RequestData>().unwrap_or_default();
        // A body Parse's parser would refuse is refused before the keys are looked at.
        if let Some(e) = data
            .body_error
            .clone()
            .filter(|e| e.kind == crate::error::Kind::BadBody)
        {
            return Err(e);
        }
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let env = &data.envelope;
        let cfg = &state.config;

        let app_id = header("x-parse-application-id").or_else(|| env.application_id.clone());
        if !app_id.is_some_and(|id| ct_eq(&id, &cfg.app_id)) {
            return Err(ApiError::unauthorized());
        }
        let master = header("x-parse-master-key").or_else(|| env.master_key.clone());
        let read_only = master.as_deref().is_some_and(|k| {
            cfg.read_only_master_key
                .as_deref()
                .is_some_and(|ro| ct_eq(k, ro))
        });
        let is_master = read_only || master.is_some_and(|k| ct_eq(&k, &cfg.master_key));
        let auth = if is_master {
            let ip = parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip());
            let in_process = parts.extensions.get::<crate::cloud::CloudCall>().is_some();
            if !in_process
                && !ip.is_some_and(|ip| cfg.master_key_ips.iter().any(|r| r.contains(ip)))
            {
                tracing::warn!(?ip, "master key used from an address not in --masterKeyIps");
                return Err(ApiError::unauthorized());
            }
            if read_only {
                Auth::ReadOnlyMaster
            } else {
                Auth::Master
            }
        } else {
            let keys = &cfg.client_keys;
            if keys.any_configured() {
                let offered = [
                    (
                        header("x-parse-javascript-key").or_else(|| env.javascript_key.clone()),
                        &keys.javascript,
                    ),
                    (
                        header("x-parse-rest-api-key").or_else(|| env.rest_api_key.clone()),
                        &keys.rest,
                    ),
                    (
                        header("x-parse-client-key").or_else(|| env.client_key.clone()),
                        &keys.client,
                    ),
                    (header("x-parse-windows-key"), &keys.dotnet),
                ];
                let ok = offered.iter().any(
                    |(given, want)| matches!((given, want), (Some(g), Some(w)) if ct_eq(g, w)),
                );
                if !ok {
                    return Err(ApiError::unauthorized());
                }
            }
            Auth::Public
        };
        let session = header("x-parse-session-token").or_else(|| env.session_token.clone());
        // With a master key the token is ignored, as in Parse; otherwise a token that does not
        // resolve is refused outright rather than treated as the public.
        // `/sessions/me` answers for any token it can find, expired or not, as Parse does.
        let deferred = parts.uri.path().ends_with("/sessions/me");
        let auth = match &session {
            Some(token) if !auth.reads_everything() && !deferred => {
                Auth::User(state.sessions.resolve(&state.storage, token).await?)
            }
            _ => auth,
        };
        let installation_id =
            header("x-parse-installation-id").or_else(|| env.installation_id.clone());
        Ok(Ctx {
            auth,
            method: parts.method.clone(),
            installation_id,
            session_token: session,
            params: data.params,
            body: data.body,
            body_error: data.body_error,
            raw: data.raw,
            content_type: data.content_type,
        })
    }
}
