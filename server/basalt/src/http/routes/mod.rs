//! One file per Parse router; each handler decodes, calls one `rest::` function and encodes.

mod aggregate;
mod batch;
mod classes;
mod config;
mod files;
mod functions;
mod health;
mod schemas;
mod users;

use axum::Router;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};

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
        .route("/users", get(users::user::find).post(users::user::create))
        // `me` is not an objectId: updating or deleting it is refused as another user's.
        .route(
            "/users/me",
            get(users::me)
                .put(users::update_me)
                .delete(users::delete_me),
        )
        .route("/verifyPassword", get(users::verify_password))
        .route("/loginAs", post(users::login_as))
        .route("/upgradeToRevocableSession", post(users::upgrade_session))
        .route(
            "/users/{object_id}",
            get(users::user::get)
                .put(users::user::update)
                .delete(users::user::delete),
        )
        .route("/login", get(users::login).post(users::login))
        .route("/logout", post(users::logout))
        .route(
            "/sessions",
            get(users::session::find).post(users::session::create),
        )
        .route("/sessions/me", get(users::session_me))
        .route(
            "/sessions/{object_id}",
            get(users::session::get)
                .put(users::session::update)
                .delete(users::session::delete),
        )
        .route("/roles", get(users::role::find).post(users::role::create))
        .route(
            "/roles/{object_id}",
            get(users::role::get)
                .put(users::role::update)
                .delete(users::role::delete),
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
        .route("/functions", get(functions::list_functions))
        .route("/functions/{name}", post(functions::run))
        .route(
            "/jobs",
            get(functions::list_jobs).post(functions::start_named_job),
        )
        .route("/jobs/{name}", post(functions::start_job))
        .route("/cloud_code/deploy", post(functions::deploy))
        .route(
            "/hooks/functions",
            get(functions::hooks::functions).post(functions::hooks::create),
        )
        .route(
            "/hooks/functions/{name}",
            get(functions::hooks::function).put(functions::hooks::put_function),
        )
        .route(
            "/hooks/triggers",
            get(functions::hooks::triggers).post(functions::hooks::create),
        )
        .route(
            "/hooks/triggers/{class_name}/{trigger}",
            get(functions::hooks::trigger).put(functions::hooks::put_trigger),
        )
        .route(
            "/cloud_code/jobs",
            get(functions::schedules::list).post(functions::schedules::create),
        )
        .route("/cloud_code/jobs/data", get(functions::schedules::data))
        .route(
            "/cloud_code/jobs/{object_id}",
            put(functions::schedules::update).delete(functions::schedules::delete),
        )
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
