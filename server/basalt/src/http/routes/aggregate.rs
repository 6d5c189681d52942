//! `/aggregate/:className` — master key only.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use crate::error::ApiResult;
use crate::http::Ctx;
use crate::ids::ClassName;
use crate::state::AppState;

pub async fn aggregate(
    State(state): State<AppState>,
    Path(class): Path<String>,
    ctx: Ctx,
) -> ApiResult<Json<Value>> {
    ctx.require_master()?;
    Ok(Json(
        crate::rest::aggregate::aggregate(&state, &ClassName::parse(&class)?, &ctx.params).await?,
    ))
}
