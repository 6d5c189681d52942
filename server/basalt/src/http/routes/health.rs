//! `/health` (no keys needed) and `/serverInfo` (master key).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::http::Ctx;
use crate::state::AppState;

/// `{"status":"ok"}` while the database answers; 503 otherwise, so a load balancer moves on.
pub async fn health(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match state.storage.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok" }))),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "error" })),
            )
        }
    }
}

pub async fn server_info(ctx: Ctx) -> ApiResult<Json<Value>> {
    ctx.require_master()?;
    Ok(Json(json!({
        "parseServerVersion": "9.10.0",

        "features": {
            "globalConfig": { "create": true, "read": true, "update": true, "delete": true },
            "hooks": { "create": true, "read": true, "update": true, "delete": true },
            "cloudCode": { "jobs": true },
            "logs": { "level": false, "size": false, "order": false, "until": false, "from": false },
            "push": { "immediatePush": false, "scheduledPush": false, "storedPushData": false, "pushAudiences": false, "localization": false },
            "schemas": { "addField": true, "removeField": true, "addClass": true, "removeClass": true, "clearAllDataFromClass": false, "exportClass": false, "editClassLevelPermissions": true, "editPointerPermissions": true },
            "settings": { "securityCheck": false }
        }
    })))
}
