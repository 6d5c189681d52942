//! `where` → [`Filter`], a validated AST independent of any database.
//!
//! Parsing checks what can be checked without a schema: operator names, key names, value
//! shapes, nesting depth and size. Typing against the class schema happens in the compiler.

use serde_json::{Map, Value};

use crate::error::{QueryError, Result, code};
use crate::regex::{self, RegexOptions};
use crate::schema::is_valid_field_name;
use crate::value::{GeoPoint, as_pointer};

/// Deepest nesting of `$or`/`$and`/`$nor`/`$inQuery`/`$select` accepted.
pub const MAX_DEPTH: usize = 10;
/// Most conditions in one query, counted over every level.
pub const MAX_CONDITIONS: usize = 1000;
/// Most vertices in a `$polygon`.
pub const MAX_POLYGON_POINTS: usize = 1000;

const EARTH_RADIUS_KM: f64 = 6371.0;
const EARTH_RADIUS_MILES: f64 = 3958.8;

/// A key in a query: a top-level field, optionally followed by a path into an Object field
/// (`"address.city"` → field `address`, path `["city"]`).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyPath {
    pub field: String,
    pub path: Vec<String>,
}

impl KeyPath {
    pub fn parse(key: &str) -> Result<Self> {
        let mut parts = key.split('.');
        let field = parts.next().unwrap_or_default();
        if !is_query_field(field) {
            return Err(QueryError::invalid_key(key));
        }
        let path: Vec<String> = parts.map(str::to_string).collect();
        if path.iter().any(|p| p.is_empty() || p.len() > 128) {
            return Err(QueryError::invalid_key(key));
        }
        Ok(Self {
            field: field.to_string(),
            path,
        })
    }
}

/// Field names a query may name: ordinary fields plus the system columns Parse exposes.
fn is_query_field(name: &str) -> bool {
    is_valid_field_name(name) || matches!(name, "_rperm" | "_wperm")
}

/// Comparison operators on a single value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Lte,
    Gt,
    Gte,
}

impl CmpOp {
    pub fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Lte => "<=",
            CmpOp::Gt => ">",
            CmpOp::Gte => ">=",
        }
    }
}

/// A sub-query on another class, as `$inQuery` and `$select` carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct SubQuery {
    pub class_name: String,
    pub filter: Box<Filter>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Matches everything (an empty `where`).
    All,
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Nor(Vec<Filter>),
    Cmp {
        key: KeyPath,
        op: CmpOp,
        value: Value,
    },
    In {
        key: KeyPath,
        values: Vec<Value>,
        negate: bool,
    },
    ContainsAll {
        key: KeyPath,
        values: Vec<Value>,
    },
    ContainedBy {
        key: KeyPath,
        values: Vec<Value>,
    },
    Exists {
        key: KeyPath,
        exists: bool,
    },
    Regex {
        key: KeyPath,
        pattern: String,
    },
    Near {
        key: KeyPath,
        point: GeoPoint,
        max_radians: Option<f64>,
    },
    WithinBox {
        key: KeyPath,
        south_west: GeoPoint,
        north_east: GeoPoint,
    },
    WithinPolygon {
        key: KeyPath,
        points: Vec<GeoPoint>,
    },
    /// `$centerSphere`: within `radians` of `center`.
    WithinSphere {
        key: KeyPath,
        center: GeoPoint,
        radians: f64,
    },
    /// `$geoIntersects` with `$point`: the stored Polygon contains the point.
    PolygonContains {
        key: KeyPath,
        point: GeoPoint,
    },
    InQuery {
        key: KeyPath,
        query: SubQuery,
        negate: bool,
    },
    Select {
        key: KeyPath,
        query: SubQuery,
        sub_key: String,
        negate: bool,
    },
    RelatedTo {
        owner_class: String,
        owner_id: String,
        key: String,
    },
}

struct Budget {
    conditions: usize,
}

impl Filter {
    /// Parses a `where` object.
    pub fn parse(where_: &Value) -> Result<Filter> {
        let mut budget = Budget { conditions: 0 };
        parse_where(where_, 0, &mut budget)
    }

