//! Replacing cloud code without a restart. `POST /cloud_code/deploy` (master key) takes the
//! files; `--cloudWatch` reloads them when they change on disk; `basalt deploy` sends them.
//! New invocations run the new code; running ones finish on the code they started with. Code
//! that does not load is refused and the running code stays.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use basalt_cloud::{Engine, Packages, Source};
use basalt_query::{Bind, Sql};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::Config;
use crate::error::{ApiError, ApiResult, Code};
use crate::realtime::bus::Invalidation;
use crate::state::AppState;
use crate::storage::{Cell, Col};

/// What a deployed `Source` names as its directory (it has none on this machine).
pub const DEPLOYED: &str = "(deployed)";

/// How often `--cloudWatch` looks at the files.
const WATCH_EVERY: Duration = Duration::from_millis(500);

/// The files as `basalt deploy` sends them: `{"entry": "main.js", "files": {path: text}}`.
pub fn bundle(source: &Source) -> Value {
    json!({ "entry": source.entry, "files": source.files })
}

/// Deployed code requires npm packages from the `node_modules` folders beside the node's own
/// `--cloud` file (a deploy sends the code's own files only).
fn from_bundle(state: &AppState, body: &Value) -> ApiResult<Source> {
    let bad = |m: &str| ApiError::new(Code::InvalidJson, m.to_string());
    let entry = body
        .get("entry")
        .and_then(Value::as_str)
        .unwrap_or("main.js")
        .to_string();
    let files: BTreeMap<String, String> = match body.get("files") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|s| (k.clone(), s.to_string()))
                    .ok_or_else(|| bad("files must map paths to their text"))
            })
            .collect::<ApiResult<_>>()?,
        _ => return Err(bad("files must be an object of path → text")),
    };
    if !files.contains_key(&entry) {
        return Err(bad("entry must name one of the files"));
    }
    if files
        .keys()
        .any(|p| p.starts_with('/') || p.split('/').any(|s| s == ".."))
    {
        return Err(bad(
            "file paths must be relative and stay inside the code's folder",
        ));
    }
    let source = Source::new(entry, PathBuf::from(DEPLOYED), files);
    Ok(match state.config.cloud.as_deref().and_then(Path::parent) {
        Some(dir) => source.with_packages(Packages::beside(dir)),
        None => source,
    })
}

/// What is now deployed.
fn summary(engine: &Engine) -> Value {
    let r = engine.registry();
    json!({
        "version": format!("{:016x}", engine.version()),
        "functions": r.functions,
        "jobs": r.jobs,
        "triggers": r.triggers(),
    })
}

/// Loads `source` as the code new invocations run; starts the engine if there was none.
pub async fn install(state: &AppState, source: Source) -> Result<Value, String> {
    if let Some(engine) = state.cloud.get() {
        engine.deploy(source).await?;
        return Ok(summary(engine));
    }
    super::start_with(state, source).await?;
    let engine = state
        .cloud
        .get()
        .ok_or_else(|| "cloud code did not start".to_string())?;
    Ok(summary(engine))
}

/// Deploys kept in `_basalt_cloud_code` beyond the newest (older ones are deleted).
const KEEP_DEPLOYS: i64 = 10;

/// `POST /cloud_code/deploy`: loads the code here, then keeps it and tells the other nodes.
pub async fn deploy(state: &AppState, body: &Value) -> ApiResult<Value> {
    let source = from_bundle(state, body)?;
    let version = source.version;
    let bundle = bundle(&source);
    let out = install(state, source)
        .await
        .map_err(|e| ApiError::with_code(141, format!("cloud code not deployed: {e}")))?;
    let id = keep(state, version, &bundle).await?;
    state.realtime.invalidate(Invalidation::CloudCode(id));
    tracing::info!(version = %format!("{version:016x}"), "cloud code deployed");
    Ok(out)
}

async fn keep(state: &AppState, version: u64, bundle: &Value) -> ApiResult<i64> {
    let dialect = state.storage.dialect();
    let mut sql = Sql::new(dialect);
    sql.push("INSERT INTO \"_basalt_cloud_code\" (version, bundle, deployed_at) VALUES (");
    sql.bind(Bind::Text(format!("{version:016x}")));
    sql.push(", ");
    sql.bind(Bind::Text(bundle.to_string()));
    sql.push(", ");
    sql.bind(Bind::Int(chrono::Utc::now().timestamp_millis()));
    sql.push(") RETURNING id");
    let rows = state.storage.write_fetch(&sql, &[Col::Int]).await?;
    let Some(&Cell::Int(id)) = rows.first().and_then(|r| r.first()) else {
        return Err(ApiError::internal("the deploy was not stored"));
    };
    let mut old = Sql::new(dialect);
    old.push("DELETE FROM \"_basalt_cloud_code\" WHERE id <= ");
    old.bind(Bind::Int(id - KEEP_DEPLOYS));
    if let Err(e) = state.storage.execute(&old).await {
        tracing::warn!("cannot delete old cloud-code deploys: {e}");
    }
    Ok(id)
}

