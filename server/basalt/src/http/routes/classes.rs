//! `/classes/:className[/:objectId]`, and the same handlers under the routers Parse gives
//! system classes their own paths for (`/users`, `/roles`, `/sessions`, `/installations`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::cloud::triggers::find_hooked;
use crate::error::ApiResult;
use crate::http::Ctx;
use crate::ids::{ClassName, ObjectId};
use crate::rest::write;
use crate::state::AppState;

pub async fn find(
    State(state): State<AppState>,
    Path(class): Path<String>,
    ctx: Ctx,
) -> ApiResult<Response> {
    find_in(&state, &ClassName::parse(&class)?, &ctx).await
}

pub async fn find_in(state: &AppState, class: &ClassName, ctx: &Ctx) -> ApiResult<Response> {
    let r = find_hooked(state, &ctx.auth, class, &ctx.params, None, true).await?;
    let Some((rows, _)) = r.rendered else {
        let mut out = json!({ "results": r.results });
        if let Some(n) = r.count {
            out["count"] = Value::from(n);
        }
        return Ok(Json(out).into_response());
    };
    let mut body = Vec::with_capacity(rows.len() + 32);
    body.extend_from_slice(br#"{"results":"#);
    body.extend_from_slice(&rows);
    if let Some(n) = r.count {
        body.extend_from_slice(format!(r#","count":{n}"#).as_bytes());
    }
    body.push(b'}');
    Ok(json_text(body))
}

/// A response of JSON already written as text.
fn json_text(body: impl Into<Bytes>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.into(),
    )
        .into_response()
}

pub async fn get(
    State(state): State<AppState>,
    Path((class, id)): Path<(String, String)>,
    ctx: Ctx,
) -> ApiResult<Response> {
    get_in(&state, &ClassName::parse(&class)?, &id, &ctx).await
}

pub async fn get_in(
    state: &AppState,
    class: &ClassName,
    id: &str,
    ctx: &Ctx,
) -> ApiResult<Response> {
    let id = ObjectId::parse(id)?;
    let r = find_hooked(state, &ctx.auth, class, &ctx.params, Some(&id), true).await?;
    match r.rendered {
        // `[{…}]` (find_hooked answered 101 for none): the object without the brackets.
        Some((rows, _)) => {
            let rows = Bytes::from(rows);
            Ok(json_text(rows.slice(1..rows.len() - 1)))
        }
        None => Ok(Json(r.results.into_iter().next().unwrap_or_default()).into_response()),
    }
}

pub async fn create(
    State(state): State<AppState>,
    Path(class): Path<String>,
    ctx: Ctx,
) -> ApiResult<Response> {
    create_in(&state, &ClassName::parse(&class)?, ctx).await
}

/// Creates and answers 201 with `Location`, or 200 when the create logged in an existing user.
pub async fn create_in(state: &AppState, class: &ClassName, mut ctx: Ctx) -> ApiResult<Response> {
    let body = ctx.body()?;
    let created =
        write::create(state, &ctx.auth, class, &body, ctx.installation_id.clone()).await?;
    if created.existing {
        return Ok((StatusCode::OK, Json(created.body())).into_response());
    }
    // Parse's users router answers with its own path; every other class with /classes.
    let location = if class.as_str() == "_User" {
        format!("{}/users/{}", state.config.server_url, created.object_id)
    } else {
        format!(
            "{}/classes/{}/{}",
            state.config.server_url, class, created.object_id
        )
    };
    let mut res = (StatusCode::CREATED, Json(created.body())).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

pub async fn update(
    State(state): State<AppState>,
    Path((class, id)): Path<(String, String)>,
    ctx: Ctx,
) -> ApiResult<Json<Value>> {
    update_in(&state, &ClassName::parse(&class)?, &id, ctx).await
}

pub async fn update_in(
    state: &AppState,
    class: &ClassName,
    id: &str,
    mut ctx: Ctx,
) -> ApiResult<Json<Value>> {
    let id = ObjectId::parse(id)?;
    let body = ctx.body()?;
    Ok(Json(
        write::update(
            state,
            &ctx.auth,
            class,
            &id,
            &body,
            ctx.installation_id.clone(),
        )
        .await?,
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    Path((class, id)): Path<(String, String)>,
    ctx: Ctx,
) -> ApiResult<Json<Value>> {
    delete_in(&state, &ClassName::parse(&class)?, &id, &ctx).await
}

pub async fn delete_in(
    state: &AppState,
    class: &ClassName,
    id: &str,
    ctx: &Ctx,
) -> ApiResult<Json<Value>> {
    let id = ObjectId::parse(id)?;
    write::delete(state, &ctx.auth, class, &id).await?;
    Ok(Json(json!({})))
}
