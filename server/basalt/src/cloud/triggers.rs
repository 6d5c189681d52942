//! The hooks on the REST paths: `beforeSave`/`afterSave`, `beforeDelete`/`afterDelete`,
//! `beforeFind`/`afterFind`, and the login hooks. Each returns at once when no code is loaded or
//! nothing is registered for the class, so a server without cloud code pays one map lookup.

use basalt_cloud::Kind;
use serde_json::{Map, Value, json};

use super::{Origin, invoke, registered, request_base};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::ids::{ClassName, ObjectId};
use crate::realtime::Event;
use crate::rest::find::{self, FindOptions};
use crate::rest::write::OPERATORS;
use crate::state::AppState;

/// The object as stored, as the master key reads it, with its `className`.
async fn stored(
    state: &AppState,
    class: &ClassName,
    id: &ObjectId,
) -> ApiResult<Map<String, Value>> {
    match find::get(state, &Auth::Master, class, id, &Map::new()).await? {
        Value::Object(mut o) => {
            o.insert("className".into(), Value::from(class.as_str()));
            Ok(o)
        }
        _ => Err(ApiError::not_found()),
    }
}

fn with_class(mut o: Map<String, Value>, class: &str) -> Value {
    o.insert("className".into(), Value::from(class));
    Value::Object(o)
}

/// What a `before…` hook left for the write and for its `after…` hook.
#[derive(Debug, Default)]
pub struct Before {
    /// The body to write instead of the client's (its changes included).
    pub body: Option<Value>,
    /// `request.context` as the hook left it: the `after…` hook of the same write gets it.
    pub context: Option<Map<String, Value>>,
}

/// One key of the dispatcher's answer, taken out of it.
fn take(out: Value, key: &str) -> Option<Value> {
    match out {
        Value::Object(mut o) => o.remove(key),
        _ => None,
    }
}

fn context_of(out: &Value) -> Option<Map<String, Value>> {
    out.get("context").and_then(Value::as_object).cloned()
}

/// `beforeSave`; `id` is the object an update changes.
pub async fn before_save(
    state: &AppState,
    auth: &Auth,
    class: &ClassName,
    id: Option<&ObjectId>,
    body: &Value,
) -> ApiResult<Before> {
    let Some(engine) = registered(state, Kind::BeforeSave, class.as_str()) else {
        return Ok(Before::default());
    };
    // The hook would see an operation it cannot decode as nothing, and the write would store
    // it as null: refused first, as Parse refuses it when a beforeSave is registered.
    if let Some(op) = body.as_object().into_iter().flatten().find_map(|(_, v)| {
        let op = v.get("__op")?.as_str()?;
        (!OPERATORS.contains(&op)).then_some(op)
    }) {
        return Err(ApiError::with_code(
            108,
            format!("The {op} operator is not supported yet."),
        ));
    }
    let origin = Origin::current();
    let mut request = request_base(state, auth, &origin).await;
    let object = match id {
        Some(id) => {
            let original = stored(state, class, id).await?;
            request.insert("original".into(), Value::Object(original.clone()));
            Value::Object(original)
        }
        None => json!({ "className": class.as_str() }),
    };
    request.insert("object".into(), object);
    request.insert("changes".into(), body.clone());
    let out = invoke(
        state,
        &engine,
        Kind::BeforeSave,
        class.as_str(),
        request,
        &origin,
    )
    .await?;
    let context = context_of(&out);
    let Some(Value::Object(mut changes)) = take(out, "object") else {
        return Ok(Before {
            body: None,
            context,
        });
    };
    // The SDK's save JSON names the object; the write's id and timestamps are the server's.
    for key in ["objectId", "className", "createdAt", "updatedAt", "__type"] {
        changes.remove(key);
    }
    Ok(Before {
        body: Some(Value::Object(changes)),
        context,
    })
}

/// `beforeDelete`, given the object about to be deleted.
pub async fn before_delete(
    state: &AppState,
    auth: &Auth,
    class: &ClassName,
    id: &ObjectId,
) -> ApiResult<Before> {
    let Some(engine) = registered(state, Kind::BeforeDelete, class.as_str()) else {
        return Ok(Before::default());
    };
    let origin = Origin::current();
    let mut request = request_base(state, auth, &origin).await;
    request.insert(
        "object".into(),
        Value::Object(stored(state, class, id).await?),
    );
    let out = invoke(
        state,
        &engine,
        Kind::BeforeDelete,
        class.as_str(),
        request,
        &origin,
    )
    .await?;
    Ok(Before {
        body: None,
        context: context_of(&out),
    })
}

