//! `_Session`: opening a session at sign-up and login, revoking one (logout, delete) or all of a
//! user's, and what clients may do with the class directly. A session belongs to its user
//! (ACL: the user alone); clients see only their own sessions and cannot change one — its `user`
//! is what the token means. The token itself is answered once, when the session opens (and by
//! `/sessions/me` to its holder); only its hash is stored.

use basalt_query::{Bind, Sql};
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::write::{self, Created, Effect, WriteTx};
use crate::auth::Auth;
use crate::auth::session::{invalid_token, new_token, token_hash};
use crate::error::{ApiError, ApiResult, Code};
use crate::ids::{ClassName, ObjectId, new_object_id};
use crate::state::AppState;
use crate::storage::{Cell, Col};

pub struct Opened {
    pub token: String,
    pub session_id: String,
    pub expires_at: chrono::DateTime<Utc>,
}

pub fn session_class() -> ClassName {
    ClassName::parse("_Session").unwrap_or_else(|_| unreachable!("_Session is a valid class name"))
}

/// Opens a session for `user_id`: `createdWith` is `{action, authProvider}` as Parse records it.
pub async fn open(
    state: &AppState,
    wtx: &mut WriteTx,
    user_id: &str,
    action: &str,
    provider: &str,
) -> ApiResult<Opened> {
    let token = new_token();
    let session_id = new_object_id();
    let now = Utc::now();
    let expires_at = now
        + chrono::Duration::from_std(state.config.session_length)
            .unwrap_or_else(|_| chrono::Duration::days(365));
    let mut sql = Sql::new(state.storage.dialect());
    sql.push(
        "INSERT INTO \"_Session\" (\"objectId\", \"createdAt\", \"updatedAt\", \"_rperm\", \"_wperm\", \
         \"user\", \"installationId\", \"expiresAt\", \"createdWith\", \"_token_hash\") VALUES (",
    );
    let created_with = json!({"action": action, "authProvider": provider});
    sql.bind_list([
        Bind::Text(session_id.clone()),
        Bind::Date(now),
        Bind::Date(now),
        Bind::TextArray(vec![user_id.to_string()]),
        Bind::TextArray(vec![user_id.to_string()]),
        Bind::Text(user_id.to_string()),
    ]);
    sql.push(", ");
    match &wtx.installation_id {
        Some(i) => {
            sql.bind(Bind::Text(i.clone()));
        }
        None => {
            sql.push("NULL");
        }
    }
    sql.push(", ");
    sql.bind_list([
        Bind::Date(expires_at),
        Bind::Json(created_with),
        Bind::Text(token_hash(&token)),
    ]);
    sql.push(")");
    wtx.execute_alone(&sql).await?;
    Ok(Opened {
        token,
        session_id,
        expires_at,
    })
}

/// Ends one session.
pub async fn revoke(state: &AppState, wtx: &mut WriteTx, session_id: &str) -> ApiResult<()> {
    let mut sql = Sql::new(state.storage.dialect());
    sql.push("DELETE FROM \"_Session\" WHERE \"objectId\" = ");
    sql.bind(Bind::Text(session_id.to_string()));
    sql.push(" RETURNING \"_token_hash\"");
    let rows = wtx.tx().await?.fetch(&sql, &[Col::Text]).await?;
    for row in rows {
        if let Some(Cell::Text(hash)) = row.into_iter().next() {
            wtx.after_commit(Effect::SessionRevoked(hash));
        }
    }
    Ok(())
}

/// Ends every session of a user.
pub async fn revoke_user(state: &AppState, wtx: &mut WriteTx, user_id: &str) -> ApiResult<()> {
    let mut sql = Sql::new(state.storage.dialect());
    sql.push("DELETE FROM \"_Session\" WHERE \"user\" = ");
    sql.bind(Bind::Text(user_id.to_string()));
    wtx.tx().await?.execute(&sql).await?;
    wtx.after_commit(Effect::UserSessionsRevoked(user_id.to_string()));
    Ok(())
}

