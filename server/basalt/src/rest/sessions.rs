//! `_Session`: opening a session (sign-up, login, `POST /sessions`, upgrade), revoking one
//! (logout, delete) or all of a user's, and what clients may do with the class directly.
//!
//! Parse's rules, pinned against Parse Server 9: a client sees and deletes only its own
//! sessions (209 without a user); it may set its own custom fields on them but never `user`,
//! `installationId`, `sessionToken`, `expiresAt`, `createdWith` or `ACL` (105); a new session
//! with an installation id ends the user's other sessions on that installation. The master key
//! reads and writes sessions as rows.
//!
//! One deliberate difference: Basalt stores only a hash of each token, so a session object
//! carries its `sessionToken` only when it is the caller's current session (and once, when it
//! is opened). Parse also shows a user every other session's token.

use basalt_query::{Bind, Sql};
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::write::{self, Created, Effect, Extra, WriteTx};
use crate::auth::Auth;
use crate::auth::session::{self as tokens, new_token, token_hash};
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

/// Fields of a session only Basalt sets.
const RESERVED: &[&str] = &[
    "user",
    "installationId",
    "sessionToken",
    "expiresAt",
    "createdWith",
];

fn token_required() -> ApiError {
    ApiError::new(Code::InvalidSessionToken, "Session token required.")
}

fn user_pointer(id: &str) -> Value {
    json!({"__type": "Pointer", "className": "_User", "objectId": id})
}

fn expiry(state: &AppState) -> chrono::DateTime<Utc> {
    Utc::now()
        + chrono::Duration::from_std(state.config.session_length)
            .unwrap_or_else(|_| chrono::Duration::days(365))
}

/// Ends `user_id`'s sessions on the installation a new session is opened from.
async fn end_installation_sessions(
    state: &AppState,
    wtx: &mut WriteTx,
    user_id: &str,
) -> ApiResult<()> {
    let Some(inst) = wtx.installation_id.clone() else {
        return Ok(());
    };
    let mut sql = Sql::new(state.storage.dialect());
    sql.push("DELETE FROM \"_Session\" WHERE \"user\" = ");
    sql.bind(Bind::Text(user_id.to_string()));
    sql.push(" AND \"installationId\" = ");
    sql.bind(Bind::Text(inst));
    sql.push(" RETURNING \"_token_hash\"");
    for row in wtx.tx().await?.fetch(&sql, &[Col::Text]).await? {
        if let Some(Cell::Text(hash)) = row.into_iter().next() {
            wtx.after_commit(Effect::SessionRevoked(hash));
        }
    }
    Ok(())
}

/// Opens a session for `user_id`, recording `created_with` (`{action, authProvider}`; none
/// for the session a password change issues) and the request's installation id.
pub async fn open(
    state: &AppState,
    wtx: &mut WriteTx,
    user_id: &str,
    created_with: Option<Value>,
) -> ApiResult<Opened> {
    end_installation_sessions(state, wtx, user_id).await?;
    let token = new_token();
    let session_id = new_object_id();
    let now = Utc::now();
    let expires_at = expiry(state);
    let mut sql = Sql::new(state.storage.dialect());
    sql.push(
        "INSERT INTO \"_Session\" (\"objectId\", \"createdAt\", \"updatedAt\", \"_rperm\", \"_wperm\", \
         \"user\", \"installationId\", \"expiresAt\", \"createdWith\", \"_token_hash\") VALUES (",
    );
    sql.bind_list([
        Bind::Text(session_id.clone()),
        Bind::Date(now),
        Bind::Date(now),
        Bind::TextArray(vec![user_id.to_string()]),
        Bind::TextArray(vec![user_id.to_string()]),
        Bind::Text(user_id.to_string()),
    ]);
    sql.push(", ");
    bind_or_null(&mut sql, wtx.installation_id.clone().map(Bind::Text));
    sql.push(", ");
    sql.bind(Bind::Date(expires_at));
    sql.push(", ");
    bind_or_null(&mut sql, created_with.map(Bind::Json));
    sql.push(", ");
    sql.bind(Bind::Text(token_hash(&token)));
    sql.push(")");
    wtx.execute_alone(&sql).await?;
    Ok(Opened {
        token,
        session_id,
        expires_at,
    })
}