/// Whether writes to `class` must read their rows back for an `afterSave`/`afterDelete`.
pub fn wants_rows(state: &AppState, class: &str) -> bool {
    registered(state, Kind::AfterSave, class).is_some()
        || registered(state, Kind::AfterDelete, class).is_some()
}

/// An `afterSave` or `afterDelete` owed once the write commits.
#[derive(Debug, Clone)]
pub struct After {
    pub kind: Kind,
    pub class: String,
    pub object_id: String,
    pub auth: Auth,
    /// The context the `before…` hook left, if one ran.
    pub context: Option<Map<String, Value>>,
}

impl After {
    /// The hook owed for a write, if one is registered.
    pub fn owed(
        state: &AppState,
        auth: &Auth,
        kind: Kind,
        class: &str,
        id: &str,
        before: Before,
    ) -> Option<After> {
        registered(state, kind, class)?;
        Some(After {
            kind,
            class: class.to_string(),
            object_id: id.to_string(),
            auth: auth.clone(),
            context: before.context,
        })
    }

    /// Runs the hook with the object as the write left it. The write has committed either
    /// way; as in Parse, an `afterSave` failure is only logged, while an `afterDelete` failure
    /// is the request's answer.
    pub async fn run(self, state: &AppState, events: &[Event]) -> ApiResult<()> {
        let Some(engine) = registered(state, self.kind, &self.class) else {
            return Ok(());
        };
        let Some(event) = events.iter().rev().find(|e| {
            e.class == self.class
                && e.object.get("objectId").and_then(Value::as_str) == Some(&self.object_id)
        }) else {
            tracing::warn!(class = %self.class, id = %self.object_id, "no row for {}", self.kind.as_str());
            return Ok(());
        };
        let origin = Origin::current();
        let mut request = request_base(state, &self.auth, &origin).await;
        request.insert(
            "object".into(),
            with_class(event.object.clone(), &self.class),
        );
        if let Some(o) = &event.original {
            request.insert("original".into(), with_class(o.clone(), &self.class));
        }
        if let Some(c) = self.context {
            request.insert("context".into(), Value::Object(c));
        }
        match invoke(state, &engine, self.kind, &self.class, request, &origin).await {
            Err(e) if self.kind == Kind::AfterDelete => Err(e),
            Err(e) => {
                tracing::warn!(
                    target: "basalt::cloud",
                    class = %self.class,
                    "{} failed: {}",
                    self.kind.as_str(),
                    e.message
                );
                Ok(())
            }
            Ok(_) => Ok(()),
        }
    }
}

