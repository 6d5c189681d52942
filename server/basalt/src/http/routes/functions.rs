//! `/functions/:name` and `/jobs/:name` (run), and `GET /functions`, `GET /jobs` (master key):
//! what is deployed, with each one's invocation counts and durations.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use basalt_cloud::Kind;
use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::http::Ctx;
use crate::state::AppState;

pub async fn run(
    State(state): State<AppState>,
    Path(name): Path<String>,
    mut ctx: Ctx,
) -> ApiResult<Json<Value>> {
    let params = ctx.body()?;
    Ok(Json(
        crate::cloud::run_function(&state, &ctx.auth, &name, params).await?,
    ))
}

pub async fn start_job(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ctx: Ctx,
) -> ApiResult<Response> {
    start(state, Some(name), ctx).await
}

/// `POST /jobs` with the name in the body, as the Dashboard sends it.
pub async fn start_named_job(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Response> {
    start(state, None, ctx).await
}

async fn start(state: AppState, name: Option<String>, mut ctx: Ctx) -> ApiResult<Response> {
    if matches!(ctx.auth, crate::auth::Auth::ReadOnlyMaster) {
        return Err(crate::error::ApiError::new(
            crate::error::Code::OperationForbidden,
            "read-only masterKey isn't allowed to run a job.",
        ));
    }
    ctx.require_master()?;
    // Parse's job parameters: the body and the query string, merged.
    let mut params = match ctx.body()? {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    params.extend(ctx.params.clone());
    let name = name
        .or_else(|| {
            params
                .get("jobName")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_default();
    let id = crate::cloud::jobs::start(&state, &name, Value::Object(params), "api").await?;
    let mut res = Json(json!({})).into_response();
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert("X-Parse-Job-Status-Id", v);
    }
    Ok(res)
}

/// `POST /cloud_code/deploy` (master key): replaces the cloud code without a restart.
pub async fn deploy(State(state): State<AppState>, mut ctx: Ctx) -> ApiResult<Json<Value>> {
    if !ctx.auth.is_master() {
        return Err(crate::error::ApiError::master_required());
    }
    let body = ctx.body()?;
    Ok(Json(crate::cloud::deploy::deploy(&state, &body).await?))
}

pub async fn list_functions(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Json<Value>> {
    ctx.require_master()?;
    Ok(Json(metrics(&state, |k| k != Kind::Job)))
}

pub async fn list_jobs(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Json<Value>> {
    ctx.require_master()?;
    Ok(Json(metrics(&state, |k| k == Kind::Job)))
}

/// Each deployed function (or job) and each hook that has run, with its counters.
fn metrics(state: &AppState, wanted: impl Fn(Kind) -> bool) -> Value {
    let Some(engine) = state.cloud.get() else {
        return json!({ "results": [] });
    };
    let registry = engine.registry();
    let mut counters = engine.metrics();
    let names = if wanted(Kind::Job) {
        registry
            .jobs
            .iter()
            .map(|n| (Kind::Job, n.clone()))
            .collect::<Vec<_>>()
    } else {
        registry
            .functions
            .iter()
            .map(|n| (Kind::Function, n.clone()))
            .collect()
    };
    for key in names {
        counters.entry(key).or_default();
    }
    let ms = |d: std::time::Duration| (d.as_secs_f64() * 1e6).round() / 1e3;
    let results: Vec<Value> = counters
        .into_iter()
        .filter(|((kind, _), _)| wanted(*kind))
        .map(|((kind, name), c)| {
            let avg = if c.invocations == 0 {
                0.0
            } else {
                ms(c.total) / c.invocations as f64
            };
            json!({
                "kind": kind.as_str(),
                "name": name,
                "invocations": c.invocations,
                "errors": c.errors,
                "totalMs": ms(c.total),
                "avgMs": (avg * 1e3).round() / 1e3,
                "maxMs": ms(c.max),
                "cpuMs": ms(c.cpu),
                "maxMemoryKB": c.max_memory / 1024,
            })
        })
        .collect();
    json!({ "results": results })
}
