//! Parse's webhooks: functions and triggers served by an outside URL (`/hooks/functions`,
//! `/hooks/triggers`, master key), kept in `_Hooks`. A call POSTs the request Parse would
//! give a cloud-code handler as JSON, with `X-Parse-Webhook-Key: --webhookKey`; the URL answers
//! `{"success": …}` or `{"error": …}`. A webhook takes precedence over cloud code of the same
//! name, as the one registered last does in Parse. Every node reads `_Hooks` again every few
//! seconds, and at once after its own changes.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use basalt_cloud::{InvokeError, Kind};
use serde_json::{Map, Value, json};

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::ids::{ClassName, ObjectId};
use crate::rest::{find, write};
use crate::state::AppState;

const TIMEOUT: Duration = Duration::from_secs(30);
const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// Trigger names a webhook may serve (Parse's `triggers.Types`).
const TRIGGERS: &[&str] = &[
    "beforeSave",
    "afterSave",
    "beforeDelete",
    "afterDelete",
    "beforeFind",
    "afterFind",
    "beforeLogin",
    "afterLogin",
    "afterLogout",
];

#[derive(Default)]
struct Table {
    functions: HashMap<String, String>,
    /// By class, then trigger name: looked up on every request without building a key.
    triggers: HashMap<String, HashMap<String, String>>,
}

pub struct Webhooks {
    table: RwLock<Table>,
    client: reqwest::Client,
    key: Option<String>,
}

impl Webhooks {
    pub fn new(key: Option<String>) -> Result<Webhooks, String> {
        Ok(Webhooks {
            table: RwLock::new(Table::default()),
            client: super::outbound::client(TIMEOUT, reqwest::redirect::Policy::default())?,
            key,
        })
    }

    /// Whether any webhook is registered.
    pub fn any(&self) -> bool {
        self.table
            .read()
            .is_ok_and(|t| !t.functions.is_empty() || !t.triggers.is_empty())
    }

    /// The URL serving `kind` for `name` (a function, or a trigger's class).
    pub fn url(&self, kind: Kind, name: &str) -> Option<String> {
        let t = self.table.read().ok()?;
        match kind {
            Kind::Function => t.functions.get(name).cloned(),
            Kind::Job => None,
            _ => t.triggers.get(name)?.get(kind.as_str()).cloned(),
        }
    }

    /// Calls the webhook and answers in the dispatcher's shape (`{"result"}`, `{"object"}`, `{}`).
    pub async fn call(
        &self,
        url: &str,
        kind: Kind,
        name: &str,
        mut request: Map<String, Value>,
    ) -> Result<Value, InvokeError> {
        let failed = |m: String| InvokeError {
            code: 141,
            message: m,
        };
        match kind {
            Kind::Function => {
                request.insert("functionName".into(), Value::from(name));
            }
            _ => {
                request.insert("triggerName".into(), Value::from(kind.as_str()));
            }
        }
        // A beforeSave hook sees the object with the client's changes applied.
        if let Some(Value::Object(changes)) = request.remove("changes")
            && let Some(Value::Object(object)) = request.get_mut("object")
        {
            for (k, v) in changes {
                match v.get("__op").and_then(Value::as_str) {
                    Some("Delete") => {
                        object.remove(&k);
                    }
                    Some("Increment") => {
                        let by = v.get("amount").and_then(Value::as_f64).unwrap_or(0.0);
                        let now = object.get(&k).and_then(Value::as_f64).unwrap_or(0.0);
                        object.insert(k, json!(now + by));
                    }
                    _ => {
                        object.insert(k, v);
                    }
                }
            }
        }
        let mut req = self
            .client
            .post(url)
            .header("Content-Type", "application/json")
            .body(Value::Object(request).to_string());
        if let Some(key) = &self.key {
            req = req.header("X-Parse-Webhook-Key", key);
        }
        let res = req
            .send()
            .await
            .map_err(|e| failed(format!("webhook {url} failed: {e}")))?;
        let text = res
            .text()
            .await
            .map_err(|e| failed(format!("webhook {url} failed: {e}")))?;
        let body: Value = serde_json::from_str(&text).map_err(|_| InvokeError {
            code: -1,
            message: "Malformed response".into(),
        })?;
        if let Some(err) = body.get("error").filter(|e| !e.is_null()) {
            return Err(match err {
                Value::String(s) => failed(s.clone()),
                Value::Object(o) => InvokeError {
                    code: o.get("code").and_then(Value::as_i64).unwrap_or(141),
                    message: o
                        .get("error")
                        .or(o.get("message"))
                        .and_then(Value::as_str)
                        .unwrap_or("Script failed.")
                        .to_string(),
                },
                other => failed(other.to_string()),
            });
        }
        let success = body.get("success").cloned().unwrap_or(Value::Null);
        Ok(match kind {
            Kind::Function => json!({ "result": success }),
            Kind::BeforeSave => match success {
                Value::Object(mut o) => {
                    for k in ["createdAt", "updatedAt", "className"] {
                        o.remove(k);
                    }
                    json!({ "object": o })
                }
                _ => json!({}),
            },
            _ => json!({}),
        })
    }
}

