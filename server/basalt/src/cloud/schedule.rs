//! Scheduled jobs: cron schedules from `--jobSchedules`, and the schedules Parse Dashboard
//! keeps in `_JobSchedule` (run once at `startAfter`, every `repeatMinutes`, or daily at
//! `timeOfDay` on `daysOfWeek`). Every node runs the scheduler; a due run is claimed by
//! inserting (schedule, due time) into `_basalt_job_runs`, so it runs once across all nodes.
//! Due times up to a minute old are still run (a schedule saved just now, a node that was
//! busy), but none from before the node started: what every node missed while down is
//! skipped, as cron skips it.

use std::collections::HashSet;
use std::time::Duration as StdDuration;

use basalt_cloud::Kind;
use basalt_query::{Bind, Sql};
use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use serde_json::{Map, Value};

use super::cron::Cron;
use crate::auth::Auth;
use crate::error::ApiResult;
use crate::ids::ClassName;
use crate::state::AppState;

const TICK: StdDuration = StdDuration::from_secs(1);
/// How often `_JobSchedule` is read again (a Dashboard edit is seen within this).
const RELOAD_EVERY: u32 = 5;
const GRACE: i64 = 60;
/// Claims older than this are deleted (they can no longer be due).
const KEEP_CLAIMS: i64 = 3600;

/// A `--jobSchedules` entry: `{"job": "name", "cron": "*/5 * * * *", "params": {…}}`.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Configured {
    pub job: String,
    pub cron: String,
    #[serde(default)]
    pub params: Map<String, Value>,
}

#[derive(Debug, Clone)]
enum Rule {
    Cron(Cron),
    Once(DateTime<Utc>),
    Every {
        start: DateTime<Utc>,
        minutes: i64,
    },
    Daily {
        start: DateTime<Utc>,
        at: NaiveTime,
        /// Bit n set: runs on day n (0 = Sunday); 0: every day.
        days: u8,
    },
}

#[derive(Debug, Clone)]
struct Schedule {
    key: String,
    job: String,
    params: Value,
    rule: Rule,
}

impl Schedule {
    /// Due times in `(after, until]`.
    fn due(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let within = |t: &DateTime<Utc>| *t > after && *t <= until;
        match &self.rule {
            Rule::Cron(c) => c.due(after, until, 64),
            Rule::Once(t) => within(t).then_some(*t).into_iter().collect(),
            Rule::Every { start, minutes } => {
                let step = Duration::minutes((*minutes).max(1));
                let from = if after < *start {
                    *start
                } else {
                    let n = (after - *start).num_seconds() / step.num_seconds() + 1;
                    *start + step * i32::try_from(n).unwrap_or(i32::MAX)
                };
                (from <= until && within(&from))
                    .then_some(from)
                    .into_iter()
                    .collect()
            }
            Rule::Daily { start, at, days } => {
                let mut out = Vec::new();
                let mut day = after.date_naive();
                while day <= until.date_naive() {
                    let t = Utc.from_utc_datetime(&day.and_time(*at));
                    let weekday = chrono::Datelike::weekday(&t).num_days_from_sunday();
                    if t >= *start && within(&t) && (*days == 0 || days & (1 << weekday) != 0) {
                        out.push(t);
                    }
                    match day.succ_opt() {
                        Some(next) => day = next,
                        None => break,
                    }
                }
                out
            }
        }
    }
}

fn configured(state: &AppState) -> Vec<Schedule> {
    state
        .config
        .job_schedules
        .iter()
        .filter_map(|c| {
            Some(Schedule {
                key: format!("config:{}:{}", c.job, c.cron),
                job: c.job.clone(),
                params: Value::Object(c.params.clone()),
                rule: Rule::Cron(Cron::parse(&c.cron).ok()?),
            })
        })
        .collect()
}

fn date_of(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let s = match v? {
        Value::String(s) => s.as_str(),
        Value::Object(o) => o.get("iso")?.as_str()?,
        _ => return None,
    };
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// A Dashboard schedule as its row describes it.
fn from_row(row: &Value) -> Option<Schedule> {
    let id = row.get("objectId")?.as_str()?;
    let job = row.get("jobName")?.as_str()?.to_string();
    let params = match row.get("params") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or(Value::Null),
        Some(v @ Value::Object(_)) => v.clone(),
        _ => Value::Null,
    };
    let params = if params.is_object() {
        params
    } else {
        Value::Object(Map::new())
    };
    let start = date_of(row.get("startAfter")).unwrap_or_else(Utc::now);
    let minutes = row
        .get("repeatMinutes")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let time_of_day = row.get("timeOfDay").and_then(Value::as_str).and_then(|t| {
        let t = t.trim_end_matches('Z');
        ["%H:%M:%S%.f", "%H:%M:%S", "%H:%M"]
            .iter()
            .find_map(|f| NaiveTime::parse_from_str(t, f).ok())
    });
    let rule = if minutes >= 1.0 {
        Rule::Every {
            start,
            minutes: minutes as i64,
        }
    } else if let Some(at) = time_of_day {
        let days = match row.get("daysOfWeek") {
            Some(Value::Array(a)) if a.iter().all(Value::is_boolean) => a
                .iter()
                .enumerate()
                .filter(|(i, v)| *i < 7 && v.as_bool() == Some(true))
                .fold(0u8, |m, (i, _)| m | (1 << i)),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_u64)
                .filter(|d| *d < 7)
                .fold(0u8, |m, d| m | (1 << d)),
            _ => 0,
        };
        Rule::Daily { start, at, days }
    } else {
        Rule::Once(start)
    };
    Some(Schedule {
        key: format!("schedule:{id}"),
        job,
        params,
        rule,
    })
}

