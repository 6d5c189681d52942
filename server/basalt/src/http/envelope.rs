//! Runs before routing: reads the body (bounded), unwraps the SDK's JSON envelope, rewrites
//! the method it names, gathers query parameters, and answers CORS as Parse does.

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::cloud::Origin;
use crate::error::ApiError;
use crate::state::AppState;

/// Keys and metadata the SDKs put in the body instead of headers.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    pub application_id: Option<String>,
    pub javascript_key: Option<String>,
    pub rest_api_key: Option<String>,
    pub client_key: Option<String>,
    pub master_key: Option<String>,
    pub session_token: Option<String>,
    pub installation_id: Option<String>,
    pub client_version: Option<String>,
    pub context: Option<Value>,
}

/// Everything [`prepare`] learnt, for the [`super::Ctx`] extractor.
#[derive(Debug, Default, Clone)]
pub struct RequestData {
    pub envelope: Envelope,
    pub params: Map<String, Value>,
    pub body: Option<Value>,
    pub body_error: Option<ApiError>,
    /// The body as sent (file uploads read it raw).
    pub raw: axum::body::Bytes,
    pub content_type: Option<String>,
}

const ALLOW_HEADERS: &str = "X-Parse-Master-Key, X-Parse-REST-API-Key, X-Parse-Javascript-Key, X-Parse-Application-Id, X-Parse-Client-Version, X-Parse-Session-Token, X-Requested-With, X-Parse-Revocable-Session, X-Parse-Request-Id, Content-Type, Pragma, Cache-Control";
const ALLOW_METHODS: &str = "GET,PUT,POST,DELETE,OPTIONS";
const EXPOSE_HEADERS: &str = "X-Parse-Job-Status-Id, X-Parse-Push-Status-Id";

fn cors(headers: &mut HeaderMap) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOW_METHODS),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(ALLOW_HEADERS),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS),
    );
}

fn take_str(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    match map.remove(key) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// Validator rate limits (Parse answers 429 with code 100 and the limit's message).
fn rate_limited(
    state: &AppState,
    parts: &axum::http::request::Parts,
    data: &RequestData,
) -> Option<Response> {
    let limits = state.cloud.get()?.registry().rate_limits.clone();
    if limits.is_empty() {
        return None;
    }
    let path = parts
        .uri
        .path()
        .strip_prefix(state.config.mount_path.trim_end_matches('/'))
        .unwrap_or(parts.uri.path());
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let master = header("x-parse-master-key")
        .or(data.envelope.master_key.as_deref())
        .is_some_and(|k| super::ct_eq(k, &state.config.master_key));
    let ip = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    let caller = basalt_cloud::ratelimit::Caller {
        ip: ip.as_deref(),
        session: header("x-parse-session-token").or(data.envelope.session_token.as_deref()),
        master,
        // Parse counts a request from 127.0.0.1 as internal, as well as cloud code's own.
        internal: parts.extensions.get::<crate::cloud::CloudCall>().is_some()
            || ip.as_deref() == Some("127.0.0.1"),
    };
    let message = limits.check(path, parts.method.as_str(), &caller).err()?;
    Some(
        (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(serde_json::json!({ "code": 100, "error": message })),
        )
            .into_response(),
    )
}

/// What cloud-code hooks see of the request: `installationId`, `ip`, `headers`, `context`.
fn origin(parts: &axum::http::request::Parts, data: &RequestData) -> std::sync::Arc<Origin> {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let call = parts.extensions.get::<crate::cloud::CloudCall>();
    let context = match &data.envelope.context {
        Some(Value::Object(m)) => m.clone(),
        _ => header("x-parse-cloud-context")
            .and_then(|c| serde_json::from_str::<Map<String, Value>>(c).ok())
            .unwrap_or_default(),
    };
    std::sync::Arc::new(Origin {
        installation_id: header("x-parse-installation-id")
            .map(str::to_string)
            .or_else(|| data.envelope.installation_id.clone()),
        ip: parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip().to_string()),
        headers: parts.headers.clone(),
        context,
        depth: call.map_or(0, |c| c.depth),
        // A script's call belongs to the client request its script runs for.
        root: call.map_or_else(Origin::next_root, |c| c.root),
    })
}

pub async fn prepare(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() == Method::OPTIONS {
        let mut res = StatusCode::OK.into_response();
        cors(res.headers_mut());
        return res;
    }
    let (mut parts, body) = req.into_parts();
    let limit = state.config.max_body_bytes;
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            let mut res = ApiError::too_large(limit).into_response();
            cors(res.headers_mut());
            return res;
        }
    };
    let mut data = RequestData {
        content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        raw: bytes.clone(),
        ..RequestData::default()
    };
    if let Ok(Query(q)) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri) {
        for (k, v) in q {
            data.params.insert(k, Value::String(v));
        }
    }
    let is_upload = parts.method == Method::POST
        && parts
            .uri
            .path()
            .strip_prefix(state.config.mount_path.trim_end_matches('/'))
            .is_some_and(|p| p.starts_with("/files/"));
    if !bytes.is_empty() {
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(mut map)) => {
                // Only the SDKs' envelope has keys starting with `_`: without one, the ten
                // lookups below would find nothing.
                if map.keys().any(|k| k.starts_with('_')) {
                    if parts.method == Method::POST
                        && let Some(m) = take_str(&mut map, "_method")
                        && let Ok(m) = m.to_ascii_uppercase().parse::<Method>()
                    {
                        parts.method = m;
                    }
                    let env = &mut data.envelope;
                    env.application_id = take_str(&mut map, "_ApplicationId");
                    env.javascript_key = take_str(&mut map, "_JavaScriptKey");
                    env.rest_api_key = take_str(&mut map, "_RestAPIKey");
                    env.client_key = take_str(&mut map, "_ClientKey");
                    env.master_key = take_str(&mut map, "_MasterKey");
                    env.session_token = take_str(&mut map, "_SessionToken");
                    env.installation_id = take_str(&mut map, "_InstallationId");
                    env.client_version = take_str(&mut map, "_ClientVersion");
                    env.context = map.remove("_context");
                    map.remove("_RevocableSession");
                }
                if parts.method == Method::GET || parts.method == Method::DELETE {
                    // A read in the envelope: the body holds the query parameters.
                    data.params.extend(map);
                } else {
                    data.body = Some(Value::Object(map));
                }
            }
            // Parse reads an array body as an object keyed by index ("0", "1", …).
            Ok(Value::Array(items)) => {
                data.body = Some(Value::Object(
                    items
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (i.to_string(), v))
                        .collect(),
                ));
            }
            // File uploads may be any bytes (Parse reads that route raw).
            _ if is_upload => {}
            Ok(_) => {
                data.body_error = Some(ApiError::bad_body(
                    "The request body must be a JSON object or array.",
                ))
            }
            Err(e) => data.body_error = Some(ApiError::bad_body(format!("Invalid JSON: {e}"))),
        }
    }
    if let Some(refusal) = rate_limited(&state, &parts, &data) {
        let mut res = refusal;
        cors(res.headers_mut());
        return res;
    }
    // Only hooks read the origin: without code loaded or a webhook, none is kept.
    let hooked = state.cloud.get().is_some() || state.webhooks.any();
    let origin = hooked.then(|| origin(&parts, &data));
    parts.extensions.insert(data);
    let req = Request::from_parts(parts, Body::empty());
    let mut res = match origin {
        Some(o) => o.scope(next.run(req)).await,
        None => next.run(req).await,
    };
    cors(res.headers_mut());
    res
}
