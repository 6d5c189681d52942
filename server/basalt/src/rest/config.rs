//! `/config`: the app's global parameters, one row in `_GlobalConfig`. Parameters flagged
//! `masterKeyOnly` are hidden from everyone but the master key.

use basalt_query::{Bind, Sql};
use serde_json::{Map, Value, json};

use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::storage::{Cell, Col};

const ROW_ID: &str = "1";

async fn load(state: &AppState) -> ApiResult<(Map<String, Value>, Map<String, Value>)> {
    let mut sql = Sql::new(state.storage.dialect());
    sql.push("SELECT \"params\", \"masterKeyOnly\" FROM \"_GlobalConfig\" WHERE \"objectId\" = ");
    sql.bind(Bind::Text(ROW_ID.into()));
    let row = state
        .storage
        .fetch(&sql, &[Col::Json, Col::Json])
        .await?
        .into_iter()
        .next();
    let obj = |c: Option<Cell>| match c {
        Some(Cell::Json(Value::Object(m))) => m,
        _ => Map::new(),
    };
    Ok(match row {
        Some(r) => {
            let mut it = r.into_iter();
            (obj(it.next()), obj(it.next()))
        }
        None => (Map::new(), Map::new()),
    })
}

/// `GET /config`.
pub async fn get(state: &AppState, auth: &Auth) -> ApiResult<Value> {
    let (mut params, mut master_only) = load(state).await?;
    if !auth.reads_everything() {
        master_only.retain(|k, v| {
            let hidden = v.as_bool() == Some(true);
            if hidden {
                params.remove(k);
            }
            !hidden
        });
    }
    let mut out = json!({ "params": params });
    if !master_only.is_empty() {
        out["masterKeyOnly"] = Value::Object(master_only);
    }
    Ok(out)
}

/// `PUT /config` (master key): merges `params`; `{"__op":"Delete"}` removes one.
pub async fn update(state: &AppState, body: &Value) -> ApiResult<Value> {
    let updates = body
        .get("params")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::invalid_json("params must be an object"))?;
    let flags = body.get("masterKeyOnly").and_then(Value::as_object);
    let mut tx = state.storage.begin().await?;
    let (mut params, mut master_only) = load(state).await?;
    for (k, v) in updates {
        if v.get("__op").and_then(Value::as_str) == Some("Delete") {
            params.remove(k);
        } else {
            params.insert(k.clone(), v.clone());
            let flag = flags
                .and_then(|f| f.get(k))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            master_only.insert(k.clone(), Value::Bool(flag));
        }
    }
    if let Some(flags) = flags {
        for (k, v) in flags {
            if let Some(b) = v.as_bool() {
                master_only.insert(k.clone(), Value::Bool(b));
            }
        }
    }
    let mut sql = Sql::new(tx.dialect());
    sql.push(
        "INSERT INTO \"_GlobalConfig\" (\"objectId\", \"params\", \"masterKeyOnly\") VALUES (",
    );
    sql.bind(Bind::Text(ROW_ID.into()));
    sql.push(", ");
    sql.bind(Bind::Json(Value::Object(params)));
    sql.push(", ");
    sql.bind(Bind::Json(Value::Object(master_only)));
    sql.push(") ON CONFLICT (\"objectId\") DO UPDATE SET \"params\" = excluded.\"params\", \"masterKeyOnly\" = excluded.\"masterKeyOnly\"");
    tx.execute(&sql).await?;
    tx.commit().await?;
    Ok(json!({ "result": true }))
}