/// The Dashboard's `_JobSchedule` rows, as the master key reads them (none before the class
/// exists). Also what `/cloud_code/jobs` lists.
pub async fn rows(state: &AppState) -> ApiResult<Vec<Value>> {
    if state.schemas.get("_JobSchedule").is_none() {
        return Ok(Vec::new());
    }
    let opts = crate::rest::find::FindOptions::from_params(&Map::new(), state.config.max_limit)?;
    let class = ClassName::parse("_JobSchedule")?;
    Ok(crate::rest::find::find(state, &Auth::Master, &class, &opts)
        .await?
        .results)
}

async fn dashboard_schedules(state: &AppState) -> Vec<Schedule> {
    match rows(state).await {
        Ok(rows) => rows.iter().filter_map(from_row).collect(),
        Err(e) => {
            tracing::warn!("cannot read _JobSchedule: {}", e.body());
            Vec::new()
        }
    }
}

/// Claims the run of `key` due at `due`; true when this node won it.
async fn claim(state: &AppState, key: &str, due: DateTime<Utc>) -> bool {
    let mut sql = Sql::new(state.storage.dialect());
    sql.push("INSERT INTO \"_basalt_job_runs\" (schedule, due_at) VALUES (");
    sql.bind(Bind::Text(key.to_string()));
    sql.push(", ");
    sql.bind(Bind::Int(due.timestamp()));
    sql.push(") ON CONFLICT DO NOTHING");
    match state.storage.execute(&sql).await {
        Ok(n) => n == 1,
        Err(e) => {
            tracing::warn!("cannot claim the scheduled run of {key}: {e}");
            false
        }
    }
}

async fn forget_old_claims(state: &AppState) {
    let mut sql = Sql::new(state.storage.dialect());
    sql.push("DELETE FROM \"_basalt_job_runs\" WHERE due_at < ");
    sql.bind(Bind::Int(Utc::now().timestamp() - KEEP_CLAIMS));
    if let Err(e) = state.storage.execute(&sql).await {
        tracing::warn!("cannot delete old job claims: {e}");
    }
}

/// Starts this node's scheduler (when cloud code is loaded).
pub fn start(state: &AppState) {
    if state.cloud.get().is_none() {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        let mut tried: HashSet<(String, i64)> = HashSet::new();
        let mut dashboard = Vec::new();
        let mut ticks = 0u32;
        let mut interval = tokio::time::interval(TICK);
        let configured = configured(&state);
        // Nothing due before this node started is run by it (cron does not catch up either).
        let started = Utc::now();
        loop {
            interval.tick().await;
            if ticks.is_multiple_of(RELOAD_EVERY) {
                dashboard = dashboard_schedules(&state).await;
            }
            if ticks.is_multiple_of(600) {
                forget_old_claims(&state).await;
            }
            ticks = ticks.wrapping_add(1);
            let now = Utc::now();
            let since = (now - Duration::seconds(GRACE)).max(started);
            tried.retain(|(_, due)| *due > since.timestamp());
            for s in configured.iter().chain(dashboard.iter()) {
                for due in s.due(since, now) {
                    if !tried.insert((s.key.clone(), due.timestamp())) {
                        continue;
                    }
                    if super::registered(&state, Kind::Job, &s.job).is_none() {
                        tracing::warn!(job = %s.job, "a schedule names a job that is not deployed");
                        continue;
                    }
                    if !claim(&state, &s.key, due).await {
                        continue;
                    }
                    tracing::info!(job = %s.job, schedule = %s.key, due = %due, "scheduled job starts");
                    if let Err(e) =
                        super::jobs::start(&state, &s.job, s.params.clone(), "schedule").await
                    {
                        tracing::warn!(job = %s.job, "scheduled job did not start: {}", e.body());
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn dashboard_rules() {
        let once = from_row(
            &json!({"objectId": "a", "jobName": "j", "startAfter": "2026-11-24T10:00:00.000Z"}),
        )
        .unwrap();
        assert_eq!(
            once.due(at("2026-11-24T09:59:30Z"), at("2026-11-24T10:00:30Z")),
            vec![at("2026-11-24T10:00:00Z")]
        );
        assert!(
            once.due(at("2026-11-24T10:00:00Z"), at("2026-11-24T10:01:00Z"))
                .is_empty()
        );

        let every = from_row(
            &json!({"objectId": "b", "jobName": "j", "params": "{\"x\":1}",
            "startAfter": "2026-11-24T10:00:00.000Z", "repeatMinutes": 15}),
        )
        .unwrap();
        assert_eq!(every.params, json!({"x": 1}));
        assert_eq!(
            every.due(at("2026-11-24T10:29:30Z"), at("2026-11-24T10:30:30Z")),
            vec![at("2026-11-24T10:30:00Z")]
        );
        assert!(
            every
                .due(at("2026-11-24T10:31:00Z"), at("2026-11-24T10:32:00Z"))
                .is_empty()
        );

        // Daily at 07:30 on Mondays and Wednesdays (2026-11-23 is a Monday).
        let daily = from_row(
            &json!({"objectId": "c", "jobName": "j", "startAfter": "2026-11-01T00:00:00.000Z",
            "timeOfDay": "07:30:00.000Z", "daysOfWeek": [1, 3]}),
        )
        .unwrap();
        assert_eq!(
            daily.due(at("2026-11-23T07:29:00Z"), at("2026-11-23T07:31:00Z")),
            vec![at("2026-11-23T07:30:00Z")]
        );
        assert!(
            daily
                .due(at("2026-11-24T07:29:00Z"), at("2026-11-24T07:31:00Z"))
                .is_empty(),
            "a Tuesday"
        );
    }
}
