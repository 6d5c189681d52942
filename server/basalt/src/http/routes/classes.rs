//! `/classes/:className[/:objectId]`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::http::Ctx;
use crate::ids::{ClassName, ObjectId};
use crate::rest::{find as rest_find, write};
use crate::state::AppState;

pub async fn find(
    State(state): State<AppState>,
    Path(class): Path<String>,
    ctx: Ctx,
) -> ApiResult<Json<Value>> {
    let class = ClassName::parse(&class)?;
    let opts = rest_find::FindOptions::from_params(&ctx.params, state.config.max_limit)?;
    let r = rest_find::find(&state, &ctx.auth, &class, &opts).await?;
    let mut out = json!({ "results": r.results });
    if let Some(n) = r.count {
        out["count"] = Value::from(n);
    }
    Ok(Json(out))
}

pub async fn get(
    State(state): State<AppState>,
    Path((class, id)): Path<(String, String)>,
    ctx: Ctx,
) -> ApiResult<Json<Value>> {
    let (class, id) = (ClassName::parse(&class)?, ObjectId::parse(&id)?);
    Ok(Json(
        rest_find::get(&state, &ctx.auth, &class, &id, &ctx.params).await?,
    ))
}

pub async fn create(
    State(state): State<AppState>,
    Path(class): Path<String>,
    mut ctx: Ctx,
) -> ApiResult<Response> {
    let class = ClassName::parse(&class)?;
    let body = ctx.body()?;
    let created = write::create(&state, &ctx.auth, &class, &body).await?;
    let location = format!(
        "{}/classes/{}/{}",
        state.config.server_url, class, created.object_id
    );
    let mut res = (StatusCode::CREATED, Json(created.body())).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

pub async fn update(
    State(state): State<AppState>,
    Path((class, id)): Path<(String, String)>,
    mut ctx: Ctx,
) -> ApiResult<Json<Value>> {
    let (class, id) = (ClassName::parse(&class)?, ObjectId::parse(&id)?);
    let body = ctx.body()?;
    Ok(Json(
        write::update(&state, &ctx.auth, &class, &id, &body).await?,
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    Path((class, id)): Path<(String, String)>,
    ctx: Ctx,
) -> ApiResult<Json<Value>> {
    let (class, id) = (ClassName::parse(&class)?, ObjectId::parse(&id)?);
    write::delete(&state, &ctx.auth, &class, &id).await?;
    Ok(Json(json!({})))
}
