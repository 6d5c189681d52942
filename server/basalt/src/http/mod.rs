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

/// The `X-Parse-…` headers [`Ctx`] reads, each as `HeaderMap::get` would answer it (the first
/// value of that name, if it is text), found in one pass over the request's headers: eight
/// lookups by name each parsed and hashed the name, about 3% of a create's instructions.
#[derive(Default)]
struct ParseHeaders<'a> {
    application_id: Option<&'a str>,
    master_key: Option<&'a str>,
    javascript_key: Option<&'a str>,
    rest_api_key: Option<&'a str>,
    client_key: Option<&'a str>,
    windows_key: Option<&'a str>,
    session_token: Option<&'a str>,
    installation_id: Option<&'a str>,
}

impl<'a> ParseHeaders<'a> {
    fn of(headers: &'a axum::http::HeaderMap) -> Self {
        let mut h = Self::default();
        // Names already met: a later value of the same name is not looked at.
        let mut seen = 0u8;
        for (name, value) in headers {
            let (bit, slot) = match name.as_str() {
                "x-parse-application-id" => (0, &mut h.application_id),
                "x-parse-master-key" => (1, &mut h.master_key),
                "x-parse-javascript-key" => (2, &mut h.javascript_key),
                "x-parse-rest-api-key" => (3, &mut h.rest_api_key),
                "x-parse-client-key" => (4, &mut h.client_key),
                "x-parse-windows-key" => (5, &mut h.windows_key),
                "x-parse-session-token" => (6, &mut h.session_token),
                "x-parse-installation-id" => (7, &mut h.installation_id),
                _ => continue,
            };
            if seen & (1 << bit) == 0 {
                seen |= 1 << bit;
                *slot = value.to_str().ok();
            }
        }
        h
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
        let sent = ParseHeaders::of(&parts.headers);
        let header = |name: Option<&str>| name.map(str::to_string);
        let env = &data.envelope;
        let cfg = &state.config;

        let app_id = header(sent.application_id).or_else(|| env.application_id.clone());
        if !app_id.is_some_and(|id| ct_eq(&id, &cfg.app_id)) {
            return Err(ApiError::unauthorized());
        }
        let master = header(sent.master_key).or_else(|| env.master_key.clone());
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
                        header(sent.javascript_key).or_else(|| env.javascript_key.clone()),
                        &keys.javascript,
                    ),
                    (
                        header(sent.rest_api_key).or_else(|| env.rest_api_key.clone()),
                        &keys.rest,
                    ),
                    (
                        header(sent.client_key).or_else(|| env.client_key.clone()),
                        &keys.client,
                    ),
                    (header(sent.windows_key), &keys.dotnet),
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
        let session = header(sent.session_token).or_else(|| env.session_token.clone());
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
        let installation_id = header(sent.installation_id).or_else(|| env.installation_id.clone());
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

#[cfg(test)]
mod tests {
    use super::ParseHeaders;
    use axum::http::{HeaderMap, HeaderName, HeaderValue};

    /// Each header as `HeaderMap::get` answers it, which is what the extractor used to call.
    fn by_get(h: &HeaderMap) -> [Option<&str>; 8] {
        [
            "x-parse-application-id",
            "x-parse-master-key",
            "x-parse-javascript-key",
            "x-parse-rest-api-key",
            "x-parse-client-key",
            "x-parse-windows-key",
            "x-parse-session-token",
            "x-parse-installation-id",
        ]
        .map(|n| h.get(n).and_then(|v| v.to_str().ok()))
    }

    fn by_pass(h: &HeaderMap) -> [Option<&str>; 8] {
        let p = ParseHeaders::of(h);
        [
            p.application_id,
            p.master_key,
            p.javascript_key,
            p.rest_api_key,
            p.client_key,
            p.windows_key,
            p.session_token,
            p.installation_id,
        ]
    }

    #[test]
    fn one_pass_finds_what_get_finds() {
        let mut maps = Vec::new();
        let mut all = HeaderMap::new();
        for (i, n) in [
            "X-Parse-Application-Id",
            "x-parse-master-key",
            "X-PARSE-JAVASCRIPT-KEY",
            "x-parse-rest-api-key",
            "x-parse-client-key",
            "x-parse-windows-key",
            "x-parse-session-token",
            "x-parse-installation-id",
        ]
        .iter()
        .enumerate()
        {
            all.insert(
                HeaderName::try_from(*n).unwrap(),
                HeaderValue::from_str(&format!("v{i}")).unwrap(),
            );
        }
        all.insert("content-type", HeaderValue::from_static("text/plain"));
        maps.push(all);
        // Repeated names: the first value counts, even when it is not text.
        let mut repeated = HeaderMap::new();
        repeated.append("x-parse-application-id", HeaderValue::from_static("first"));
        repeated.append("x-parse-application-id", HeaderValue::from_static("second"));
        repeated.append(
            "x-parse-session-token",
            HeaderValue::from_bytes(b"r:\xff").unwrap(),
        );
        repeated.append("x-parse-session-token", HeaderValue::from_static("r:text"));
        repeated.append("x-parse-master-key-extra", HeaderValue::from_static("no"));
        maps.push(repeated);
        maps.push(HeaderMap::new());
        for h in &maps {
            assert_eq!(by_pass(h), by_get(h), "{h:?}");
        }
        assert_eq!(by_pass(&maps[0])[2], Some("v2"));
        assert_eq!(by_pass(&maps[1])[0], Some("first"));
        assert_eq!(by_pass(&maps[1])[6], None);
    }
}