    /// Every field of this class the filter constrains (the first segment of each key),
    /// through `$and`/`$or`/`$nor`; sub-queries' own fields belong to their class and are not
    /// listed. `$relatedTo` constrains through another class's relation and names none here.
    pub fn fields(&self) -> Vec<&str> {
        let mut out = Vec::new();
        self.collect_fields(&mut out);
        out.sort_unstable();
        out.dedup();
        out
    }

    fn collect_fields<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Filter::All | Filter::RelatedTo { .. } => {}
            Filter::And(fs) | Filter::Or(fs) | Filter::Nor(fs) => {
                fs.iter().for_each(|f| f.collect_fields(out));
            }
            Filter::Cmp { key, .. }
            | Filter::In { key, .. }
            | Filter::ContainsAll { key, .. }
            | Filter::ContainedBy { key, .. }
            | Filter::Exists { key, .. }
            | Filter::Regex { key, .. }
            | Filter::Near { key, .. }
            | Filter::WithinBox { key, .. }
            | Filter::WithinPolygon { key, .. }
            | Filter::WithinSphere { key, .. }
            | Filter::PolygonContains { key, .. }
            | Filter::InQuery { key, .. }
            | Filter::Select { key, .. } => out.push(key.field.as_str()),
        }
    }

    /// True if a sub-query (`$inQuery`, `$notInQuery`, `$select`, `$dontSelect`) or a
    /// `$relatedTo` appears anywhere: these read other rows, so only the database can decide
    /// them, not the in-memory [`matcher`](crate::matcher). Equality on a Relation field needs
    /// the database too, but only the schema tells a Relation field apart:
    /// [`CompiledFilter::needs_database`](crate::matcher::CompiledFilter::needs_database) sees
    /// both.
    pub fn needs_database(&self) -> bool {
        match self {
            Filter::InQuery { .. } | Filter::Select { .. } | Filter::RelatedTo { .. } => true,
            Filter::And(fs) | Filter::Or(fs) | Filter::Nor(fs) => {
                fs.iter().any(Filter::needs_database)
            }
            _ => false,
        }
    }

    /// The `$nearSphere` in this filter, if any: results are sorted by its distance.
    pub fn near(&self) -> Option<(&KeyPath, GeoPoint)> {
        match self {
            Filter::Near { key, point, .. } => Some((key, *point)),
            Filter::And(fs) => fs.iter().find_map(Filter::near),
            _ => None,
        }
    }
}

fn parse_where(where_: &Value, depth: usize, budget: &mut Budget) -> Result<Filter> {
    if depth > MAX_DEPTH {
        return Err(QueryError::invalid_query(format!(
            "Query is nested more than {MAX_DEPTH} levels deep"
        )));
    }
    // An array reads as an object keyed by index, whose keys are then invalid, as in Parse.
    let indexed;
    let obj = match where_ {
        Value::Object(o) => o,
        Value::Null => return Ok(Filter::All),
        Value::Array(a) => {
            indexed = a
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v.clone()))
                .collect::<Map<_, _>>();
            &indexed
        }
        _ => return Err(QueryError::invalid_json("where must be an object")),
    };
    let mut parts = Vec::with_capacity(obj.len());
    for (key, value) in obj {
        budget.conditions += 1;
        if budget.conditions > MAX_CONDITIONS {
            return Err(QueryError::invalid_query(format!(
                "Query has more than {MAX_CONDITIONS} conditions"
            )));
        }
        match key.as_str() {
            "$or" | "$and" | "$nor" => {
                let arr = value.as_array().filter(|a| !a.is_empty()).ok_or_else(|| {
                    QueryError::invalid_query(format!("Bad {key} format - use an array value."))
                })?;
                let subs = arr
                    .iter()
                    .map(|w| parse_where(w, depth + 1, budget))
                    .collect::<Result<Vec<_>>>()?;
                parts.push(match key.as_str() {
                    "$or" => Filter::Or(subs),
                    "$and" => Filter::And(subs),
                    _ => Filter::Nor(subs),
                });
            }
            "$relatedTo" => parts.push(parse_related_to(value)?),
            k if k.starts_with('$') => {
                return Err(QueryError::invalid_key(k));
            }
            k => {
                let key = KeyPath::parse(k)?;
                parse_field(key, value, depth, budget, &mut parts)?;
            }
        }
    }
    Ok(match parts.len() {
        0 => Filter::All,
        1 => parts.pop().unwrap_or(Filter::All),
        _ => Filter::And(parts),
    })
}