/// A find as clients make it, with `beforeFind` and `afterFind` around it. `get` is the id of
/// a get by id (`GET /classes/:className/:objectId`); a get that finds nothing is 101.
/// `render`: the caller answers the client with the rows (see [`FindOptions::render`]); no
/// hook then needs them as values.
pub async fn find_hooked(
    state: &AppState,
    auth: &Auth,
    class: &ClassName,
    params: &Map<String, Value>,
    get: Option<&ObjectId>,
    render: bool,
) -> ApiResult<find::FindResult> {
    let before = registered(state, Kind::BeforeFind, class.as_str());
    let after = registered(state, Kind::AfterFind, class.as_str());
    if before.is_none() && after.is_none() {
        let mut opts = match get {
            Some(id) => FindOptions::by_id(id, params)?,
            None => FindOptions::from_params(params, state.config.max_limit)?,
        };
        opts.render = render;
        let result = find::find(state, auth, class, &opts).await?;
        if get.is_some() && result.is_empty() {
            return Err(ApiError::not_found());
        }
        return Ok(result);
    }
    let origin = Origin::current();
    let base = request_base(state, auth, &origin).await;
    let mut params = params.clone();
    if let Some(id) = get {
        params.insert("where".into(), json!({ "objectId": id.as_str() }));
    }
    if let Some(engine) = before {
        let mut request = base.clone();
        request.insert("query".into(), query_json(class, &params)?);
        request.insert("isGet".into(), Value::Bool(get.is_some()));
        request.insert(
            "count".into(),
            Value::Bool(crate::rest::flag_param(&params, "count")),
        );
        let out = invoke(
            state,
            &engine,
            Kind::BeforeFind,
            class.as_str(),
            request,
            &origin,
        )
        .await?;
        if let Some(Value::Array(objects)) = out.get("objects") {
            return Ok(find::FindResult::values(
                objects.iter().cloned().map(strip_class).collect(),
                None,
            ));
        }
        if let Some(Value::Object(q)) = out.get("query") {
            params = query_params(q);
        }
    }
    let mut opts = FindOptions::from_params(&params, state.config.max_limit)?;
    if get.is_some() {
        opts.by_id = true;
        opts.limit = 1;
        opts.skip = 0;
        opts.count = false;
    }
    let mut result = find::find(state, auth, class, &opts).await?;
    if get.is_some() && result.results.is_empty() {
        return Err(ApiError::not_found());
    }
    if let Some(engine) = after {
        let mut request = base;
        request.insert("query".into(), query_json(class, &params)?);
        let objects = result
            .results
            .iter()
            .map(|o| match o {
                Value::Object(m) => with_class(m.clone(), class.as_str()),
                other => other.clone(),
            })
            .collect();
        request.insert("objects".into(), Value::Array(objects));
        let out = invoke(
            state,
            &engine,
            Kind::AfterFind,
            class.as_str(),
            request,
            &origin,
        )
        .await?;
        if let Some(Value::Array(objects)) = out.get("objects") {
            result.results = objects.iter().cloned().map(strip_class).collect();
        }
    }
    Ok(result)
}

/// Objects come back from the SDK with `className` (and `__type`); REST results carry neither.
fn strip_class(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.remove("className");
        m.remove("__type");
    }
    v
}

/// The find's parameters as `request.query` JSON: `where` parsed, the rest as sent.
fn query_json(class: &ClassName, params: &Map<String, Value>) -> ApiResult<Value> {
    let mut q = Map::new();
    q.insert("className".into(), Value::from(class.as_str()));
    q.insert(
        "where".into(),
        crate::rest::json_param(params, "where")?.unwrap_or_else(|| json!({})),
    );
    for key in [
        "limit",
        "skip",
        "order",
        "keys",
        "excludeKeys",
        "include",
        "count",
    ] {
        if let Some(v) = params.get(key) {
            q.insert(key.into(), v.clone());
        }
    }
    Ok(Value::Object(q))
}

/// The parameters a changed `request.query` stands for.
fn query_params(q: &Map<String, Value>) -> Map<String, Value> {
    let mut p = Map::new();
    for (key, v) in q {
        match key.as_str() {
            "className" => {}
            "count" if crate::rest::flag_param(q, "count") => {
                p.insert(key.clone(), Value::from(1));
            }
            "count" => {}
            _ if v.is_null() => {}
            _ => {
                p.insert(key.clone(), v.clone());
            }
        }
    }
    p
}

/// `beforeLogin`, with the user who is logging in; a failure refuses the login.
pub async fn before_login(state: &AppState, user: &Map<String, Value>) -> ApiResult<()> {
    login_hook(state, Kind::BeforeLogin, user, None).await
}

/// `afterLogin`, with the user and the new session's token.
pub async fn after_login(state: &AppState, user: &Map<String, Value>, token: &str) {
    if let Err(e) = login_hook(state, Kind::AfterLogin, user, Some(token)).await {
        tracing::warn!(target: "basalt::cloud", "afterLogin failed: {}", e.body());
    }
}

async fn login_hook(
    state: &AppState,
    kind: Kind,
    user: &Map<String, Value>,
    token: Option<&str>,
) -> ApiResult<()> {
    let Some(engine) = registered(state, kind, "_User") else {
        return Ok(());
    };
    let origin = Origin::current();
    let mut request = request_base(state, &Auth::Public, &origin).await;
    let mut object = user.clone();
    if let Some(t) = token {
        object.insert("sessionToken".into(), Value::from(t));
    }
    let object = with_class(object, "_User");
    if token.is_some() {
        request.insert("user".into(), object.clone());
    }
    request.insert("object".into(), object);
    invoke(state, &engine, kind, "_User", request, &origin).await?;
    Ok(())
}

