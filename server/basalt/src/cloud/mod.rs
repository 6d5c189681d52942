//! Cloud code, as the server runs it: loading `--cloud`, the [`Host`] scripts call back
//! through, and the trigger points of the REST paths. The sandbox itself is `basalt-cloud`.
//!
//! Hook order for a write (as Parse): `beforeSave`/`beforeDelete` before any statement, so
//! their changes and refusals shape the write; `afterSave`/`afterDelete` after the commit, with
//! the object as stored, before the answer is sent; their failures are logged, not returned.
//! Reads: `beforeFind` may change the query before it is compiled; `afterFind` may change the
//! results. Login: `beforeLogin` after the password check and before the session exists;
//! `afterLogin` once it does; `afterLogout` after the session is gone.

pub mod cron;
pub mod deploy;
mod host;
pub mod jobs;
pub mod outbound;
pub mod schedule;
pub mod triggers;
pub mod webhooks;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use basalt_cloud::{Engine, Invocation, InvokeError, Kind, Limits, Options, Source};
use serde_json::{Map, Value, json};

use crate::auth::Auth;
use crate::config::CloudLimits;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub use host::CloudCall;

/// Who sent the request a hook runs for, beyond its rights: what Parse puts on `request`.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub installation_id: Option<String>,
    pub ip: Option<String>,
    /// The request's headers, turned into `request.headers` only when a hook runs.
    pub headers: axum::http::HeaderMap,
    /// Parse's save context (`X-Parse-Cloud-Context`, `_context`).
    pub context: Map<String, Value>,
    /// 0 for a client's request; one more for each call cloud code makes back into the server.
    pub depth: u32,
    /// The client request this is, or that the script making this call runs for: the same id
    /// through every nested call (0 outside requests).
    pub root: u64,
}

tokio::task_local! {
    /// The request being served. Set by the HTTP edge around each request (and around a job),
    /// read by the hooks; code outside a request sees the default.
    static ORIGIN: Arc<Origin>;
}