fn parse_related_to(v: &Value) -> Result<Filter> {
    let object = v.get("object").and_then(as_pointer);
    let key = v.get("key").and_then(Value::as_str);
    match (object, key) {
        (Some((class, id)), Some(key)) if is_valid_field_name(key) => Ok(Filter::RelatedTo {
            owner_class: class.to_string(),
            owner_id: id.to_string(),
            key: key.to_string(),
        }),
        _ => Err(QueryError::invalid_query("bad $relatedTo")),
    }
}

/// True if `v` is a constraint object (`{"$gt": 1}`) rather than a value to compare with.
fn is_constraint(v: &Map<String, Value>) -> bool {
    v.keys().next().is_some_and(|k| k.starts_with('$'))
}

fn parse_field(
    key: KeyPath,
    value: &Value,
    depth: usize,
    budget: &mut Budget,
    out: &mut Vec<Filter>,
) -> Result<()> {
    let obj = match value {
        Value::Object(o) if is_constraint(o) => o,
        _ => {
            out.push(Filter::Cmp {
                key,
                op: CmpOp::Eq,
                value: value.clone(),
            });
            return Ok(());
        }
    };
    let options = match obj.get("$options") {
        None => RegexOptions::default(),
        Some(Value::String(s)) => RegexOptions::parse(s)?,
        Some(v) => {
            return Err(QueryError::invalid_query(format!(
                "Bad $options value for query: {v}"
            )));
        }
    };
    let max_distance = parse_max_distance(obj)?;
    for (op, arg) in obj {
        budget.conditions += 1;
        let key = key.clone();
        let f = match op.as_str() {
            "$eq" => Filter::Cmp {
                key,
                op: CmpOp::Eq,
                value: arg.clone(),
            },
            "$ne" => Filter::Cmp {
                key,
                op: CmpOp::Ne,
                value: arg.clone(),
            },
            "$lt" => Filter::Cmp {
                key,
                op: CmpOp::Lt,
                value: arg.clone(),
            },
            "$lte" => Filter::Cmp {
                key,
                op: CmpOp::Lte,
                value: arg.clone(),
            },
            "$gt" => Filter::Cmp {
                key,
                op: CmpOp::Gt,
                value: arg.clone(),
            },
            "$gte" => Filter::Cmp {
                key,
                op: CmpOp::Gte,
                value: arg.clone(),
            },
            "$in" | "$nin" => Filter::In {
                key,
                values: array_arg(op, arg)?.to_vec(),
                negate: op == "$nin",
            },
            "$all" => Filter::ContainsAll {
                key,
                values: array_arg(op, arg)?.to_vec(),
            },
            "$containedBy" => Filter::ContainedBy {
                key,
                values: array_arg(op, arg)?.to_vec(),
            },
            "$exists" => match arg {
                Value::Bool(exists) => Filter::Exists {
                    key,
                    exists: *exists,
                },
                _ => return Err(QueryError::invalid_json("bad $exists: must be a boolean")),
            },
            "$regex" => {
                let pattern = match arg {
                    Value::String(s) => regex::literalize(s),
                    _ => return Err(QueryError::invalid_query("$regex value must be a string")),
                };
                Filter::Regex {
                    key,
                    pattern: regex::prepare(&pattern, options)?,
                }
            }
            "$options"
            | "$maxDistance"
            | "$maxDistanceInRadians"
            | "$maxDistanceInKilometers"
            | "$maxDistanceInMiles" => continue,
            "$nearSphere" => Filter::Near {
                key,
                point: GeoPoint::from_json(arg)?,
                max_radians: max_distance,
            },
            "$within" => {
                let b = arg
                    .get("$box")
                    .and_then(Value::as_array)
                    .ok_or_else(|| QueryError::invalid_json("bad $within: expected $box"))?;
                match b.as_slice() {
                    [sw, ne] => {
                        let (south_west, north_east) =
                            (GeoPoint::from_json(sw)?, GeoPoint::from_json(ne)?);
                        if south_west.latitude > north_east.latitude {
                            return Err(QueryError::invalid_json(
                                "The southwest corner of a geo box must be below the northeast corner.",
                            ));
                        }
                        if south_west.longitude > north_east.longitude {
                            return Err(QueryError::invalid_json(
                                "The southwest corner of a geo box must be to the left of the northeast corner.",
                            ));
                        }
                        Filter::WithinBox {
                            key,
                            south_west,
                            north_east,
                        }
                    }
                    _ => return Err(QueryError::invalid_json("bad $box: expected two GeoPoints")),
                }
            }
            "$geoWithin" => parse_geo_within(key, arg)?,
            "$geoIntersects" => {
                let point = arg.get("$point").ok_or_else(|| {
                    QueryError::invalid_json("bad $geoIntersect value; $point should be GeoPoint")
                })?;
                Filter::PolygonContains {
                    key,
                    point: GeoPoint::from_json(point).map_err(|_| {
                        QueryError::invalid_json(
                            "bad $geoIntersect value; $point should be GeoPoint",
                        )
                    })?,
                }
            }
            "$inQuery" | "$notInQuery" => Filter::InQuery {
                key,
                query: parse_sub_query(op, arg, depth, budget)?,
                negate: op == "$notInQuery",
            },
            "$select" | "$dontSelect" => {
                let sub_key = arg
                    .get("key")
                    .and_then(Value::as_str)
                    .ok_or_else(|| QueryError::invalid_query(format!("improper usage of {op}")))?;
                let q = arg
                    .get("query")
                    .ok_or_else(|| QueryError::invalid_query(format!("improper usage of {op}")))?;
                Filter::Select {
                    key,
                    query: parse_sub_query(op, q, depth, budget)?,
                    sub_key: KeyPath::parse(sub_key)?.field,
                    negate: op == "$dontSelect",
                }
            }
            other => {
                return Err(QueryError::invalid_json(format!("bad constraint: {other}")));
            }
        };
        out.push(f);
    }
    if max_distance.is_some() && !obj.contains_key("$nearSphere") {
        return Err(QueryError::invalid_query("$maxDistance needs $nearSphere"));
    }
    Ok(())
}

