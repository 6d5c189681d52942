//! `/schemas[/:className]` — master key only.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use crate::error::ApiResult;
use crate::http::Ctx;
use crate::ids::ClassName;
use crate::rest::schemas;
use crate::state::AppState;

pub async fn list(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Json<Value>> {
    ctx.require_master()?;
    Ok(Json(schemas::list(&state)))
}

pub async fn get(
    State(state): State<AppState>,
    Path(class): Path<String>,
    ctx: Ctx,
) -> ApiResult<Json<Value>> {
    ctx.require_master()?;
    Ok(Json(schemas::get(&state, &ClassName::parse(&class)?)?))
}

pub async fn create(
    State(state): State<AppState>,
    Path(class): Path<String>,
    mut ctx: Ctx,
) -> ApiResult<Json<Value>> {
    ctx.require_master()?;
    let body = ctx.body()?;
    Ok(Json(
        schemas::create(&state, &ClassName::parse(&class)?, &body).await?,
    ))
}

/// `POST /schemas` with the class name in the body.
pub async fn create_from_body(
    State(state): State<AppState>,
    mut ctx: Ctx,
) -> ApiResult<Json<Value>> {
    ctx.require_master()?;
    let body = ctx.body()?;
    let class = body
        .get("className")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            crate::error::ApiError::with_code(135, "POST /schemas needs a class name.")
        })?;
    Ok(Json(
        schemas::create(&state, &ClassName::parse(class)?, &body).await?,
    ))
}

pub async fn update(
    State(state): State<AppState>,
    Path(class): Path<String>,
    mut ctx: Ctx,
) -> ApiResult<Json<Value>> {
    ctx.require_master()?;
    let body = ctx.body()?;
    Ok(Json(
        schemas::update(&state, &ClassName::parse(&class)?, &body).await?,
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    Path(class): Path<String>,
    ctx: Ctx,
) -> ApiResult<Json<Value>> {
    ctx.require_master()?;
    Ok(Json(
        schemas::delete(&state, &ClassName::parse(&class)?).await?,
    ))
}
