//! Files: `POST /files/:name` stores the bytes in `_Files` under a unique name, and
//! `GET /files/:appId/:name` serves them. Objects refer to a file by name; its URL is derived.
//!
//! As in Parse Server 9, uploads by the public are off; the master key may upload (users, who
//! may by default, come with issue 3).

use basalt_cloud::Kind;
use basalt_query::{Bind, Sql};
use base64::Engine;
use serde_json::{Value, json};

use crate::auth::Auth;
use crate::cloud::triggers::{self, FileToSave};
use crate::error::{ApiError, ApiResult};
use crate::ids::random_token;
use crate::state::AppState;
use crate::storage::{Cell, Col};

const MAX_NAME: usize = 128;

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    !name.is_empty()
        && name.len() <= MAX_NAME
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "@. ~_-".contains(c))
}

pub struct Upload {
    pub name: String,
    pub url: String,
}

/// Stores an upload: a JSON body `{base64, _ContentType}` (the JS SDK) or raw bytes.
pub async fn upload(
    state: &AppState,
    auth: &Auth,
    name: &str,
    body: Option<&Value>,
    raw: &[u8],
    content_type: Option<&str>,
) -> ApiResult<Upload> {
    // Parse 9's default: logged-in users and the master key upload, the public does not.
    auth.check_writable("create")?;
    if !auth.is_master() && auth.user().is_none() {
        return Err(ApiError::with_code(
            130,
            "File upload by public is disabled.",
        ));
    }
    if !valid_name(name) {
        return Err(ApiError::with_code(
            122,
            "Filename contains invalid characters.",
        ));
    }
    let (bytes, ctype) = match body.and_then(|b| b.get("base64")).and_then(Value::as_str) {
        Some(b64) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| ApiError::with_code(130, "Invalid base64 file data."))?;
            let ctype = body
                .and_then(|b| b.get("_ContentType"))
                .and_then(Value::as_str)
                .map(str::to_string);
            (bytes, ctype)
        }
        None => (raw.to_vec(), content_type.map(str::to_string)),
    };
    if bytes.is_empty() {
        return Err(ApiError::with_code(130, "Invalid file upload."));
    }
    let ctype = ctype
        .filter(|c| !c.is_empty() && c != "text/plain;charset=UTF-8")
        .unwrap_or_else(|| guess_type(name).to_string());
    let file_data = body.and_then(|b| b.get("fileData"));
    let hooked = triggers::before_save_file(state, auth, name, &bytes, &ctype, file_data).await?;
    let (name, bytes, ctype) = match hooked {
        None => (name.to_string(), bytes, ctype),
        Some(FileToSave::Store {
            name: new_name,
            bytes,
            content_type,
        }) => {
            if !valid_name(&new_name) {
                return Err(ApiError::with_code(
                    122,
                    "Filename contains invalid characters.",
                ));
            }
            let ctype = content_type.unwrap_or_else(|| guess_type(&new_name).to_string());
            (new_name, bytes, ctype)
        }
        Some(FileToSave::Saved { name, url }) => {
            // Its size is not known here (Parse's fileSize is null too).
            triggers::after_save_file(state, auth, &name, &url, None).await?;
            return Ok(Upload { name, url });
        }
    };
    let size = bytes.len();
    let stored = format!("{}_{name}", random_token(32).to_ascii_lowercase());
    let mut sql = Sql::new(state.storage.dialect());
    sql.push(
        "INSERT INTO \"_Files\" (\"name\", \"contentType\", \"data\", \"createdAt\") VALUES (",
    );
    sql.bind(Bind::Text(stored.clone()));
    sql.push(", ");
    sql.bind(Bind::Text(ctype));
    sql.push(", ");
    sql.bind(Bind::Bytes(bytes));
    sql.push(", ");
    sql.bind(Bind::Date(chrono::Utc::now()));
    sql.push(")");
    state.storage.execute(&sql).await?;
    let url = format!("{}/{stored}", state.files_base());
    triggers::after_save_file(state, auth, &stored, &url, Some(size)).await?;
    Ok(Upload { url, name: stored })
}

impl Upload {
    pub fn body(&self) -> Value {
        json!({ "url": self.url, "name": self.name })
    }
}

/// The bytes and content type of a stored file.
pub async fn download(state: &AppState, name: &str) -> ApiResult<(Vec<u8>, String)> {
    let mut sql = Sql::new(state.storage.dialect());
    sql.push("SELECT \"data\", \"contentType\" FROM \"_Files\" WHERE \"name\" = ");
    sql.bind(Bind::Text(name.to_string()));
    let row = state
        .storage
        .fetch(&sql, &[Col::Bytes, Col::Text])
        .await?
        .into_iter()
        .next()
        .ok_or_else(ApiError::not_found)?;
    let mut it = row.into_iter();
    match (it.next(), it.next()) {
        (Some(Cell::Bytes(b)), Some(Cell::Text(t))) => Ok((b, t)),
        _ => Err(ApiError::not_found()),
    }
}

/// `DELETE /files/:name` (master key), between the file's `beforeDelete` and `afterDelete`.
pub async fn delete(state: &AppState, auth: &Auth, name: &str) -> ApiResult<()> {
    let url = format!("{}/{name}", state.files_base());
    triggers::delete_file_hook(state, auth, Kind::BeforeDelete, name, &url).await?;
    let mut sql = Sql::new(state.storage.dialect());
    sql.push("DELETE FROM \"_Files\" WHERE \"name\" = ");
    sql.bind(Bind::Text(name.to_string()));
    if state.storage.execute(&sql).await? == 0 {
        return Err(ApiError::with_code(153, "Could not delete file."));
    }
    triggers::delete_file_hook(state, auth, Kind::AfterDelete, name, &url).await
}

fn guess_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" => "text/plain",
        "html" | "htm" => "text/html",
        "json" => "application/json",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}
