//! `/files/:name` (upload, delete) and `/files/:appId/:name` (download, no keys needed).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::http::Ctx;
use crate::rest::files;
use crate::state::AppState;

pub async fn upload(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ctx: Ctx,
) -> ApiResult<Response> {
    let up = files::upload(
        &state,
        &ctx.auth,
        &name,
        ctx.json_body(),
        &ctx.raw,
        ctx.content_type.as_deref(),
    )
    .await?;
    let mut res = (StatusCode::CREATED, Json(up.body())).into_response();
    if let Ok(v) = HeaderValue::from_str(&up.url) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

pub async fn delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ctx: Ctx,
) -> ApiResult<Json<Value>> {
    ctx.require_master()?;
    files::delete(&state, &ctx.auth, &name).await?;
    Ok(Json(json!({})))
}

pub async fn download(
    State(state): State<AppState>,
    Path((app_id, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    if app_id != state.config.app_id {
        return Err(ApiError::not_found());
    }
    let (bytes, ctype) = files::download(&state, &name).await?;
    let mut res = bytes.into_response();
    if let Ok(v) = HeaderValue::from_str(&ctype) {
        res.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    Ok(res)
}