/// `afterLogout`, with the session that ended.
pub async fn after_logout(state: &AppState, auth: &Auth, session: Map<String, Value>) {
    let Some(engine) = registered(state, Kind::AfterLogout, "_Session") else {
        return;
    };
    let origin = Origin::current();
    let mut request = request_base(state, auth, &origin).await;
    request.insert("object".into(), with_class(session, "_Session"));
    if let Err(e) = invoke(
        state,
        &engine,
        Kind::AfterLogout,
        "_Session",
        request,
        &origin,
    )
    .await
    {
        tracing::warn!(target: "basalt::cloud", "afterLogout failed: {}", e.body());
    }
}

/// The file hooks' name for the files class (`Parse.Cloud.beforeSave(Parse.File, …)`).
const FILES: &str = "@File";

/// What a file's `beforeSave` leaves to store.
#[derive(Debug)]
pub enum FileToSave {
    /// These bytes under this name (the client's, or as the hook changed them).
    Store {
        name: String,
        bytes: Vec<u8>,
        content_type: Option<String>,
    },
    /// A file the hook returned that is already stored: nothing is stored.
    Saved { name: String, url: String },
}

fn file_request(
    mut request: Map<String, Value>,
    file: Value,
    size: Option<usize>,
) -> Map<String, Value> {
    request.insert("file".into(), file);
    request.insert("fileSize".into(), size.map_or(Value::Null, Value::from));
    request
}

/// `beforeSave` of a file upload; `None` when no hook is registered.
pub async fn before_save_file(
    state: &AppState,
    auth: &Auth,
    name: &str,
    bytes: &[u8],
    content_type: &str,
    file_data: Option<&Value>,
) -> ApiResult<Option<FileToSave>> {
    use base64::Engine;
    let Some(engine) = registered(state, Kind::BeforeSave, FILES) else {
        return Ok(None);
    };
    let origin = Origin::current();
    let b64 = base64::engine::general_purpose::STANDARD;
    let field = |k: &str| file_data.and_then(|d| d.get(k)).cloned();
    let file = json!({
        "name": name,
        "base64": b64.encode(bytes),
        "contentType": content_type,
        "metadata": field("metadata"),
        "tags": field("tags"),
    });
    let request = file_request(
        request_base(state, auth, &origin).await,
        file,
        Some(bytes.len()),
    );
    let out = invoke(state, &engine, Kind::BeforeSave, FILES, request, &origin).await?;
    let file = out.get("file").cloned().unwrap_or(Value::Null);
    let text = |k: &str| file.get(k).and_then(Value::as_str).map(str::to_string);
    let name = text("name").unwrap_or_else(|| name.to_string());
    if let Some(url) = text("url") {
        return Ok(Some(FileToSave::Saved { name, url }));
    }
    let bytes = text("base64")
        .and_then(|d| b64.decode(d.trim()).ok())
        .filter(|b| !b.is_empty())
        .ok_or_else(|| ApiError::with_code(130, "Invalid file upload."))?;
    Ok(Some(FileToSave::Store {
        name,
        bytes,
        content_type: text("contentType").filter(|t| !t.is_empty()),
    }))
}

/// `afterSave` of a file upload, once it is stored; its failure is the client's answer (the
/// file stays stored), as in Parse.
pub async fn after_save_file(
    state: &AppState,
    auth: &Auth,
    name: &str,
    url: &str,
    size: Option<usize>,
) -> ApiResult<()> {
    file_hook(state, auth, Kind::AfterSave, name, url, size).await
}

/// `beforeDelete` (which may refuse) or `afterDelete` of `DELETE /files/:name`.
pub async fn delete_file_hook(
    state: &AppState,
    auth: &Auth,
    kind: Kind,
    name: &str,
    url: &str,
) -> ApiResult<()> {
    file_hook(state, auth, kind, name, url, None).await
}

async fn file_hook(
    state: &AppState,
    auth: &Auth,
    kind: Kind,
    name: &str,
    url: &str,
    size: Option<usize>,
) -> ApiResult<()> {
    let Some(engine) = registered(state, kind, FILES) else {
        return Ok(());
    };
    let origin = Origin::current();
    let file = json!({ "name": name, "url": url });
    let request = file_request(request_base(state, auth, &origin).await, file, size);
    invoke(state, &engine, kind, FILES, request, &origin).await?;
    Ok(())
}