/// A kept deploy: its id, when it was made (ms since the epoch) and its code.
pub struct Kept {
    pub id: i64,
    pub deployed_at: i64,
    pub source: Source,
}

/// The deploy with `id`, or the newest when `None`.
pub async fn kept(state: &AppState, id: Option<i64>) -> Result<Option<Kept>, String> {
    let mut sql = Sql::new(state.storage.dialect());
    sql.push("SELECT id, deployed_at, bundle FROM \"_basalt_cloud_code\"");
    if let Some(id) = id {
        sql.push(" WHERE id = ");
        sql.bind(Bind::Int(id));
    }
    sql.push(" ORDER BY id DESC LIMIT 1");
    let rows = state
        .storage
        .fetch(&sql, &[Col::Int, Col::Int, Col::Text])
        .await
        .map_err(|e| format!("cannot read the deployed cloud code: {e}"))?;
    let Some([Cell::Int(id), Cell::Int(at), Cell::Text(bundle)]) = rows.first().map(Vec::as_slice)
    else {
        return Ok(None);
    };
    let body: Value =
        serde_json::from_str(bundle).map_err(|e| format!("deploy {id} is not a bundle: {e}"))?;
    let source = from_bundle(state, &body).map_err(|e| format!("deploy {id}: {}", e.message))?;
    Ok(Some(Kept {
        id: *id,
        deployed_at: *at,
        source,
    }))
}

/// Another node deployed: run what it kept.
pub async fn follow(state: &AppState, id: i64) {
    match kept(state, Some(id)).await {
        Ok(Some(k)) => match install(state, k.source).await {
            Ok(s) => tracing::info!(version = %s["version"], "cloud code deployed on another node"),
            Err(e) => {
                tracing::error!("cloud code deployed on another node does not load here: {e}")
            }
        },
        Ok(None) => tracing::warn!(id, "a cloud-code deploy is gone"),
        Err(e) => tracing::error!("{e}"),
    }
}

/// At start: the code to run, given what `--cloud` names (if anything) and the newest deploy.
/// The deploy wins unless the files changed after it.
pub async fn at_start(state: &AppState, files: Option<Source>) -> Result<Option<Source>, String> {
    let Some(k) = kept(state, None).await? else {
        return Ok(files);
    };
    let newer_files = |path: &std::path::Path| {
        basalt_cloud::last_changed(path)
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .is_some_and(|t| t.as_millis() as i64 > k.deployed_at)
    };
    match (files, state.config.cloud.as_deref()) {
        (Some(f), Some(path)) if newer_files(path) => Ok(Some(f)),
        _ => {
            tracing::info!(
                deploy = k.id,
                version = %format!("{:016x}", k.source.version),
                "running the deployed cloud code"
            );
            Ok(Some(k.source))
        }
    }
}

/// `--cloudWatch`: reloads `--cloud` whenever its files change.
pub fn watch(state: &AppState) {
    let (Some(path), true) = (state.config.cloud.clone(), state.config.cloud_watch) else {
        return;
    };
    let state = state.clone();
    tokio::spawn(async move {
        let mut seen = basalt_cloud::fingerprint(&path);
        loop {
            tokio::time::sleep(WATCH_EVERY).await;
            let now = basalt_cloud::fingerprint(&path);
            if now == seen {
                continue;
            }
            seen = now;
            let loaded = Source::load(&path);
            match loaded {
                Ok(source) => match install(&state, source).await {
                    Ok(s) => {
                        tracing::info!(version = %s["version"], "cloud code reloaded from {}", path.display())
                    }
                    Err(e) => {
                        tracing::error!("cloud code not reloaded (the running code stays): {e}")
                    }
                },
                Err(e) => tracing::error!("cloud code not reloaded (the running code stays): {e}"),
            }
        }
    });
}

/// `basalt deploy`: sends `--cloud`'s files to the server at `--serverURL` with the master key,
/// and answers what it now runs. Plain `http://` (run it where the server is, or through a
/// tunnel); the body is `bundle`'s JSON, so `curl` can send the same.
pub async fn push(config: &Config) -> Result<String, String> {
    let path = config
        .cloud
        .as_ref()
        .ok_or("basalt deploy: name the code with --cloud (no ./cloud-code/main.js here)")?;
    let source = Source::load(path)?;
    let body = bundle(&source).to_string();
    let url = format!(
        "{}/cloud_code/deploy",
        config.server_url.trim_end_matches('/')
    );
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("basalt deploy speaks plain http://; {url} is not"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let request = format!(
        "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         X-Parse-Application-Id: {}\r\nX-Parse-Master-Key: {}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        config.app_id,
        config.master_key,
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let answer = String::from_utf8_lossy(&answer);
    let (head, text) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let ok = head
        .split_whitespace()
        .nth(1)
        .is_some_and(|status| status == "200");
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!(
            "{url}: {}",
            if text.is_empty() { head } else { text }
        ))
    }
}
