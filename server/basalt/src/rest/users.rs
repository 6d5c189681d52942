//! `_User`: sign-up, login, logout, `/users/me`, and the rules every write to a user follows
//! whichever route it came by (`/users`, `/classes/_User`, `/batch`).
//!
//! - A password is hashed (argon2id, off the runtime) into `_hashed_password`; `password` is
//!   never stored as a field and never answered.
//! - Username and email are unique ignoring case (202 / 203); an email must look like one (125).
//! - A user changes and deletes only itself unless the master key is used (206); only the
//!   master key sets `emailVerified` (119).
//! - A new user's ACL, unless given, lets only the user itself read and write it (Parse 9), and
//!   a user can never take its own read and write away.
//! - Changing a password ends every session of the user; a user changing its own password
//!   gets a new session in the answer.
//! - `authData.anonymous` signs up an anonymous user, or logs in the one with that id.

use basalt_query::{Bind, Sql};
use serde_json::{Map, Value, json};

use super::sessions;
use super::write::{self, Created, Effect, Extra, WriteTx};
use crate::auth::Auth;
use crate::auth::password::{self, Verified};
use crate::error::{ApiError, ApiResult, Code};
use crate::ids::{ClassName, ObjectId, new_object_id, random_token};
use crate::state::AppState;
use crate::storage::{Cell, Col};

const USER: &str = "_User";

fn user_class() -> ClassName {
    ClassName::parse(USER).unwrap_or_else(|_| unreachable!("_User is a valid class name"))
}

pub fn invalid_login() -> ApiError {
    ApiError::new(Code::ObjectNotFound, "Invalid username/password.")
}

/// A non-empty string field of the body, `Some("")` counts as missing.
fn string_field<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn check_email(email: &str) -> ApiResult<()> {
    // Parse's rule: something, an @, something.
    match email.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() => Ok(()),
        _ => Err(ApiError::new(
            Code::InvalidEmailAddress,
            "Email address format is invalid.",
        )),
    }
}

/// 202 / 203 when another user has this username / email, ignoring case.
async fn check_unique(
    state: &AppState,
    wtx: &mut WriteTx,
    field: &str,
    value: &str,
    except: Option<&str>,
) -> ApiResult<()> {
    let mut sql = Sql::new(state.storage.dialect());
    sql.push("SELECT \"objectId\" FROM \"_User\" WHERE lower(")
        .ident(field)
        .push(") = lower(");
    sql.bind(Bind::Text(value.to_string()));
    sql.push(")");
    if let Some(id) = except {
        sql.push(" AND \"objectId\" <> ");
        sql.bind(Bind::Text(id.to_string()));
    }
    sql.push(" LIMIT 1");
    if wtx.tx().await?.fetch(&sql, &[Col::Text]).await?.is_empty() {
        return Ok(());
    }
    Err(if field == "email" {
        ApiError::new(
            Code::EmailTaken,
            "Account already exists for this email address.",
        )
    } else {
        ApiError::new(
            Code::UsernameTaken,
            "Account already exists for this username.",
        )
    })
}

/// A username or email a write sets must be usable (200 / 125) and not another user's
/// (202 / 203); `except` is the user being updated.
async fn check_identity(
    state: &AppState,
    wtx: &mut WriteTx,
    body: &Map<String, Value>,
    except: Option<&str>,
) -> ApiResult<()> {
    if let Some(username) = body.get("username") {
        let username = username
            .as_str()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::new(Code::UsernameMissing, "bad or missing username"))?;
        check_unique(state, wtx, "username", username, except).await?;
    }
    if let Some(email) = body.get("email").filter(|v| !v.is_null()) {
        let email = email.as_str().ok_or_else(|| {
            ApiError::new(
                Code::InvalidEmailAddress,
                "Email address format is invalid.",
            )
        })?;
        check_email(email)?;
        check_unique(state, wtx, "email", email, except).await?;
    }
    Ok(())
}

