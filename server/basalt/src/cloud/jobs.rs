//! `POST /jobs/:name`: a job runs in the background and records its progress in `_JobStatus`
//! (`running`, then `succeeded` or `failed` with the error as `message`), as Parse does.

use std::sync::Arc;

use basalt_cloud::Kind;
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::{Origin, invoke, registered, request_base};
use crate::auth::Auth;
use crate::error::{ApiError, ApiResult};
use crate::ids::{ClassName, ObjectId};
use crate::rest::write;
use crate::state::AppState;

fn status_class() -> ApiResult<ClassName> {
    ClassName::parse("_JobStatus")
}

fn date(at: chrono::DateTime<Utc>) -> Value {
    json!({"__type": "Date", "iso": basalt_query::value::format_date(&at)})
}

/// Starts job `name` with `params`; answers the `_JobStatus` id at once.
pub async fn start(state: &AppState, name: &str, params: Value, source: &str) -> ApiResult<String> {
    let Some(engine) = registered(state, Kind::Job, name) else {
        return Err(ApiError::with_code(141, "Invalid job."));
    };
    let class = status_class()?;
    // As Parse records it: locked down to the master key.
    let status = json!({
        "jobName": name,
        "source": source,
        "status": "running",
        "ACL": {},
    });
    let created = write::create(state, &Auth::Master, &class, &status, None).await?;
    let id = created.object_id.clone();
    let origin = Origin::current();
    let mut request = request_base(state, &Auth::Master, &origin).await;
    request.insert("params".into(), params);
    request.insert("jobId".into(), Value::from(id.clone()));
    request.insert("jobName".into(), Value::from(name));
    let (state, name, job_id) = (state.clone(), name.to_string(), id.clone());
    // The job outlives the request that started it, but keeps its origin (and depth).
    let job_origin: Arc<Origin> = origin.clone();
    tokio::spawn(job_origin.clone().scope(async move {
        let outcome = invoke(&state, &engine, Kind::Job, &name, request, &job_origin).await;
        let mut update = Map::new();
        update.insert("finishedAt".into(), date(Utc::now()));
        match outcome {
            Ok(out) => {
                update.insert("status".into(), Value::from("succeeded"));
                // A job that resolves to a string leaves it as the status message.
                if let Some(Value::String(m)) = out.get("result") {
                    update.insert("message".into(), Value::from(m.clone()));
                }
            }
            Err(e) => {
                update.insert("status".into(), Value::from("failed"));
                update.insert("message".into(), Value::from(e.message.clone()));
            }
        }
        let Ok(oid) = ObjectId::parse(&job_id) else {
            return;
        };
        let Ok(class) = status_class() else { return };
        if let Err(e) = write::update(
            &state,
            &Auth::Master,
            &class,
            &oid,
            &Value::Object(update),
            None,
        )
        .await
        {
            tracing::error!(job = %name, id = %job_id, "cannot record the job's end: {}", e.body());
        }
    }));
    Ok(id)
}
