//! `/config`.

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use crate::error::ApiResult;
use crate::http::Ctx;
use crate::state::AppState;

pub async fn get(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Json<Value>> {
    Ok(Json(crate::rest::config::get(&state, &ctx.auth).await?))
}

pub async fn update(State(state): State<AppState>, mut ctx: Ctx) -> ApiResult<Json<Value>> {
    ctx.require_master()?;
    let body = ctx.body()?;
    Ok(Json(crate::rest::config::update(&state, &body).await?))
}