fn array_arg<'a>(op: &str, arg: &'a Value) -> Result<&'a Vec<Value>> {
    arg.as_array()
        .ok_or_else(|| QueryError::invalid_json(format!("bad {op} value")))
}

fn parse_max_distance(obj: &Map<String, Value>) -> Result<Option<f64>> {
    let scale = [
        ("$maxDistance", 1.0),
        ("$maxDistanceInRadians", 1.0),
        ("$maxDistanceInKilometers", 1.0 / EARTH_RADIUS_KM),
        ("$maxDistanceInMiles", 1.0 / EARTH_RADIUS_MILES),
    ];
    for (name, factor) in scale {
        if let Some(v) = obj.get(name) {
            let d = v
                .as_f64()
                .filter(|d| d.is_finite() && *d >= 0.0)
                .ok_or_else(|| QueryError::invalid_json(format!("bad {name} value")))?;
            return Ok(Some(d * factor));
        }
    }
    Ok(None)
}

fn parse_geo_within(key: KeyPath, arg: &Value) -> Result<Filter> {
    if let Some(poly) = arg.get("$polygon") {
        let points: Vec<GeoPoint> = match poly {
            Value::Array(items) => items
                .iter()
                .map(|p| {
                    GeoPoint::from_json(p).or_else(|_| {
                        GeoPoint::from_pair(p)
                            .ok_or_else(|| QueryError::invalid_json("bad $geoWithin value"))
                    })
                })
                .collect::<Result<_>>()?,
            Value::Object(_) => match poly.get("coordinates").and_then(Value::as_array) {
                Some(c) => c
                    .iter()
                    .map(|p| {
                        GeoPoint::from_pair(p)
                            .ok_or_else(|| QueryError::invalid_json("bad $geoWithin value"))
                    })
                    .collect::<Result<_>>()?,
                None => return Err(QueryError::invalid_json("bad $geoWithin value")),
            },
            _ => return Err(QueryError::invalid_json("bad $geoWithin value")),
        };
        if points.len() < 3 {
            return Err(QueryError::invalid_json(
                "bad $geoWithin value; $polygon should contain at least 3 GeoPoints",
            ));
        }
        if points.len() > MAX_POLYGON_POINTS {
            return Err(QueryError::invalid_json(format!(
                "bad $geoWithin value; $polygon has more than {MAX_POLYGON_POINTS} points"
            )));
        }
        return Ok(Filter::WithinPolygon { key, points });
    }
    if let Some(cs) = arg.get("$centerSphere") {
        let parts = cs.as_array().filter(|a| a.len() == 2).ok_or_else(|| {
            QueryError::invalid_json(
                "bad $geoWithin value; $centerSphere should be an array of [point, distance]",
            )
        })?;
        let center = GeoPoint::from_json(&parts[0]).or_else(|_| {
            // [longitude, latitude], GeoJSON order, as Parse also accepts.
            parts[0]
                .as_array()
                .and_then(|p| match p.as_slice() {
                    [lng, lat] => GeoPoint::new(lat.as_f64()?, lng.as_f64()?).ok(),
                    _ => None,
                })
                .ok_or_else(|| {
                    QueryError::invalid_json(
                        "bad $geoWithin value; $centerSphere geo point invalid",
                    )
                })
        })?;
        let radians = parts[1]
            .as_f64()
            .filter(|d| d.is_finite() && *d >= 0.0)
            .ok_or_else(|| {
                QueryError::invalid_json("bad $geoWithin value; $centerSphere distance invalid")
            })?;
        return Ok(Filter::WithinSphere {
            key,
            center,
            radians,
        });
    }
    Err(QueryError::invalid_json("bad $geoWithin value"))
}

