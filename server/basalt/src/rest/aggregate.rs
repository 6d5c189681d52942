//! `/aggregate/:className` (master key): a `pipeline` of stages, or `distinct` with `where`.
//! Grouped rows come back as `{objectId: <group key>, <accumulators>…}`, as in Parse.

use basalt_query::aggregate::{self, Pipeline};
use basalt_query::{Filter, Sql};
use serde_json::{Map, Value, json};

use super::codec::{Projection, decode};
use super::json_param;
use crate::error::ApiResult;
use crate::ids::ClassName;
use crate::state::AppState;
use crate::storage::Col;

pub async fn aggregate(
    state: &AppState,
    class: &ClassName,
    params: &Map<String, Value>,
) -> ApiResult<Value> {
    let mut retries = 0;
    loop {
        match aggregate_once(state, class, params).await {
            // As `find`: a field or class deleted meanwhile; read the schema again, ask again.
            Err(e) if e.is_stale() => state.schemas.again(&state.storage, &mut retries, e).await?,
            r => return r,
        }
    }
}

async fn aggregate_once(
    state: &AppState,
    class: &ClassName,
    params: &Map<String, Value>,
) -> ApiResult<Value> {
    let Some(schema) = state.schemas.get(class.as_str()) else {
        return Ok(json!({ "results": [] }));
    };
    let dialect = state.storage.dialect();
    if let Some(field) = params.get("distinct").and_then(Value::as_str) {
        let filter = match json_param(params, "where")? {
            Some(w) => Filter::parse(&w)?,
            None => Filter::All,
        };
        let Some((sql, ty)) =
            aggregate::distinct(dialect, &state.schemas, &schema, field, &filter)?
        else {
            return Ok(json!({ "results": [] }));
        };
        let col = ty.column().map(Col::from).unwrap_or(Col::Json);
        let rows = state.storage.fetch(&sql, &[col]).await?;
        let results: Vec<Value> = rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().and_then(|c| decode(&ty, c)))
            .collect();
        return Ok(json!({ "results": results }));
    }
    let pipeline = Pipeline::parse(&json_param(params, "pipeline")?.unwrap_or_else(|| json!([])))?;
    let (sql, output) = pipeline.compile(dialect, &state.schemas, &schema)?;
    let mut results = if pipeline.groups() {
        groups(state, &sql, &output).await?
    } else {
        let projection = Projection::new(&state.files_base(), &output, None, &[]);
        let rows = state.storage.fetch(&sql, &projection.cols()).await?;
        rows.into_iter()
            .map(|r| projection.object(r, true))
            .collect()
    };
    if let Some(project) = &pipeline.project {
        let keeps = project.values().any(|k| *k);
        for row in &mut results {
            row.retain(|k, _| match project.get(k) {
                Some(keep) => *keep,
                None => k == "objectId" || !keeps,
            });
        }
    }
    Ok(json!({ "results": results.into_iter().map(Value::Object).collect::<Vec<_>>() }))
}

/// Decodes group rows: every output column, with a null group key kept as `null`.
async fn groups(
    state: &AppState,
    sql: &Sql,
    output: &basalt_query::ClassSchema,
) -> ApiResult<Vec<Map<String, Value>>> {
    let fields: Vec<_> = output
        .fields
        .iter()
        .filter(|(_, t)| t.column().is_some())
        .collect();
    let cols: Vec<Col> = fields
        .iter()
        .filter_map(|(_, t)| t.column().map(Col::from))
        .collect();
    let rows = state.storage.fetch(sql, &cols).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            fields
                .iter()
                .zip(row)
                .map(|((name, ty), cell)| {
                    ((*name).clone(), decode(ty, cell).unwrap_or(Value::Null))
                })
                .collect()
        })
        .collect())
}