/// The anonymous id of `authData`, or `None` without one (`{}` and `null` count as none).
/// Providers other than `anonymous` need an adapter Basalt does not have yet: 252.
fn anonymous_id(body: &Map<String, Value>) -> ApiResult<Option<String>> {
    let Some(auth_data) = body.get("authData").filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let providers = auth_data
        .as_object()
        .ok_or_else(|| ApiError::new(Code::IncorrectType, "authData must be an object"))?;
    let mut anon = None;
    for (provider, data) in providers {
        if data.is_null() || data.as_object().is_some_and(|o| o.is_empty()) {
            continue;
        }
        if provider != "anonymous" {
            return Err(ApiError::new(
                Code::UnsupportedService,
                "This authentication method is unsupported.",
            ));
        }
        let id = data.get("id").and_then(Value::as_str).ok_or_else(|| {
            ApiError::with_code(162, "Invalid authData id for provider 'anonymous'.")
        })?;
        anon = Some(id.to_string());
    }
    Ok(anon)
}

/// Linking or changing a login provider goes through `authData` whole, where each provider is
/// checked; a dotted key (`authData.anonymous.id`) would write credentials unchecked.
fn check_no_dotted_auth_data(body: &Map<String, Value>) -> ApiResult<()> {
    match body.keys().find(|k| k.starts_with("authData.")) {
        Some(key) => Err(ApiError::new(
            Code::InvalidKeyName,
            format!("Invalid field name for update: {key}"),
        )),
        None => Ok(()),
    }
}

/// Only the master key sets `emailVerified`.
fn check_email_verified(auth: &Auth, body: &Map<String, Value>) -> ApiResult<()> {
    if body.contains_key("emailVerified") && !auth.is_master() {
        return Err(ApiError::forbidden("Permission denied"));
    }
    Ok(())
}

/// The ACL a user's write leaves it with: as given, but never without its own read and write.
fn keep_own_access(body: &mut Map<String, Value>, id: &str) {
    if let Some(Value::Object(acl)) = body.get_mut("ACL") {
        acl.insert(id.to_string(), json!({"read": true, "write": true}));
    }
}

fn anonymous_session() -> Option<Value> {
    Some(json!({"action": "login", "authProvider": "anonymous"}))
}

/// The user whose `authData.anonymous.id` is `id`.
async fn find_anonymous(
    state: &AppState,
    wtx: &mut WriteTx,
    id: &str,
) -> ApiResult<Option<String>> {
    let mut sql = Sql::new(state.storage.dialect());
    sql.push("SELECT \"objectId\" FROM \"_User\" WHERE ");
    sql.json_text("authData", &["anonymous", "id"]);
    sql.push(" = ");
    sql.bind(Bind::Text(id.to_string()));
    let rows = wtx.tx().await?.fetch(&sql, &[Col::Text]).await?;
    Ok(rows
        .into_iter()
        .next()
        .and_then(|r| match r.into_iter().next() {
            Some(Cell::Text(id)) => Some(id),
            _ => None,
        }))
}

