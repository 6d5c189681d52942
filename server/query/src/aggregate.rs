//! `/aggregate` pipelines → SQL. Stages fold into SELECT levels — a level is
//! `SELECT … FROM (inner) t0 WHERE … GROUP BY … ORDER BY … LIMIT … OFFSET …` — and a stage that
//! cannot join the current level (a `$match` after a `$limit`, a second `$group`) starts a new
//! level over it. Each level's output is described by a [`ClassSchema`], so `$match` and `$sort`
//! after a `$group` compile against the group's columns like any other class.
//!
//! Aggregation is master-key only in Parse, so no ACL condition is injected.

use indexmap::IndexMap;
use serde_json::Value;

use crate::compile::{Compiler, SchemaSource};
use crate::dialect::{Bind, Dialect, Sql};
use crate::error::{QueryError, Result};
use crate::filter::{Filter, KeyPath};
use crate::schema::{ClassSchema, ColumnKind, FieldType};

/// One accumulator of a `$group`.
#[derive(Debug, Clone, PartialEq)]
pub enum Acc {
    Count,
    Sum(String),
    Avg(String),
    Min(String),
    Max(String),
}

#[derive(Debug, Clone, PartialEq)]
struct Group {
    /// The field grouped by (`"$field"`), or None for `_id: null`.
    key: Option<String>,
    accs: Vec<(String, Acc)>,
}

#[derive(Debug, Clone, Default)]
struct Level {
    filters: Vec<Filter>,
    group: Option<Group>,
    order: Option<String>,
    skip: u64,
    limit: Option<u64>,
}

impl Level {
    fn is_empty(&self) -> bool {
        self.filters.is_empty()
            && self.group.is_none()
            && self.order.is_none()
            && self.skip == 0
            && self.limit.is_none()
    }
}

/// The level a stage goes into: the current one, or (`new`) a fresh one over it.
fn level_for(levels: &mut Vec<Level>, new: bool) -> &mut Level {
    if new || levels.is_empty() {
        levels.push(Level::default());
    }
    let last = levels.len() - 1;
    &mut levels[last]
}

/// A parsed pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    levels: Vec<Level>,
    /// `$project`: fields kept (true) or dropped (false), applied to the output rows.
    pub project: Option<IndexMap<String, bool>>,
}

fn bad(msg: impl Into<String>) -> QueryError {
    QueryError::invalid_query(msg)
}

fn field_ref(v: &Value, stage: &str) -> Result<String> {
    match v.as_str().and_then(|s| s.strip_prefix('$')) {
        Some(f) if crate::schema::is_valid_field_name(f) => Ok(f.to_string()),
        _ => Err(bad(format!("Invalid field reference in {stage}: {v}"))),
    }
}

fn parse_group(spec: &Value) -> Result<Group> {
    let obj = spec
        .as_object()
        .ok_or_else(|| bad("$group must be an object"))?;
    if obj.contains_key("objectId") {
        return Err(bad("Cannot use 'objectId' in aggregation stage $group."));
    }
    let key = match obj.get("_id") {
        None => return Err(bad("$group needs an _id")),
        Some(Value::Null) => None,
        Some(v @ Value::String(_)) => Some(field_ref(v, "$group")?),
        Some(_) => return Err(bad("$group _id must be null or a \"$field\" reference")),
    };
    let mut accs = Vec::new();
    for (name, acc) in obj {
        if name == "_id" {
            continue;
        }
        if !crate::schema::is_valid_field_name(name) {
            return Err(QueryError::invalid_key(name));
        }
        let (op, arg) = acc
            .as_object()
            .filter(|o| o.len() == 1)
            .and_then(|o| o.iter().next())
            .ok_or_else(|| bad(format!("The field '{name}' must be an accumulator object")))?;
        let a = match (op.as_str(), arg) {
            ("$sum", Value::Number(n)) if n.as_f64() == Some(1.0) => Acc::Count,
            ("$sum", v) => Acc::Sum(field_ref(v, "$sum")?),
            ("$avg", v) => Acc::Avg(field_ref(v, "$avg")?),
            ("$min", v) => Acc::Min(field_ref(v, "$min")?),
            ("$max", v) => Acc::Max(field_ref(v, "$max")?),
            (other, _) => return Err(bad(format!("unknown group operator {other}"))),
        };
        accs.push((name.clone(), a));
    }
    Ok(Group { key, accs })
}

fn parse_sort(spec: &Value) -> Result<String> {
    let obj = spec
        .as_object()
        .filter(|o| !o.is_empty())
        .ok_or_else(|| bad("$sort must be an object"))?;
    let mut keys = Vec::new();
    for (k, dir) in obj {
        let k = if k == "_id" { "objectId" } else { k.as_str() };
        match dir.as_i64() {
            Some(1) => keys.push(k.to_string()),
            Some(-1) => keys.push(format!("-{k}")),
            _ => return Err(bad(format!("Invalid $sort direction for {k}"))),
        }
    }
    Ok(keys.join(","))
}

fn count(v: &Value, stage: &str) -> Result<u64> {
    v.as_u64()
        .ok_or_else(|| bad(format!("{stage} must be a non-negative integer")))
}