fn bind_or_null(sql: &mut Sql, b: Option<Bind>) {
    match b {
        Some(b) => {
            sql.bind(b);
        }
        None => {
            sql.push("NULL");
        }
    }
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

/// `POST /sessions` (or `/classes/_Session`): a user opens another session for itself, with
/// any custom fields it gives; the master key stores a row as given.
pub async fn create(
    state: &AppState,
    auth: &Auth,
    wtx: &mut WriteTx,
    body: &Value,
) -> ApiResult<Created> {
    if auth.is_master() {
        return write::insert(state, auth, wtx, &session_class(), body, Extra::default()).await;
    }
    let Some(user) = auth.user() else {
        return Err(token_required());
    };
    let mut fields = body
        .as_object()
        .cloned()
        .ok_or_else(|| ApiError::invalid_json("request body must be a JSON object"))?;
    if let Some(i) = fields.get("installationId").and_then(Value::as_str) {
        wtx.installation_id = Some(i.to_string());
    }
    for key in RESERVED {
        fields.remove(*key);
    }
    fields.remove("ACL");
    end_installation_sessions(state, wtx, &user.user_id).await?;
    let token = new_token();
    let expires_at = expiry(state);
    let expires = json!({"__type": "Date", "iso": basalt_query::value::format_date(&expires_at)});
    let mut stored = fields.clone();
    stored.insert("user".into(), user_pointer(&user.user_id));
    stored.insert("createdWith".into(), json!({"action": "create"}));
    stored.insert("expiresAt".into(), expires.clone());
    if let Some(i) = &wtx.installation_id {
        stored.insert("installationId".into(), Value::from(i.clone()));
    }
    stored.insert(
        "ACL".into(),
        json!({ user.user_id.clone(): {"read": true, "write": true} }),
    );
    let created = write::insert(
        state,
        auth,
        wtx,
        &session_class(),
        &Value::Object(stored),
        Extra {
            object_id: None,
            hidden: vec![("_token_hash".into(), Bind::Text(token_hash(&token)))],
        },
    )
    .await?;
    // Parse answers the session as it was written, without createdAt.
    let mut answer = Map::new();
    answer.insert("sessionToken".into(), Value::from(token));
    answer.insert("user".into(), user_pointer(&user.user_id));
    answer.insert("createdWith".into(), json!({"action": "create"}));
    if let Some(i) = &wtx.installation_id {
        answer.insert("installationId".into(), Value::from(i.clone()));
    }
    answer.insert("expiresAt".into(), expires);
    answer.extend(fields);
    answer.insert("objectId".into(), Value::from(created.object_id.clone()));
    Ok(Created {
        answer: Some(Value::Object(answer)),
        ..created
    })
}

/// The owner of a session, if it exists.
async fn owner_of(
    state: &AppState,
    wtx: &mut WriteTx,
    id: &ObjectId,
) -> ApiResult<Option<(Option<String>, Option<String>)>> {
    let mut sql = Sql::new(state.storage.dialect());
    sql.push("SELECT \"user\", \"_token_hash\" FROM \"_Session\" WHERE \"objectId\" = ");
    sql.bind(Bind::Text(id.as_str().to_string()));
    let row = wtx
        .tx()
        .await?
        .fetch(&sql, &[Col::Text, Col::Text])
        .await?
        .into_iter()
        .next();
    Ok(row.map(|r| {
        let mut it = r.into_iter();
        let text = |c: Option<Cell>| match c {
            Some(Cell::Text(t)) => Some(t),
            _ => None,
        };
        (text(it.next()), text(it.next()))
    }))
}

/// A client changes only its own sessions, and only their custom fields.
pub async fn update(
    state: &AppState,
    auth: &Auth,
    wtx: &mut WriteTx,
    id: &ObjectId,
    body: &Value,
) -> ApiResult<Value> {
    if auth.is_master() {
        if body.get("sessionToken").is_some() {
            return Err(ApiError::new(
                Code::InvalidKeyName,
                "Invalid key name: sessionToken",
            ));
        }
        return write::modify(state, auth, wtx, &session_class(), id, body, Vec::new()).await;
    }
    let Some(user) = auth.user() else {
        return Err(token_required());
    };
    if let Some(obj) = body.as_object() {
        for key in obj.keys() {
            if RESERVED.contains(&key.as_str()) {
                return Err(ApiError::new(
                    Code::InvalidKeyName,
                    format!("Invalid key name: {key}"),
                ));
            }
            if key == "ACL" {
                return Err(ApiError::new(
                    Code::InvalidKeyName,
                    "Cannot set ACL on a Session.",
                ));
            }
        }
    }
    match owner_of(state, wtx, id).await? {
        Some((Some(owner), _)) if owner == user.user_id => {}
        _ => return Err(ApiError::not_found()),
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
    let not_found = || ApiError::new(Code::ObjectNotFound, "Object not found for delete.");
    if !auth.is_master() && auth.user().is_none() {
        return Err(ApiError::new(
            Code::InvalidSessionToken,
            "Permission denied",
        ));
    }
    let Some((owner, hash)) = owner_of(state, wtx, id).await? else {
        return Err(not_found());
    };
    // Ownership is checked here, not only by ACL: sessions imported from Parse carry none.
    if !auth.is_master() && owner.as_deref() != auth.user_id() {
        return Err(not_found());
    }
    let mut sql = Sql::new(state.storage.dialect());
    sql.push("DELETE FROM \"_Session\" WHERE \"objectId\" = ");
    sql.bind(Bind::Text(id.as_str().to_string()));
    wtx.tx().await?.execute(&sql).await?;
    if let Some(h) = hash {
        wtx.after_commit(Effect::SessionRevoked(h));
    }
    Ok(())
}

/// `GET /sessions/me`: the session of the token sent, expired or not.
pub async fn me(state: &AppState, token: Option<&str>) -> ApiResult<Value> {
    let Some(token) = token else {
        return Err(token_required());
    };
    let not_found = || ApiError::new(Code::InvalidSessionToken, "Session token not found.");
    let (session_id, user_id, _) = tokens::lookup(&state.storage, &token_hash(token))
        .await?
        .ok_or_else(not_found)?;
    // Read as the token's user, expired or not, so `_Session`'s protectedFields apply.
    let roles = tokens::roles_of(&state.storage, &user_id).await?;
    let holder = Auth::User(std::sync::Arc::new(crate::auth::UserAuth {
        user_id,
        session_id: session_id.clone(),
        token: token.to_string(),
        roles: roles.into(),
    }));
    super::find::get(
        state,
        &holder,
        &session_class(),
        &ObjectId::parse(&session_id)?,
        &Map::new(),
    )
    .await
    .map_err(|_| not_found())
}

/// `POST /upgradeToRevocableSession`: every Basalt token is revocable already; as Parse does
/// for a revocable token, the caller gets a new session.
pub async fn upgrade(
    state: &AppState,
    auth: &Auth,
    installation_id: Option<String>,
) -> ApiResult<Value> {
    let Some(user) = auth.user() else {
        return Err(ApiError::new(Code::ObjectNotFound, "invalid session"));
    };
    let mut wtx = WriteTx::new(state);
    wtx.installation_id = installation_id;
    let opened = open(
        state,
        &mut wtx,
        &user.user_id,
        Some(json!({"action": "upgrade"})),
    )
    .await?;
    wtx.commit(state).await?;
    me(state, Some(&opened.token)).await
}