impl Origin {
    /// A new client request's [`Origin::root`].
    pub fn next_root() -> u64 {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// The [`Origin::root`] of the request being served (0 outside requests).
    pub fn current_root() -> u64 {
        ORIGIN.try_with(|o| o.root).unwrap_or(0)
    }

    pub fn current() -> Arc<Origin> {
        ORIGIN.try_with(Arc::clone).unwrap_or_default()
    }

    /// Runs `fut` as part of the request `self` describes.
    pub async fn scope<F: std::future::Future>(self: Arc<Self>, fut: F) -> F::Output {
        ORIGIN.scope(self, fut).await
    }
}

/// Loads `--cloud` into a running engine, if one is configured. Fails when the code does not
/// load, naming the file and the script's error.
pub async fn start(state: &AppState) -> Result<(), String> {
    let files = match &state.config.cloud {
        Some(path) => Some(Source::load(path)?),
        None => None,
    };
    let Some(source) = deploy::at_start(state, files).await? else {
        return Ok(());
    };
    let from = match &state.config.cloud {
        Some(path) if source.dir != std::path::Path::new(deploy::DEPLOYED) => {
            format!("--cloud {}", path.display())
        }
        _ => "the deployed cloud code".to_string(),
    };
    start_with(state, source)
        .await
        .map_err(|e| format!("{from}: {e}"))?;
    deploy::watch(state);
    Ok(())
}

/// Starts the engine with `source` (at start, or at the first deploy to a server without code).
pub async fn start_with(state: &AppState, source: Source) -> Result<(), String> {
    let host = Arc::new(host::ServerHost::new(state)?);
    let engine = Engine::start(source, host, options(state)).await?;
    state
        .cloud
        .set(Arc::new(engine))
        .map_err(|_| "cloud code was started twice".to_string())?;
    schedule::start(state);
    Ok(())
}

fn limit(base: &Limits, l: &crate::config::CloudLimit) -> Limits {
    Limits {
        cpu: l.cpu_ms.map(Duration::from_millis).unwrap_or(base.cpu),
        memory: l.memory_mb.map(|m| m << 20).unwrap_or(base.memory),
        wall: l.timeout_ms.map(Duration::from_millis).unwrap_or(base.wall),
        concurrency: l.concurrency.or(base.concurrency),
    }
}

fn options(state: &AppState) -> Options {
    let c: &CloudLimits = &state.config.cloud_limits;
    let mut o = Options::default();
    let all = crate::config::CloudLimit {
        cpu_ms: c.cpu_ms,
        memory_mb: c.memory_mb,
        timeout_ms: c.timeout_ms,
        concurrency: None,
    };
    o.limits = limit(&o.limits, &all);
    if let Some(ms) = c.job_timeout_ms {
        o.job_wall = Duration::from_millis(ms);
    }
    if let Some(n) = c.concurrency {
        o.concurrency = n;
    }
    if let Some(n) = c.workers {
        o.workers = n;
    }
    o.per_name = c
        .functions
        .iter()
        .map(|(name, l)| (name.clone(), limit(&o.limits, l)))
        .collect::<HashMap<_, _>>();
    o.app_info = json!({
        "applicationId": state.config.app_id,
        "serverURL": state.config.server_url,
        "javaScriptKey": state.config.client_keys.javascript,
        "env": state.config.cloud_env,
    });
    o
}

/// What serves a function or trigger: the loaded cloud code, or a webhook.
#[derive(Clone)]
pub enum Handler {
    Script(Arc<Engine>),
    Webhook(String),
}

/// What serves `kind` for `name`, if anything: a webhook first (as the hook registered last
/// wins in Parse, and webhooks are loaded after the code), then the cloud code.
pub fn registered(state: &AppState, kind: Kind, name: &str) -> Option<Handler> {
    if let Some(url) = state.webhooks.url(kind, name) {
        return Some(Handler::Webhook(url));
    }
    let engine = state.cloud.get()?;
    engine
        .registry()
        .has(kind, name)
        .then(|| Handler::Script(engine.clone()))
}

impl From<InvokeError> for ApiError {
    fn from(e: InvokeError) -> Self {
        ApiError::with_code(i32::try_from(e.code).unwrap_or(141), e.message)
    }
}

/// The part of `request` every hook gets: `master`, `user`, `installationId`, `ip`,
/// `headers`, `context`.
pub async fn request_base(state: &AppState, auth: &Auth, origin: &Origin) -> Map<String, Value> {
    let mut r = Map::new();
    r.insert("master".into(), Value::Bool(auth.is_master()));
    let user = match auth.user() {
        Some(u) => crate::rest::users::read_user(state, &u.user_id)
            .await
            .ok()
            .map(|mut obj| {
                obj.insert("className".into(), Value::from("_User"));
                obj.insert("sessionToken".into(), Value::from(u.token.clone()));
                Value::Object(obj)
            })
            .unwrap_or(Value::Null),
        None => Value::Null,
    };
    r.insert("user".into(), user);
    if let Some(id) = &origin.installation_id {
        r.insert("installationId".into(), Value::from(id.clone()));
    }
    if let Some(ip) = &origin.ip {
        r.insert("ip".into(), Value::from(ip.clone()));
    }
    let headers: Map<String, Value> = origin
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), Value::from(v.to_str().ok()?))))
        .collect();
    r.insert("headers".into(), Value::Object(headers));
    r.insert("context".into(), Value::Object(origin.context.clone()));
    r
}

/// Runs one hook with the request built so far.
pub async fn invoke(
    state: &AppState,
    handler: &Handler,
    kind: Kind,
    name: &str,
    request: Map<String, Value>,
    origin: &Origin,
) -> ApiResult<Value> {
    match handler {
        Handler::Script(engine) => Ok(engine
            .invoke(Invocation {
                kind,
                name: name.to_string(),
                request: Value::Object(request),
                depth: origin.depth,
                origin: origin.root,
            })
            .await?),
        Handler::Webhook(url) => Ok(state.webhooks.call(url, kind, name, request).await?),
    }
}

/// `POST /functions/:name`: the function's result, as `{"result": …}`.
pub async fn run_function(
    state: &AppState,
    auth: &Auth,
    name: &str,
    params: Value,
) -> ApiResult<Value> {
    let Some(engine) = registered(state, Kind::Function, name) else {
        return Err(ApiError::with_code(
            141,
            format!("Invalid function: \"{name}\""),
        ));
    };
    let origin = Origin::current();
    let mut request = request_base(state, auth, &origin).await;
    request.insert("params".into(), params);
    request.insert("functionName".into(), Value::from(name));
    let out = invoke(state, &engine, Kind::Function, name, request, &origin).await?;
    // A function that returns nothing answers `{}`, as Parse's does.
    Ok(match out.get("result") {
        Some(r) => json!({ "result": r }),
        None => json!({}),
    })
}