/// `POST /sessions` (or `/classes/_Session`): a user opens another session for itself.
/// Nobody opens a session for someone else this way, the master key included.
pub async fn create(
    state: &AppState,
    auth: &Auth,
    wtx: &mut WriteTx,
    body: &Value,
) -> ApiResult<Created> {
    let Some(user) = auth.user() else {
        return Err(ApiError::new(
            Code::SessionMissing,
            "Session creation requires a user.",
        ));
    };
    if let Some(obj) = body.as_object() {
        for key in obj.keys() {
            if !matches!(key.as_str(), "installationId" | "ACL") {
                return Err(ApiError::new(
                    Code::OperationForbidden,
                    format!("Cannot set {key} on a session."),
                ));
            }
        }
        if let Some(i) = obj.get("installationId").and_then(Value::as_str) {
            wtx.installation_id = Some(i.to_string());
        }
    }
    let opened = open(state, wtx, &user.user_id, "create", "password").await?;
    let mut echo = Map::new();
    echo.insert("sessionToken".into(), Value::from(opened.token));
    echo.insert(
        "user".into(),
        json!({"__type": "Pointer", "className": "_User", "objectId": user.user_id}),
    );
    echo.insert(
        "createdWith".into(),
        json!({"action": "create", "authProvider": "password"}),
    );
    echo.insert(
        "expiresAt".into(),
        json!({"__type": "Date", "iso": basalt_query::value::format_date(&opened.expires_at)}),
    );
    Ok(Created {
        object_id: opened.session_id,
        created_at: Utc::now(),
        echo,
        existing: None,
    })
}

/// Sessions are changed only with the master key: a client that could change its session's
/// `user` could become anyone.
pub async fn update(
    state: &AppState,
    auth: &Auth,
    wtx: &mut WriteTx,
    id: &ObjectId,
    body: &Value,
) -> ApiResult<Value> {
    if !auth.is_master() {
        return Err(ApiError::new(
            Code::OperationForbidden,
            "Sessions can only be changed with the master key.",
        ));
    }
    if body.get("sessionToken").is_some() {
        return Err(ApiError::new(
            Code::OperationForbidden,
            "A session's token cannot be changed.",
        ));
    }
    write::modify(state, auth, wtx, &session_class(), id, body, Vec::new()).await
}

/// Deleting a session (the caller's own, or any with the master key) revokes it at once.
pub async fn delete(
    state: &AppState,
    auth: &Auth,
    wtx: &mut WriteTx,
    id: &ObjectId,
) -> ApiResult<()> {
    let mut sql = Sql::new(state.storage.dialect());
    sql.push("SELECT \"_token_hash\", \"user\" FROM \"_Session\" WHERE \"objectId\" = ");
    sql.bind(Bind::Text(id.as_str().to_string()));
    let row = wtx
        .tx()
        .await?
        .fetch(&sql, &[Col::Text, Col::Text])
        .await?
        .into_iter()
        .next()
        .map(|r| {
            let mut it = r.into_iter();
            (it.next(), it.next())
        });
    let (hash, owner) = match row {
        Some((h, o)) => (h, o),
        None => return Err(ApiError::not_found()),
    };
    // Sessions imported from Parse carry no ACL: ownership is checked here, not only by ACL.
    let own = matches!((&owner, auth.user_id()), (Some(Cell::Text(o)), Some(me)) if o == me);
    if !auth.is_master() && !own {
        return Err(ApiError::not_found());
    }
    let hash = match hash {
        Some(Cell::Text(h)) => Some(h),
        _ => None,
    };
    write::remove(state, auth, wtx, &session_class(), id).await?;
    if let Some(h) = hash {
        wtx.after_commit(Effect::SessionRevoked(h));
    }
    Ok(())
}

/// `GET /sessions/me`: the caller's session, with its token.
pub async fn me(state: &AppState, auth: &Auth) -> ApiResult<Value> {
    let Some(user) = auth.user() else {
        return Err(invalid_token());
    };
    let mut obj = super::find::get(
        state,
        auth,
        &session_class(),
        &ObjectId::parse(&user.session_id)?,
        &Map::new(),
    )
    .await
    .map_err(|_| invalid_token())?;
    obj["sessionToken"] = Value::from(user.token.clone());
    Ok(obj)
}
