//! Parse's JSON ↔ typed columns: validating and encoding a written value for its field type,
//! and decoding stored cells back into the JSON clients expect.

use basalt_query::value::{GeoPoint, as_date, as_pointer, format_date, type_tag};
use basalt_query::{Bind, ClassSchema, FieldType};
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult, Code};
use crate::storage::{Cell, Col};

/// Largest integer a double holds exactly; integral numbers up to it are sent without `.0`.
const MAX_SAFE_INTEGER: f64 = 9_007_199_254_740_992.0;

pub fn number(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < MAX_SAFE_INTEGER {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

fn type_error(field: &str, expected: &FieldType) -> ApiError {
    ApiError::new(
        Code::IncorrectType,
        format!("schema mismatch for {field}; expected {expected}"),
    )
}

/// The bind that stores `v` in a column of type `ty` (None stores NULL).
pub fn encode(field: &str, ty: &FieldType, v: &Value) -> ApiResult<Option<Bind>> {
    if v.is_null() {
        return Ok(None);
    }
    Ok(Some(match ty {
        FieldType::String => {
            let s = v.as_str().ok_or_else(|| type_error(field, ty))?;
            check_no_nul(s)?;
            Bind::Text(s.to_string())
        }
        FieldType::Number => {
            let f = v
                .as_f64()
                .filter(|f| f.is_finite())
                .ok_or_else(|| type_error(field, ty))?;
            Bind::Float(f)
        }
        FieldType::Boolean => Bind::Bool(v.as_bool().ok_or_else(|| type_error(field, ty))?),
        FieldType::Date => match as_date(v) {
            Some(d) => Bind::Date(d),
            None => {
                return Err(ApiError::new(
                    Code::IncorrectType,
                    format!("invalid date for {field}"),
                ));
            }
        },
        FieldType::Pointer(target) => match as_pointer(v) {
            Some((class, id)) if class == target => Bind::Text(id.to_string()),
            _ => return Err(type_error(field, ty)),
        },
        FieldType::Object => {
            if !v.is_object() || type_tag(v).is_some() {
                return Err(type_error(field, ty));
            }
            check_nested_keys(v)?;
            Bind::Json(v.clone())
        }
        FieldType::Array => {
            if !v.is_array() {
                return Err(type_error(field, ty));
            }
            check_nested_keys(v)?;
            Bind::Json(v.clone())
        }
        FieldType::File => {
            let name = v
                .get("name")
                .and_then(Value::as_str)
                .filter(|_| type_tag(v) == Some("File"));
            match name {
                // Only the name is stored; the URL is derived when read (see `file_url`).
                Some(name) => Bind::Json(json!({"__type": "File", "name": name})),
                None => return Err(type_error(field, ty)),
            }
        }
        FieldType::GeoPoint => {
            let p = GeoPoint::from_json(v)?;
            Bind::Json(
                json!({"__type": "GeoPoint", "latitude": number(p.latitude), "longitude": number(p.longitude)}),
            )
        }
        FieldType::Polygon => Bind::Json(polygon(v)?),
        FieldType::Bytes => match (type_tag(v), v.get("base64").and_then(Value::as_str)) {
            (Some("Bytes"), Some(b64)) => Bind::Json(json!({"__type": "Bytes", "base64": b64})),
            _ => return Err(type_error(field, ty)),
        },
        FieldType::Relation(_) | FieldType::Acl => return Err(type_error(field, ty)),
    }))
}

/// Validates `{"__type":"Polygon","coordinates":[[lat,lng],…]}` (at least three points; closed
/// or not, as Parse accepts both).
fn polygon(v: &Value) -> ApiResult<Value> {
    let coords = v
        .get("coordinates")
        .and_then(Value::as_array)
        .filter(|_| type_tag(v) == Some("Polygon"));
    let Some(coords) = coords else {
        return Err(ApiError::new(
            Code::IncorrectType,
            "Polygon must have at least 3 values",
        ));
    };
    if coords.len() < 3 {
        return Err(ApiError::new(
            Code::InvalidJson,
            "Polygon must have at least 3 values",
        ));
    }
    for c in coords {
        if GeoPoint::from_pair(c).is_none() {
            return Err(ApiError::new(Code::InvalidJson, "bad $geoWithin value"));
        }
    }
    // The ring is closed, as Parse stores it: the last point repeats the first.
    let mut ring = coords.clone();
    if ring.first() != ring.last()
        && let Some(first) = ring.first().cloned()
    {
        ring.push(first);
    }
    Ok(json!({"__type": "Polygon", "coordinates": ring}))
}

/// PostgreSQL cannot store U+0000 in text or JSON; refuse it on both databases alike.
fn check_no_nul(s: &str) -> ApiResult<()> {
    if s.contains('\0') {
        return Err(ApiError::invalid_json(
            "Strings may not contain the NUL character (\\u0000).",
        ));
    }
    Ok(())
}

/// Keys inside Objects and Arrays may not contain `$` or `.`, which queries would misread, and
/// no string inside may hold a NUL.
fn check_nested_keys(v: &Value) -> ApiResult<()> {
    match v {
        Value::String(s) => check_no_nul(s),
        Value::Object(o) => {
            for (k, inner) in o {
                check_no_nul(k)?;
                if k.contains('$') || k.contains('.') {
                    return Err(ApiError::new(
                        Code::InvalidNestedKey,
                        "Nested keys should not contain the '$' or '.' characters",
                    ));
                }
                check_nested_keys(inner)?;
            }
            Ok(())
        }
        Value::Array(a) => a.iter().try_for_each(check_nested_keys),
        _ => Ok(()),
    }
}

/// The JSON for a stored cell of a field of type `ty`.
pub fn decode(ty: &FieldType, cell: Cell) -> Option<Value> {
    Some(match (ty, cell) {
        (_, Cell::Null) => return None,
        (FieldType::Pointer(target), Cell::Text(id)) => {
            json!({"__type": "Pointer", "className": target, "objectId": id})
        }
        (_, Cell::Text(s)) => Value::String(s),
        (_, Cell::Float(f)) => number(f),
        (_, Cell::Int(i)) => Value::from(i),
        (_, Cell::Bool(b)) => Value::Bool(b),
        (_, Cell::Date(d)) => json!({"__type": "Date", "iso": format_date(&d)}),
        (_, Cell::Json(v)) => v,
        (_, Cell::Perms(p)) => Value::from(p),
        (_, Cell::Bytes(b)) => Value::from(base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            b,
        )),
    })
}

/// `_rperm`/`_wperm` → the ACL object (None when both are NULL: the object has no ACL).
pub fn acl_from_perms(rperm: Option<Vec<String>>, wperm: Option<Vec<String>>) -> Option<Value> {
    if rperm.is_none() && wperm.is_none() {
        return None;
    }
    let mut acl = Map::new();
    for (perms, right) in [(rperm, "read"), (wperm, "write")] {
        for who in perms.unwrap_or_default() {
            let entry = acl.entry(who).or_insert_with(|| json!({}));
            entry[right] = Value::Bool(true);
        }
    }
    Some(Value::Object(acl))
}

/// The ACL object → (`_rperm`, `_wperm`). Validates its shape as Parse does.
pub fn perms_from_acl(acl: &Value) -> ApiResult<(Vec<String>, Vec<String>)> {
    let invalid = || ApiError::new(Code::InvalidAcl, "invalid ACL");
    let obj = acl.as_object().ok_or_else(invalid)?;
    let (mut read, mut write) = (Vec::new(), Vec::new());
    for (who, rights) in obj {
        let rights = rights.as_object().ok_or_else(invalid)?;
        if who.is_empty() {
            return Err(invalid());
        }
        for (right, allowed) in rights {
            let allowed = allowed.as_bool().ok_or_else(invalid)?;
            match right.as_str() {
                "read" if allowed => read.push(who.clone()),
                "write" if allowed => write.push(who.clone()),
                "read" | "write" => {}
                _ => return Err(invalid()),
            }
        }
    }
    Ok((read, write))
}

/// The columns selected for an object of `schema`, in order: system columns, then fields.
pub struct Projection {
    /// `<publicServerURL>/files/<appId>`: File values are stored by name and read with a URL.
    pub files_base: String,
    pub fields: Vec<(String, FieldType)>,
    /// Relation fields shown (as `{"__type":"Relation"}`), with their target class.
    pub relations: Vec<(String, String)>,
}

pub const SYSTEM_COLUMNS: [(&str, Col); 5] = [
    ("objectId", Col::Text),
    ("createdAt", Col::Date),
    ("updatedAt", Col::Date),
    ("_rperm", Col::Perms),
    ("_wperm", Col::Perms),
];

impl Projection {
    /// Every stored field, or only `keys` (plus the system columns) when given; minus `exclude`.
    pub fn new(
        files_base: &str,
        schema: &ClassSchema,
        keys: Option<&[String]>,
        exclude: &[String],
    ) -> Self {
        let wanted = |name: &String| {
            !matches!(
                name.as_str(),
                "objectId" | "createdAt" | "updatedAt" | "ACL"
            ) && keys.is_none_or(|k| k.iter().any(|k| k == name))
                && !exclude.iter().any(|e| e == name)
        };
        let fields = schema
            .fields
            .iter()
            .filter(|(name, ty)| wanted(name) && ty.column().is_some())
            .map(|(n, t)| (n.clone(), t.clone()))
            .collect();
        let relations = schema
            .fields
            .iter()
            .filter(|(name, _)| wanted(name))
            .filter_map(|(n, t)| match t {
                FieldType::Relation(target) => Some((n.clone(), target.clone())),
                _ => None,
            })
            .collect();
        Self {
            files_base: files_base.to_string(),
            fields,
            relations,
        }
    }

    fn file_url(&self, v: &mut Value) {
        if let Some(name) = v.get("name").and_then(Value::as_str) {
            let url = format!("{}/{}", self.files_base, name);
            v["url"] = Value::from(url);
        }
    }

    pub fn cols(&self) -> Vec<Col> {
        SYSTEM_COLUMNS
            .iter()
            .map(|(_, c)| *c)
            .chain(
                self.fields
                    .iter()
                    .filter_map(|(_, t)| t.column().map(Col::from)),
            )
            .collect()
    }

    /// The selected columns, in the order of [`Self::cols`].
    fn names(&self) -> impl Iterator<Item = &str> {
        SYSTEM_COLUMNS
            .iter()
            .map(|(n, _)| *n)
            .chain(self.fields.iter().map(|(n, _)| n.as_str()))
    }

    /// Writes `t0."objectId", …` for the SELECT list.
    pub fn select_list(&self, sql: &mut basalt_query::Sql, alias: &str) {
        for (i, name) in self.names().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.column(alias, name);
        }
    }

    /// The same columns unqualified, for `RETURNING` (SQLite's cannot name an alias).
    pub fn bare_list(&self, sql: &mut basalt_query::Sql) {
        for (i, name) in self.names().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.ident(name);
        }
    }

    /// Turns one row into the object JSON. Relation fields appear as Parse shows them.
    pub fn object(&self, row: Vec<Cell>, show_acl: bool) -> Map<String, Value> {
        // Sized once: growing the map rehashed every key (1% of a 20-object query's CPU).
        let mut out = Map::with_capacity(4 + self.fields.len() + self.relations.len());
        let mut cells = row.into_iter();
        let mut next = || cells.next().unwrap_or(Cell::Null);
        if let Cell::Text(id) = next() {
            out.insert("objectId".into(), Value::String(id));
        }
        for key in ["createdAt", "updatedAt"] {
            if let Cell::Date(d) = next() {
                out.insert(key.into(), Value::String(format_date(&d)));
            }
        }
        let perms = |c: Cell| match c {
            Cell::Perms(p) => Some(p),
            _ => None,
        };
        let (r, w) = (perms(next()), perms(next()));
        for (name, ty) in &self.fields {
            if let Some(mut v) = decode(ty, next()) {
                if *ty == FieldType::File {
                    self.file_url(&mut v);
                }
                out.insert(name.clone(), v);
            }
        }
        for (name, target) in &self.relations {
            out.insert(
                name.clone(),
                json!({"__type": "Relation", "className": target}),
            );
        }
        if show_acl && let Some(acl) = acl_from_perms(r, w) {
            out.insert("ACL".into(), acl);
        }
        out
    }
}
