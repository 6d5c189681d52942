//! Parse's users, sessions and roles routers: `/users`, `/login`, `/logout`, `/sessions`,
//! `/roles`. Objects of these classes go through the same handlers as `/classes`; the
//! user-only verbs call `rest::users` and `rest::sessions`.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::classes;
use crate::error::ApiResult;
use crate::http::Ctx;
use crate::ids::ClassName;
use crate::rest::{sessions, users};
use crate::state::AppState;

fn class(name: &str) -> ClassName {
    ClassName::parse(name).unwrap_or_else(|_| unreachable!("system class names are valid"))
}

macro_rules! class_routes {
    ($module:ident, $class:literal) => {
        pub mod $module {
            use super::*;

            pub async fn find(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Response> {
                classes::find_in(&state, &class($class), &ctx).await
            }
            pub async fn create(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Response> {
                classes::create_in(&state, &class($class), ctx).await
            }
            pub async fn get(
                State(state): State<AppState>,
                Path(id): Path<String>,
                ctx: Ctx,
            ) -> ApiResult<Response> {
                classes::get_in(&state, &class($class), &id, &ctx).await
            }
            pub async fn update(
                State(state): State<AppState>,
                Path(id): Path<String>,
                ctx: Ctx,
            ) -> ApiResult<Json<Value>> {
                classes::update_in(&state, &class($class), &id, ctx).await
            }
            pub async fn delete(
                State(state): State<AppState>,
                Path(id): Path<String>,
                ctx: Ctx,
            ) -> ApiResult<Json<Value>> {
                classes::delete_in(&state, &class($class), &id, &ctx).await
            }
        }
    };
}

class_routes!(user, "_User");
class_routes!(role, "_Role");
class_routes!(session, "_Session");

/// `PUT /users/me` and `DELETE /users/me`: `me` is not an objectId, so these are refused as
/// writes to another user are (206).
pub async fn update_me(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Json<Value>> {
    classes::update_in(&state, &class("_User"), "me", ctx).await
}

pub async fn delete_me(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Json<Value>> {
    classes::delete_in(&state, &class("_User"), "me", &ctx).await
}

/// `GET /users/me`.
pub async fn me(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Json<Value>> {
    Ok(Json(users::me(&state, &ctx.auth).await?))
}

/// `GET /login` (query) and `POST /login` (body).
pub async fn login(State(state): State<AppState>, mut ctx: Ctx) -> ApiResult<Json<Value>> {
    let mut params = ctx.params.clone();
    if let Some(Value::Object(body)) = ctx.json_body().cloned() {
        params.extend(body);
    } else if ctx.method != axum::http::Method::GET {
        ctx.body()?;
    }
    Ok(Json(
        users::login(&state, &ctx.auth, ctx.installation_id.clone(), &params).await?,
    ))
}

/// `POST /logout`.
pub async fn logout(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Json<Value>> {
    users::logout(&state, &ctx.auth).await?;
    Ok(Json(json!({})))
}

/// `GET /sessions/me`.
pub async fn session_me(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Json<Value>> {
    Ok(Json(
        sessions::me(&state, ctx.session_token.as_deref()).await?,
    ))
}

/// `POST /upgradeToRevocableSession`.
pub async fn upgrade_session(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Json<Value>> {
    Ok(Json(
        sessions::upgrade(&state, &ctx.auth, ctx.installation_id.clone()).await?,
    ))
}

/// `GET /verifyPassword`.
pub async fn verify_password(State(state): State<AppState>, ctx: Ctx) -> ApiResult<Json<Value>> {
    let mut params = ctx.params.clone();
    if let Some(Value::Object(body)) = ctx.json_body().cloned() {
        params.extend(body);
    }
    Ok(Json(users::verify_password(&state, &params).await?))
}

/// `POST /loginAs` (master key).
pub async fn login_as(State(state): State<AppState>, mut ctx: Ctx) -> ApiResult<Json<Value>> {
    let body = ctx.body()?;
    Ok(Json(
        users::login_as(&state, &ctx.auth, ctx.installation_id.clone(), &body).await?,
    ))
}