/// Sign-up (`POST /users`, `POST /classes/_User`, or in a batch).
pub async fn create(
    state: &AppState,
    auth: &Auth,
    wtx: &mut WriteTx,
    body: &Value,
) -> ApiResult<Created> {
    let mut body = body
        .as_object()
        .cloned()
        .ok_or_else(|| ApiError::invalid_json("request body must be a JSON object"))?;
    body.remove("sessionToken");
    check_email_verified(auth, &body)?;
    check_no_dotted_auth_data(&body)?;
    // The user and its first session are written together.
    wtx.tx().await?;
    let anonymous = anonymous_id(&body)?;
    let mut generated_username = None;
    if let Some(anon) = &anonymous {
        if let Some(existing) = find_anonymous(state, wtx, anon).await? {
            let opened = sessions::open(state, wtx, &existing, anonymous_session()).await?;
            let mut user = read_user(state, &existing).await?;
            user.insert("sessionToken".into(), Value::from(opened.token));
            user.insert("authDataResponse".into(), json!({}));
            return Ok(Created {
                object_id: existing,
                created_at: chrono::Utc::now(),
                echo: Map::new(),
                answer: Some(Value::Object(user)),
                existing: true,
            });
        }
        if string_field(&body, "username").is_none() {
            let name = random_token(25);
            generated_username = Some(name.clone());
            body.insert("username".into(), Value::from(name));
        }
    } else {
        if string_field(&body, "username").is_none() {
            return Err(ApiError::new(
                Code::UsernameMissing,
                "bad or missing username",
            ));
        }
        if string_field(&body, "password").is_none() {
            return Err(ApiError::new(Code::PasswordMissing, "password is required"));
        }
    }
    let hidden = match body.remove("password") {
        Some(Value::String(p)) if !p.is_empty() => {
            vec![(
                "_hashed_password".to_string(),
                Bind::Text(password::hash(p).await?),
            )]
        }
        None | Some(Value::Null) => Vec::new(),
        Some(_) => {
            return Err(ApiError::new(Code::PasswordMissing, "password is required"));
        }
    };
    check_identity(state, wtx, &body, None).await?;
    let object_id = new_object_id();
    if body.get("ACL").is_none_or(Value::is_null) {
        body.insert("ACL".into(), json!({}));
    }
    keep_own_access(&mut body, &object_id);
    let mut created = write::insert(
        state,
        auth,
        wtx,
        &user_class(),
        &Value::Object(body),
        Extra {
            object_id: Some(object_id.clone()),
            hidden,
        },
    )
    .await?;
    let created_with = if anonymous.is_some() {
        anonymous_session()
    } else {
        Some(json!({"action": "signup", "authProvider": "password"}))
    };
    let opened = sessions::open(state, wtx, &object_id, created_with).await?;
    if let Some(name) = generated_username {
        created.echo.insert("username".into(), Value::from(name));
    }
    created
        .echo
        .insert("sessionToken".into(), Value::from(opened.token));
    if anonymous.is_some() {
        created.echo.insert("authDataResponse".into(), json!({}));
    }
    Ok(created)
}

/// A user may change and delete only itself, unless the master key is used.
fn check_self(auth: &Auth, id: &ObjectId, deleting: bool) -> ApiResult<()> {
    if auth.is_master() || auth.user_id() == Some(id.as_str()) {
        return Ok(());
    }
    let message = if deleting && auth.user().is_none() {
        "Insufficient auth to delete user"
    } else {
        "Permission denied"
    };
    Err(ApiError::new(Code::SessionMissing, message))
}

pub async fn update(
    state: &AppState,
    auth: &Auth,
    wtx: &mut WriteTx,
    id: &ObjectId,
    body: &Value,
) -> ApiResult<Value> {
    check_self(auth, id, false)?;
    let mut body = body
        .as_object()
        .cloned()
        .ok_or_else(|| ApiError::invalid_json("request body must be a JSON object"))?;
    body.remove("sessionToken");
    check_email_verified(auth, &body)?;
    check_no_dotted_auth_data(&body)?;
    if !auth.is_master() {
        keep_own_access(&mut body, id.as_str());
    }
    let mut hidden = Vec::new();
    let new_password = match body.remove("password") {
        None => None,
        Some(Value::String(p)) if !p.is_empty() => Some(p),
        Some(_) => {
            return Err(ApiError::new(Code::PasswordMissing, "password is required"));
        }
    };
    if let Some(p) = &new_password {
        hidden.push((
            "_hashed_password".to_string(),
            Bind::Text(password::hash(p.clone()).await?),
        ));
    }
    check_identity(state, wtx, &body, Some(id.as_str())).await?;
    anonymous_id(&body)?;
    let mut out = write::modify(
        state,
        auth,
        wtx,
        &user_class(),
        id,
        &Value::Object(body),
        hidden,
    )
    .await
    .map_err(|e| {
        // A user that may not write itself (its ACL changed by the master key) is refused as
        // another user would be.
        if e.code == Code::ObjectNotFound as i32 && !auth.is_master() {
            ApiError::new(Code::SessionMissing, "Permission denied")
        } else {
            e
        }
    })?;
    if new_password.is_some() {
        // Every session of the user ends; a user changing its own password stays logged in
        // with a new one.
        sessions::revoke_user(state, wtx, id.as_str()).await?;
        if !auth.is_master()
            && let Some(obj) = out.as_object_mut()
        {
            let opened = sessions::open(state, wtx, id.as_str(), None).await?;
            obj.insert("sessionToken".into(), Value::from(opened.token));
        }
    }
    Ok(out)
}