impl Pipeline {
    /// Parses `pipeline` (an array of stages, or one stage object).
    pub fn parse(pipeline: &Value) -> Result<Self> {
        let stages: Vec<&Value> = match pipeline {
            Value::Array(a) => a.iter().collect(),
            Value::Object(_) => vec![pipeline],
            _ => return Err(bad("pipeline must be an array of stages")),
        };
        if stages.len() > 32 {
            return Err(bad("pipeline has more than 32 stages"));
        }
        let mut levels = vec![Level::default()];
        let mut project = None;
        for stage in stages {
            let (name, spec) = stage
                .as_object()
                .filter(|o| o.len() == 1)
                .and_then(|o| o.iter().next())
                .ok_or_else(|| bad("each pipeline stage must be an object with one key"))?;
            let cur = levels.last().cloned().unwrap_or_default();
            match name.as_str() {
                "$match" => {
                    let f = Filter::parse(spec)?;
                    let new = cur.group.is_some()
                        || cur.order.is_some()
                        || cur.skip > 0
                        || cur.limit.is_some();
                    level_for(&mut levels, new).filters.push(f);
                }
                "$group" => {
                    let g = parse_group(spec)?;
                    let l = level_for(
                        &mut levels,
                        cur.group.is_some() || cur.skip > 0 || cur.limit.is_some(),
                    );
                    // An ORDER BY before the group means nothing to its result.
                    l.order = None;
                    l.group = Some(g);
                }
                "$sort" => {
                    let order = parse_sort(spec)?;
                    level_for(&mut levels, cur.skip > 0 || cur.limit.is_some()).order = Some(order);
                }
                "$skip" => {
                    let n = count(spec, "$skip")?;
                    level_for(&mut levels, cur.limit.is_some()).skip += n;
                }
                "$limit" => {
                    let n = count(spec, "$limit")?;
                    let l = level_for(&mut levels, false);
                    l.limit = Some(l.limit.map_or(n, |l| l.min(n)));
                }
                "$project" => {
                    let obj = spec
                        .as_object()
                        .ok_or_else(|| bad("$project must be an object"))?;
                    let mut p = IndexMap::new();
                    for (k, v) in obj {
                        let keep = match v {
                            Value::Bool(b) => *b,
                            Value::Number(n) => n.as_f64() != Some(0.0),
                            _ => return Err(bad(format!("Unsupported $project value for {k}"))),
                        };
                        p.insert(
                            if k == "_id" {
                                "objectId".to_string()
                            } else {
                                k.clone()
                            },
                            keep,
                        );
                    }
                    project = Some(p);
                }
                other => return Err(bad(format!("Invalid aggregate stage '{other}'."))),
            }
        }
        levels.retain(|l| !l.is_empty());
        Ok(Self { levels, project })
    }

    /// Whether the output rows are groups (`objectId` + accumulators) rather than objects.
    pub fn groups(&self) -> bool {
        self.levels.iter().any(|l| l.group.is_some())
    }

    /// The SQL for the pipeline over `schema`, and the schema its output rows follow.
    pub fn compile(
        &self,
        dialect: Dialect,
        schemas: &dyn SchemaSource,
        schema: &ClassSchema,
    ) -> Result<(Sql, ClassSchema)> {
        let compiler = Compiler {
            dialect,
            schemas,
            perms: None,
        };
        let mut inner: Option<String> = None;
        let mut binds: Vec<Bind> = Vec::new();
        let mut current = schema.clone();
        let levels: Vec<Level> = if self.levels.is_empty() {
            vec![Level::default()]
        } else {
            self.levels.clone()
        };
        for level in &levels {
            // Each level is built in one Sql so its placeholders continue the numbering.
            let mut sql = Sql::new(dialect);
            sql.binds = std::mem::take(&mut binds);
            let output = match &level.group {
                Some(g) => group_schema(&current, g),
                None => current.clone(),
            };
            sql.push("SELECT ");
            match &level.group {
                Some(g) => self.group_select(&current, g, &mut sql)?,
                None => {
                    for (i, name) in stored_columns(&current).iter().enumerate() {
                        if i > 0 {
                            sql.push(", ");
                        }
                        sql.column("t0", name);
                    }
                }
            }
            sql.push(" FROM ");
            match &inner {
                None => {
                    sql.ident(&schema.class_name);
                }
                Some(text) => {
                    sql.push("(").push(text).push(")");
                }
            }
            sql.push(" t0 WHERE ");
            let filter = Filter::And(level.filters.clone());
            compiler.where_clause(&current, &filter, 0, &mut sql)?;
            if let Some(g) = &level.group
                && let Some(key) = &g.key
                && current.field(key).and_then(FieldType::column).is_some()
            {
                sql.push(" GROUP BY ").column("t0", key);
            }
            if let Some(order) = &level.order {
                if level.group.is_some() {
                    // After a group, sort by the output columns (their aliases).
                    let mut first = true;
                    for k in order.split(',') {
                        let (desc, name) = k.strip_prefix('-').map_or((false, k), |n| (true, n));
                        if !output.fields.contains_key(name) {
                            continue;
                        }
                        sql.push(if first { " ORDER BY " } else { ", " });
                        first = false;
                        sql.ident(name).push(if desc {
                            " DESC NULLS FIRST"
                        } else {
                            " ASC NULLS LAST"
                        });
                    }
                } else {
                    compiler.order_by(&current, Some(order), None, &mut sql)?;
                }
            }
            if level.limit.is_some() || level.skip > 0 {
                sql.limit(level.limit, level.skip);
            }
            binds = sql.binds;
            inner = Some(sql.text);
            current = output;
        }
        let mut out = Sql::new(dialect);
        out.text = inner.unwrap_or_default();
        out.binds = binds;
        Ok((out, current))
    }

