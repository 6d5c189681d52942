//! `/batch`: sub-requests routed to the same `rest::` functions as single requests. Without
//! `transaction` each runs and answers on its own, in order; with `transaction: true` all share
//! one database transaction and the first failure rolls every one back and is the answer.

use serde_json::{Map, Value, json};

use super::write::{self, WriteTx};
use crate::auth::Auth;
use crate::cloud::triggers::find_hooked;
use crate::error::{ApiError, ApiResult, Code};
use crate::ids::{ClassName, ObjectId};
use crate::state::AppState;

/// One routed sub-request.
enum Route {
    Create(ClassName),
    Update(ClassName, ObjectId),
    Delete(ClassName, ObjectId),
    Get(ClassName, ObjectId),
    Find(ClassName),
    /// `GET /schemas[/:className]` (master key).
    Schemas(Option<ClassName>),
}

struct SubRequest {
    route: Route,
    body: Value,
}

fn route(state: &AppState, req: &Value) -> ApiResult<SubRequest> {
    let method = req
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_uppercase();
    let path = req.get("path").and_then(Value::as_str).unwrap_or_default();
    let mount = &state.config.mount_path;
    let rel = path
        .strip_prefix(mount.as_str())
        .filter(|r| r.starts_with('/'))
        .ok_or_else(|| ApiError::invalid_json(format!("cannot route batch path {path}")))?;
    let parts: Vec<&str> = rel.trim_start_matches('/').split('/').collect();
    let unroutable = || ApiError::invalid_json(format!("cannot route {method} {rel}"));
    let route = match (method.as_str(), parts.as_slice()) {
        ("POST", ["classes", c]) => Route::Create(ClassName::parse(c)?),
        ("GET", ["classes", c]) => Route::Find(ClassName::parse(c)?),
        ("PUT", ["classes", c, id]) => Route::Update(ClassName::parse(c)?, ObjectId::parse(id)?),
        ("DELETE", ["classes", c, id]) => Route::Delete(ClassName::parse(c)?, ObjectId::parse(id)?),
        ("GET", ["classes", c, id]) => Route::Get(ClassName::parse(c)?, ObjectId::parse(id)?),
        ("POST", [r]) if system_router(r).is_some() => {
            Route::Create(system_router(r).ok_or_else(unroutable)?)
        }
        ("GET", [r]) if system_router(r).is_some() => {
            Route::Find(system_router(r).ok_or_else(unroutable)?)
        }
        ("PUT", [r, id]) if system_router(r).is_some() => Route::Update(
            system_router(r).ok_or_else(unroutable)?,
            ObjectId::parse(id)?,
        ),
        ("DELETE", [r, id]) if system_router(r).is_some() => Route::Delete(
            system_router(r).ok_or_else(unroutable)?,
            ObjectId::parse(id)?,
        ),
        ("GET", [r, id]) if system_router(r).is_some() && *id != "me" => Route::Get(
            system_router(r).ok_or_else(unroutable)?,
            ObjectId::parse(id)?,
        ),
        ("GET", ["schemas"]) => Route::Schemas(None),
        ("GET", ["schemas", c]) => Route::Schemas(Some(ClassName::parse(c)?)),
        _ => return Err(unroutable()),
    };
    Ok(SubRequest {
        route,
        body: req.get("body").cloned().unwrap_or_else(|| json!({})),
    })
}

/// The class behind Parse's routers for system classes (`/users`, `/roles`, `/sessions`).
fn system_router(segment: &str) -> Option<ClassName> {
    let class = match segment {
        "users" => "_User",
        "roles" => "_Role",
        "sessions" => "_Session",
        _ => return None,
    };
    ClassName::parse(class).ok()
}

fn params(body: &Value) -> Map<String, Value> {
    body.as_object().cloned().unwrap_or_default()
}

async fn run(
    state: &AppState,
    auth: &Auth,
    wtx: &mut WriteTx,
    sub: &SubRequest,
) -> ApiResult<Value> {
    match &sub.route {
        Route::Create(c) => Ok(write::create_in(state, auth, wtx, c, &sub.body)
            .await?
            .body()),
        Route::Update(c, id) => write::update_in(state, auth, wtx, c, id, &sub.body).await,
        Route::Delete(c, id) => write::delete_in(state, auth, wtx, c, id)
            .await
            .map(|_| json!({})),
        Route::Get(c, id) => find_hooked(state, auth, c, &params(&sub.body), Some(id), false)
            .await
            .map(|r| r.results.into_iter().next().unwrap_or_default()),
        Route::Schemas(class) => {
            if !auth.reads_everything() {
                return Err(ApiError::master_required());
            }
            match class {
                Some(c) => super::schemas::get(state, c),
                None => Ok(super::schemas::list(state)),
            }
        }
        Route::Find(c) => {
            let r = find_hooked(state, auth, c, &params(&sub.body), None, false).await?;
            let mut out = json!({ "results": r.results });
            if let Some(n) = r.count {
                out["count"] = Value::from(n);
            }
            Ok(out)
        }
    }
}

fn outcome(r: ApiResult<Value>) -> Value {
    match r {
        Ok(v) => json!({ "success": v }),
        Err(e) => json!({ "error": e.body() }),
    }
}

/// Runs a batch and answers the array of outcomes.
pub async fn batch(state: &AppState, auth: &Auth, body: &Value) -> ApiResult<Value> {
    let requests = body
        .get("requests")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::invalid_json("requests must be an array"))?;
    let max = state.config.max_batch_size;
    if requests.len() > max {
        return Err(ApiError::new(
            Code::InvalidJson,
            format!("a batch may hold at most {max} requests"),
        ));
    }
    // Route everything first: one unroutable path refuses the whole batch, as Parse does.
    let subs = requests
        .iter()
        .map(|r| route(state, r))
        .collect::<ApiResult<Vec<_>>>()?;
    let transaction = body
        .get("transaction")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut out = Vec::with_capacity(subs.len());
    if transaction {
        let mut retries = 0;
        loop {
            match whole(state, auth, &subs).await {
                // A table or column the batch used was dropped meanwhile; it was rolled back.
                // With the schema read again, the whole batch runs again (hooks included).
                Err(e) if e.is_stale() => {
                    state.schemas.again(&state.storage, &mut retries, e).await?
                }
                r => {
                    out = r?;
                    break;
                }
            }
        }
    } else {
        for sub in &subs {
            let r = async {
                let mut wtx = WriteTx::new(state);
                let v = run(state, auth, &mut wtx, sub).await?;
                wtx.commit(state).await?;
                Ok(v)
            }
            .await;
            out.push(outcome(r));
        }
    }
    Ok(Value::Array(out))
}

/// A `transaction: true` batch: every sub-request in one transaction, all or nothing.
async fn whole(state: &AppState, auth: &Auth, subs: &[SubRequest]) -> ApiResult<Vec<Value>> {
    let mut out = Vec::with_capacity(subs.len());
    let mut wtx = WriteTx::whole(state).await?;
    for sub in subs {
        // Dropping the transaction on error rolls every sub-request back.
        out.push(outcome(Ok(run(state, auth, &mut wtx, sub).await?)));
    }
    wtx.commit(state).await?;
    Ok(out)
}