fn class() -> ApiResult<ClassName> {
    ClassName::parse("_Hooks")
}

fn hook_error(message: impl Into<String>) -> ApiError {
    ApiError::with_code(143, message)
}

/// The stored hooks (`objectId` left out, as Parse lists them).
async fn stored(state: &AppState, filter: Value) -> ApiResult<Vec<(String, Map<String, Value>)>> {
    if state.schemas.get("_Hooks").is_none() {
        return Ok(Vec::new());
    }
    let mut params = Map::new();
    params.insert("where".into(), filter);
    let opts = find::FindOptions::from_params(&params, 10_000)?;
    let rows = find::find(state, &Auth::Master, &class()?, &opts)
        .await?
        .results;
    Ok(rows
        .into_iter()
        .filter_map(|r| match r {
            Value::Object(mut o) => {
                let id = o.remove("objectId")?.as_str()?.to_string();
                for k in ["createdAt", "updatedAt", "ACL"] {
                    o.remove(k);
                }
                Some((id, o))
            }
            _ => None,
        })
        .collect())
}

/// Reads `_Hooks` into the table the hooks are looked up in.
pub async fn reload(state: &AppState) -> ApiResult<()> {
    let rows = stored(state, json!({})).await?;
    let mut table = Table::default();
    for (_, row) in rows {
        match Hook::parse(&Value::Object(row)) {
            Some(Hook::Function { name, url }) => {
                table.functions.insert(name, url);
            }
            Some(Hook::Trigger {
                class,
                trigger,
                url,
            }) => {
                table
                    .triggers
                    .entry(class)
                    .or_default()
                    .insert(trigger, url);
            }
            None => {}
        }
    }
    if let Ok(mut t) = state.webhooks.table.write() {
        *t = table;
    }
    Ok(())
}

/// Keeps this node's table current (other nodes' changes arrive within a few seconds).
pub fn start(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        loop {
            if let Err(e) = reload(&state).await {
                tracing::warn!("cannot read _Hooks: {}", e.body());
            }
            tokio::time::sleep(RELOAD_EVERY).await;
        }
    });
}

/// One hook: a function, or a class's trigger, and the URL that serves it.
enum Hook {
    Function {
        name: String,
        url: String,
    },
    Trigger {
        class: String,
        trigger: String,
        url: String,
    },
}

