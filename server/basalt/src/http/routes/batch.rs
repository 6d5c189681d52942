//! `/batch`.

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use crate::error::ApiResult;
use crate::http::Ctx;
use crate::state::AppState;

pub async fn batch(State(state): State<AppState>, mut ctx: Ctx) -> ApiResult<Json<Value>> {
    let body = ctx.body()?;
    Ok(Json(
        crate::rest::batch::batch(&state, &ctx.auth, &body).await?,
    ))
}
