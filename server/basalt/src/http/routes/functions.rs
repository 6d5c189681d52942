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

/// Parse Dashboard's job schedules (`/cloud_code/jobs…`, master key): `_JobSchedule` rows,
/// which Basalt's scheduler runs (`cloud::schedule`).
pub mod schedules {
    use axum::Json;
    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use serde_json::{Map, Value, json};

    use crate::error::{ApiError, ApiResult};
    use crate::http::Ctx;
    use crate::ids::{ClassName, ObjectId};
    use crate::rest::write;
    use crate::state::AppState;

    fn class() -> ApiResult<ClassName> {
        ClassName::parse("_JobSchedule")
    }

    /// The `job_schedule` of a body, checked as Parse checks it, `startAfter` defaulting to now.
    fn schedule(state: &AppState, ctx: &mut Ctx) -> ApiResult<Value> {
        let body = ctx.body()?;
        let mut s = match body.get("job_schedule") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        if let Some(job) = s.get("jobName").and_then(Value::as_str)
            && crate::cloud::registered(state, basalt_cloud::Kind::Job, job).is_none()
        {
            return Err(ApiError::with_code(
                1,
                "Cannot Schedule a job that is not deployed",
            ));
        }
        s.entry("startAfter").or_insert_with(|| {
            Value::from(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        });
        Ok(Value::Object(s))
    }

    pub async fn list(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Json<Value>> {
        ctx.require_master()?;
        Ok(Json(Value::Array(
            crate::cloud::schedule::rows(&state).await?,
        )))
    }

    pub async fn data(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Json<Value>> {
        ctx.require_master()?;
        let in_use: Vec<Value> = crate::cloud::schedule::rows(&state)
            .await?
            .iter()
            .filter_map(|r| r.get("jobName").cloned())
            .collect();
        let jobs = state
            .cloud
            .get()
            .map(|e| e.registry().jobs.clone())
            .unwrap_or_default();
        Ok(Json(json!({ "in_use": in_use, "jobs": jobs })))
    }

    pub async fn create(State(state): State<AppState>, mut ctx: Ctx) -> ApiResult<Response> {
        ctx.require_master()?;
        let s = schedule(&state, &mut ctx)?;
        let created = write::create(&state, &ctx.auth, &class()?, &s, None).await?;
        Ok((StatusCode::CREATED, Json(created.body())).into_response())
    }

    pub async fn update(
        State(state): State<AppState>,
        Path(id): Path<String>,
        mut ctx: Ctx,
    ) -> ApiResult<Json<Value>> {
        ctx.require_master()?;
        let s = schedule(&state, &mut ctx)?;
        let id = ObjectId::parse(&id)?;
        let updated = write::update(&state, &ctx.auth, &class()?, &id, &s, None).await?;
        // Parse answers this one route wrapped in `response`; the Dashboard expects it so.
        Ok(Json(json!({ "response": updated })))
    }

    pub async fn delete(
        State(state): State<AppState>,
        Path(id): Path<String>,
        ctx: Ctx,
    ) -> ApiResult<Json<Value>> {
        ctx.require_master()?;
        let id = ObjectId::parse(&id)?;
        write::delete(&state, &ctx.auth, &class()?, &id).await?;
        Ok(Json(json!({})))
    }
}

/// Parse's webhooks API (`/hooks/functions…`, `/hooks/triggers…`, master key).
pub mod hooks {
    use axum::Json;
    use axum::extract::{Path, State};
    use serde_json::{Value, json};

    use crate::cloud::webhooks;
    use crate::error::{ApiError, ApiResult, Code};
    use crate::http::Ctx;
    use crate::state::AppState;

    /// Writes refuse the read-only master key with Parse's wording.
    fn writable(ctx: &Ctx, what: &str) -> ApiResult<()> {
        if matches!(ctx.auth, crate::auth::Auth::ReadOnlyMaster) {
            return Err(ApiError::new(
                Code::OperationForbidden,
                format!("read-only masterKey isn't allowed to {what} a hook."),
            ));
        }
        ctx.require_master()
    }

    pub async fn functions(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Json<Value>> {
        ctx.require_master()?;
        Ok(Json(webhooks::get(&state, None, true).await?))
    }

    pub async fn function(
        State(state): State<AppState>,
        Path(name): Path<String>,
        ctx: Ctx,
    ) -> ApiResult<Json<Value>> {
        ctx.require_master()?;
        let key = json!({ "functionName": name });
        Ok(Json(webhooks::get(&state, Some(key), true).await?))
    }

    pub async fn triggers(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Json<Value>> {
        ctx.require_master()?;
        Ok(Json(webhooks::get(&state, None, false).await?))
    }

    pub async fn trigger(
        State(state): State<AppState>,
        Path((class, trigger)): Path<(String, String)>,
        ctx: Ctx,
    ) -> ApiResult<Json<Value>> {
        ctx.require_master()?;
        let key = json!({ "className": class, "triggerName": trigger });
        Ok(Json(webhooks::get(&state, Some(key), false).await?))
    }

    pub async fn create(State(state): State<AppState>, mut ctx: Ctx) -> ApiResult<Json<Value>> {
        writable(&ctx, "create")?;
        let body = ctx.body()?;
        Ok(Json(webhooks::create(&state, &body).await?))
    }

    pub async fn put_function(
        State(state): State<AppState>,
        Path(name): Path<String>,
        mut ctx: Ctx,
    ) -> ApiResult<Json<Value>> {
        writable(&ctx, "modify")?;
        let body = ctx.body()?;
        let key = json!({ "functionName": name });
        Ok(Json(webhooks::put(&state, key, &body).await?))
    }

    pub async fn put_trigger(
        State(state): State<AppState>,
        Path((class, trigger)): Path<(String, String)>,
        mut ctx: Ctx,
    ) -> ApiResult<Json<Value>> {
        writable(&ctx, "modify")?;
        let body = ctx.body()?;
        let key = json!({ "className": class, "triggerName": trigger });
        Ok(Json(webhooks::put(&state, key, &body).await?))
    }
}