impl Hook {
    /// Parse's rule: a function name and a URL, or a class, a trigger name Parse knows and a URL.
    fn parse(v: &Value) -> Option<Hook> {
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .filter(|x| !x.is_empty())
                .map(str::to_string)
        };
        let url = s("url")?;
        match (s("functionName"), s("className"), s("triggerName")) {
            (Some(name), _, _) => Some(Hook::Function { name, url }),
            (None, Some(class), Some(trigger)) if TRIGGERS.contains(&trigger.as_str()) => {
                Some(Hook::Trigger {
                    class,
                    trigger,
                    url,
                })
            }
            _ => None,
        }
    }

    /// What the hook is found by in `_Hooks`.
    fn key(&self) -> Value {
        match self {
            Hook::Function { name, .. } => json!({ "functionName": name }),
            Hook::Trigger { class, trigger, .. } => {
                json!({ "className": class, "triggerName": trigger })
            }
        }
    }

    /// The hook as Parse answers and stores it.
    fn json(&self) -> Value {
        let mut v = self.key();
        let url = match self {
            Hook::Function { url, .. } | Hook::Trigger { url, .. } => url,
        };
        v["url"] = Value::from(url.clone());
        v
    }
}

fn invalid() -> ApiError {
    hook_error("invalid hook declaration")
}

fn missing(key: &Value) -> ApiError {
    match key.get("functionName").and_then(Value::as_str) {
        Some(f) => hook_error(format!("no function named: {f} is defined")),
        None => hook_error(format!(
            "class {} does not exist",
            key.get("className").and_then(Value::as_str).unwrap_or("")
        )),
    }
}

/// `POST /hooks/functions`, `POST /hooks/triggers`.
pub async fn create(state: &AppState, body: &Value) -> ApiResult<Value> {
    let hook = Hook::parse(body).ok_or_else(invalid)?;
    if !stored(state, hook.key()).await?.is_empty() {
        return Err(hook_error(match &hook {
            Hook::Function { name, .. } => format!("function name: {name} already exists"),
            Hook::Trigger { class, trigger, .. } => {
                format!("class {class} already has trigger {trigger}")
            }
        }));
    }
    write::create(state, &Auth::Master, &class()?, &hook.json(), None).await?;
    reload(state).await?;
    Ok(hook.json())
}

/// `GET /hooks/functions[/:name]`, `GET /hooks/triggers[/:className/:triggerName]`.
pub async fn get(state: &AppState, key: Option<Value>, functions: bool) -> ApiResult<Value> {
    match key {
        Some(key) => {
            let found = stored(state, key.clone()).await?;
            let (_, h) = found.into_iter().next().ok_or_else(|| missing(&key))?;
            Ok(Value::Object(h))
        }
        None => {
            let filter = if functions {
                json!({ "functionName": { "$exists": true } })
            } else {
                json!({ "className": { "$exists": true }, "triggerName": { "$exists": true } })
            };
            let hooks: Vec<Value> = stored(state, filter)
                .await?
                .into_iter()
                .map(|(_, h)| Value::Object(h))
                .collect();
            Ok(Value::Array(hooks))
        }
    }
}

/// `PUT /hooks/functions/:name` and `/hooks/triggers/:className/:triggerName`: a new `url`, or
/// `{"__op": "Delete"}`.
pub async fn put(state: &AppState, key: Value, body: &Value) -> ApiResult<Value> {
    let found = stored(state, key.clone()).await?;
    if body.get("__op").and_then(Value::as_str) == Some("Delete") {
        for (id, _) in found {
            write::delete(state, &Auth::Master, &class()?, &ObjectId::parse(&id)?).await?;
        }
        reload(state).await?;
        return Ok(json!({}));
    }
    let mut decl = key.clone();
    if let Some(url) = body.get("url") {
        decl["url"] = url.clone();
    }
    let hook = Hook::parse(&decl).ok_or_else(invalid)?;
    let Some((id, _)) = found.into_iter().next() else {
        return Err(missing(&key));
    };
    write::update(
        state,
        &Auth::Master,
        &class()?,
        &ObjectId::parse(&id)?,
        &json!({ "url": hook.json()["url"] }),
        None,
    )
    .await?;
    reload(state).await?;
    Ok(hook.json())
}