    fn group_select(&self, input: &ClassSchema, g: &Group, sql: &mut Sql) -> Result<()> {
        let float = match sql.dialect {
            Dialect::Postgres => "double precision",
            Dialect::Sqlite => "REAL",
        };
        match &g.key {
            Some(k) if input.field(k).and_then(FieldType::column).is_some() => {
                sql.column("t0", k);
            }
            _ => {
                sql.push("NULL");
            }
        }
        sql.push(" AS \"objectId\"");
        for (name, acc) in &g.accs {
            sql.push(", ");
            let col = |f: &str| input.field(f).and_then(FieldType::column);
            match acc {
                Acc::Count => {
                    sql.push(&format!("CAST(COUNT(*) AS {float})"));
                }
                Acc::Sum(f) | Acc::Avg(f) => {
                    let func = if matches!(acc, Acc::Sum(_)) {
                        "SUM"
                    } else {
                        "AVG"
                    };
                    if col(f) == Some(ColumnKind::Float) {
                        // Mongo sums nothing to 0, not null; an average of nothing stays null.
                        let (open, close) = if func == "SUM" {
                            ("COALESCE(", ", 0)")
                        } else {
                            ("", "")
                        };
                        sql.push(&format!("CAST({open}{func}("))
                            .column("t0", f)
                            .push(&format!("){close} AS {float})"));
                    } else if matches!(acc, Acc::Sum(_)) {
                        sql.push(&format!("CAST(0 AS {float})"));
                    } else {
                        sql.push(&format!("CAST(NULL AS {float})"));
                    }
                }
                Acc::Min(f) | Acc::Max(f) => {
                    let func = if matches!(acc, Acc::Min(_)) {
                        "MIN"
                    } else {
                        "MAX"
                    };
                    if col(f).is_some_and(|c| c != ColumnKind::Json) {
                        sql.push(func).push("(").column("t0", f).push(")");
                    } else {
                        sql.push("NULL");
                    }
                }
            }
            sql.push(" AS ").ident(name);
        }
        Ok(())
    }
}

/// The columns a level selects when it passes objects through: system columns, then fields.
fn stored_columns(schema: &ClassSchema) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    let is_group = !schema.fields.contains_key("createdAt");
    if !is_group {
        cols.extend(["objectId", "createdAt", "updatedAt", "_rperm", "_wperm"].map(str::to_string));
    }
    for (name, ty) in &schema.fields {
        if ty.column().is_some() && !cols.contains(name) {
            cols.push(name.clone());
        }
    }
    cols
}

/// The output of a `$group`: `objectId` typed as the grouped field, then the accumulators.
fn group_schema(input: &ClassSchema, g: &Group) -> ClassSchema {
    let mut s = ClassSchema::new(&input.class_name);
    s.fields.clear();
    let key_type = g
        .key
        .as_ref()
        .and_then(|k| input.field(k))
        .filter(|t| t.column().is_some())
        .cloned();
    s.fields
        .insert("objectId".into(), key_type.unwrap_or(FieldType::String));
    for (name, acc) in &g.accs {
        let ty = match acc {
            Acc::Count | Acc::Sum(_) | Acc::Avg(_) => FieldType::Number,
            Acc::Min(f) | Acc::Max(f) => input.field(f).cloned().unwrap_or(FieldType::Number),
        };
        s.fields.insert(name.clone(), ty);
    }
    s
}

/// `distinct=field` with an optional `where`: the distinct non-null values.
pub fn distinct(
    dialect: Dialect,
    schemas: &dyn SchemaSource,
    schema: &ClassSchema,
    field: &str,
    filter: &Filter,
) -> Result<Option<(Sql, FieldType)>> {
    let key = KeyPath::parse(field)?;
    let Some(ty) = schema
        .field(&key.field)
        .filter(|t| t.column().is_some() && key.path.is_empty())
        .cloned()
    else {
        return Ok(None);
    };
    let compiler = Compiler {
        dialect,
        schemas,
        perms: None,
    };
    let mut sql = Sql::new(dialect);
    sql.push("SELECT DISTINCT ")
        .column("t0", &key.field)
        .push(" FROM ")
        .ident(&schema.class_name)
        .push(" t0 WHERE ");
    compiler.where_clause(schema, filter, 0, &mut sql)?;
    sql.push(" AND ")
        .column("t0", &key.field)
        .push(" IS NOT NULL");
    Ok(Some((sql, ty)))
}