fn parse_sub_query(op: &str, v: &Value, depth: usize, budget: &mut Budget) -> Result<SubQuery> {
    let class_name = v
        .get("className")
        .and_then(Value::as_str)
        .ok_or_else(|| QueryError::invalid_query(format!("improper usage of {op}")))?;
    if !crate::schema::is_valid_class_name(class_name) {
        return Err(QueryError::new(
            code::INVALID_CLASS_NAME,
            format!("Invalid classname: {class_name}"),
        ));
    }
    let filter = parse_where(v.get("where").unwrap_or(&Value::Null), depth + 1, budget)?;
    Ok(SubQuery {
        class_name: class_name.to_string(),
        filter: Box::new(filter),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn simple_equality_and_ranges() {
        let f = Filter::parse(&json!({"a": 1, "b": {"$gt": 2, "$lt": 5}})).expect("valid");
        let Filter::And(parts) = f else {
            panic!("expected And")
        };
        assert_eq!(parts.len(), 3);
    }

    #[test]
    fn rejects_unknown_operators_and_keys() {
        assert_eq!(
            Filter::parse(&json!({"a": {"$foo": 1}})).unwrap_err().code,
            107
        );
        assert_eq!(Filter::parse(&json!({"$foo": 1})).unwrap_err().code, 105);
        assert_eq!(Filter::parse(&json!({"a-b": 1})).unwrap_err().code, 105);
    }

    #[test]
    fn bounds_nesting() {
        let mut w = json!({"a": 1});
        for _ in 0..20 {
            w = json!({"$or": [w]});
        }
        assert_eq!(Filter::parse(&w).unwrap_err().code, 102);
    }
}