pub async fn delete(
    state: &AppState,
    auth: &Auth,
    wtx: &mut WriteTx,
    id: &ObjectId,
) -> ApiResult<()> {
    check_self(auth, id, true)?;
    wtx.tx().await?;
    write::remove(state, auth, wtx, &user_class(), id).await?;
    sessions::revoke_user(state, wtx, id.as_str()).await?;
    // Role memberships of a deleted user are dropped with it.
    let mut sql = Sql::new(state.storage.dialect());
    sql.push("DELETE FROM \"_Join:users:_Role\" WHERE \"relatedId\" = ");
    sql.bind(Bind::Text(id.as_str().to_string()));
    wtx.tx().await?.execute(&sql).await?;
    wtx.after_commit(Effect::RolesChanged);
    Ok(())
}

/// A user as it sees itself: every field but the password.
pub async fn read_user(state: &AppState, id: &str) -> ApiResult<Map<String, Value>> {
    let obj = super::find::get(
        state,
        &Auth::Master,
        &user_class(),
        &ObjectId::parse(id)?,
        &Map::new(),
    )
    .await?;
    match obj {
        Value::Object(o) => Ok(o),
        _ => Err(ApiError::not_found()),
    }
}

/// Finds the user the credentials name and checks the password: Parse's rules for `/login`
/// and `/verifyPassword`. Username and email match exactly (case-sensitive); an email may also
/// be given as the username; with both, they must name the same user. A user that cannot read
/// itself (its ACL emptied by the master key) cannot log in. Every failure is the same 101.
async fn authenticate(state: &AppState, params: &Map<String, Value>) -> ApiResult<String> {
    let present = |k: &str| {
        params
            .get(k)
            .filter(|v| !v.is_null() && v.as_str() != Some(""))
    };
    let (username, email) = (present("username"), present("email"));
    if username.is_none() && email.is_none() {
        return Err(ApiError::new(
            Code::UsernameMissing,
            "username/email is required.",
        ));
    }
    let Some(pw) = present("password") else {
        return Err(ApiError::new(
            Code::PasswordMissing,
            "password is required.",
        ));
    };
    let text = |v: Option<&Value>| -> Result<Option<String>, ApiError> {
        match v {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid_login()),
        }
    };
    let (username, email) = (text(username)?, text(email)?);
    let pw = pw.as_str().ok_or_else(invalid_login)?.to_string();
    let mut sql = Sql::new(state.storage.dialect());
    sql.push("SELECT \"objectId\", \"_hashed_password\", \"_rperm\" FROM \"_User\" WHERE ");
    match (username, email) {
        (Some(u), Some(e)) => {
            sql.push("\"username\" = ");
            sql.bind(Bind::Text(u));
            sql.push(" AND \"email\" = ");
            sql.bind(Bind::Text(e));
        }
        (Some(u), None) => {
            sql.push("(\"username\" = ");
            let n = sql.bind(Bind::Text(u));
            sql.push(" OR \"email\" = ").placeholder(n).push(")");
            // A username that is also another user's email address logs in its own user.
            sql.push(" ORDER BY CASE WHEN \"username\" = ")
                .placeholder(n)
                .push(" THEN 0 ELSE 1 END");
        }
        (None, Some(e)) => {
            sql.push("\"email\" = ");
            sql.bind(Bind::Text(e));
        }
        (None, None) => return Err(invalid_login()),
    }
    sql.push(" LIMIT 1");
    let row = state
        .storage
        .fetch(&sql, &[Col::Text, Col::Text, Col::Perms])
        .await?
        .into_iter()
        .next()
        .map(|r| {
            let mut it = r.into_iter();
            (it.next(), it.next(), it.next())
        });
    let (user_id, stored, rperm) = match row {
        Some((Some(Cell::Text(id)), Some(Cell::Text(hash)), rperm)) => (id, hash, rperm),
        _ => {
            password::verify_nobody(pw).await?;
            return Err(invalid_login());
        }
    };
    let readable = match rperm {
        Some(Cell::Perms(p)) => p.iter().any(|e| e == "*" || *e == user_id),
        _ => true,
    };
    match password::verify(pw, stored).await? {
        Verified::No => Err(invalid_login()),
        _ if !readable => Err(invalid_login()),
        Verified::Yes => Ok(user_id),
        Verified::YesRehash(new) => {
            let mut sql = Sql::new(state.storage.dialect());
            sql.push("UPDATE \"_User\" SET \"_hashed_password\" = ");
            sql.bind(Bind::Text(new));
            sql.push(" WHERE \"objectId\" = ");
            sql.bind(Bind::Text(user_id.clone()));
            state.storage.execute(&sql).await?;
            Ok(user_id)
        }
    }
}

