//! One file per Parse router; each handler decodes, calls one `rest::` function and encodes.

mod aggregate;
mod batch;
mod classes;
mod config;
mod files;
mod health;
mod schemas;

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/classes/{class_name}",
            get(classes::find).post(classes::create),
        )
        .route(
            "/classes/{class_name}/{object_id}",
            get(classes::get)
                .put(classes::update)
                .delete(classes::delete),
        )
        .route("/batch", post(batch::batch))
        .route("/aggregate/{class_name}", get(aggregate::aggregate))
        .route(
            "/schemas",
            get(schemas::list).post(schemas::create_from_body),
        )
        .route(
            "/schemas/{class_name}",
            get(schemas::get)
                .post(schemas::create)
                .put(schemas::update)
                .delete(schemas::delete),
        )
        .route("/config", get(config::get).put(config::update))
        .route("/files/{name}", post(files::upload).delete(files::delete))
        .route("/files/{app_id}/{name}", get(files::download))
        .route("/health", get(health::health))
        .route("/serverInfo", get(health::server_info))
}

/// Unknown routes answer as Parse's Express app does.
pub async fn not_found(method: axum::http::Method, uri: Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        format!("Cannot {method} {}", uri.path()),
    )
        .into_response()
}