/// `POST /login` and `GET /login`: the user, with a new session.
pub async fn login(
    state: &AppState,
    auth: &Auth,
    installation_id: Option<String>,
    params: &Map<String, Value>,
) -> ApiResult<Value> {
    auth.check_writable("create")?;
    let user_id = authenticate(state, params).await?;
    let mut user = read_user(state, &user_id).await?;
    crate::cloud::triggers::before_login(state, &user).await?;
    let mut wtx = WriteTx::new(state);
    wtx.installation_id = installation_id;
    let opened = sessions::open(
        state,
        &mut wtx,
        &user_id,
        Some(json!({"action": "login", "authProvider": "password"})),
    )
    .await?;
    wtx.commit(state).await?;
    crate::cloud::triggers::after_login(state, &user, &opened.token).await;
    user.insert("sessionToken".into(), Value::from(opened.token));
    Ok(Value::Object(user))
}

/// `GET /verifyPassword`: the user if the password is right, without opening a session.
pub async fn verify_password(state: &AppState, params: &Map<String, Value>) -> ApiResult<Value> {
    let user_id = authenticate(state, params).await?;
    Ok(Value::Object(read_user(state, &user_id).await?))
}

/// `POST /loginAs` (master key): a session for any user.
pub async fn login_as(
    state: &AppState,
    auth: &Auth,
    installation_id: Option<String>,
    body: &Value,
) -> ApiResult<Value> {
    if !auth.is_master() {
        return Err(ApiError::forbidden("Permission denied"));
    }
    let Some(user_id) = body
        .get("userId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return Err(ApiError::with_code(
            162,
            "userId must not be empty, null, or undefined",
        ));
    };
    let mut user = read_user(state, user_id)
        .await
        .map_err(|_| ApiError::new(Code::ObjectNotFound, "user not found"))?;
    let mut wtx = WriteTx::new(state);
    wtx.installation_id = installation_id;
    let opened = sessions::open(
        state,
        &mut wtx,
        user_id,
        Some(json!({"action": "login", "authProvider": "masterkey"})),
    )
    .await?;
    wtx.commit(state).await?;
    user.insert("sessionToken".into(), Value::from(opened.token));
    Ok(Value::Object(user))
}

/// `GET /users/me`: the caller as it may read itself, with its token.
pub async fn me(state: &AppState, auth: &Auth) -> ApiResult<Value> {
    let denied = || ApiError::new(Code::InvalidSessionToken, "Permission denied");
    let Some(u) = auth.user() else {
        return Err(denied());
    };
    let mut user = super::find::get(
        state,
        auth,
        &user_class(),
        &ObjectId::parse(&u.user_id)?,
        &Map::new(),
    )
    .await
    .map_err(|_| denied())?;
    user["sessionToken"] = Value::from(u.token.clone());
    Ok(user)
}

/// `POST /logout`: ends the caller's session.
pub async fn logout(state: &AppState, auth: &Auth) -> ApiResult<()> {
    let Some(u) = auth.user() else {
        return Ok(());
    };
    // afterLogout sees the session as it was; read it only when a hook wants it.
    let session = match crate::cloud::registered(state, basalt_cloud::Kind::AfterLogout, "_Session")
    {
        Some(_) => super::find::get(
            state,
            &Auth::Master,
            &sessions::session_class(),
            &ObjectId::parse(&u.session_id)?,
            &Map::new(),
        )
        .await
        .ok(),
        None => None,
    };
    let mut wtx = WriteTx::new(state);
    sessions::revoke(state, &mut wtx, &u.session_id).await?;
    wtx.commit(state).await?;
    if let Some(Value::Object(session)) = session {
        crate::cloud::triggers::after_logout(state, auth, session).await;
    }
    Ok(())
}
