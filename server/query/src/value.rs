//! Parse's `__type` encodings: recognising them in JSON and inferring a field's type from a value.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::error::{QueryError, Result, code};
use crate::schema::FieldType;

/// Formats a timestamp as Parse does: ISO-8601, milliseconds, `Z`.
pub fn format_date(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_iso(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// The `__type` of an encoded value, if any.
pub fn type_tag(v: &Value) -> Option<&str> {
    v.as_object()?.get("__type")?.as_str()
}

/// `{"__type":"Date","iso":"…"}` → the instant.
pub fn as_date(v: &Value) -> Option<DateTime<Utc>> {
    if type_tag(v)? != "Date" {
        return None;
    }
    parse_iso(v.get("iso")?.as_str()?)
}

/// `{"__type":"Pointer","className":C,"objectId":I}` → (C, I).
pub fn as_pointer(v: &Value) -> Option<(&str, &str)> {
    if type_tag(v)? != "Pointer" {
        return None;
    }
    Some((v.get("className")?.as_str()?, v.get("objectId")?.as_str()?))
}

/// A geo point in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    pub latitude: f64,
    pub longitude: f64,
}

impl GeoPoint {
    /// Reads `{"__type":"GeoPoint","latitude":…,"longitude":…}`, checking the ranges as Parse does.
    pub fn from_json(v: &Value) -> Result<Self> {
        let lat = v.get("latitude").and_then(Value::as_f64);
        let lng = v.get("longitude").and_then(Value::as_f64);
        match (type_tag(v), lat, lng) {
            (Some("GeoPoint"), Some(latitude), Some(longitude)) => Self::new(latitude, longitude),
            _ => Err(QueryError::invalid_json("invalid GeoPoint")),
        }
    }

    pub fn new(latitude: f64, longitude: f64) -> Result<Self> {
        if !(-90.0..=90.0).contains(&latitude) {
            return Err(QueryError::invalid_json(format!(
                "GeoPoint latitude out of bounds: {latitude} < -90.0 or > 90.0."
            )));
        }
        if !(-180.0..=180.0).contains(&longitude) {
            return Err(QueryError::invalid_json(format!(
                "GeoPoint longitude out of bounds: {longitude} < -180.0 or > 180.0."
            )));
        }
        Ok(Self {
            latitude,
            longitude,
        })
    }

    /// Reads `[latitude, longitude]` as the polygon forms of `$geoWithin` give it.
    pub fn from_pair(v: &Value) -> Option<Self> {
        let a = v.as_array()?;
        match a.as_slice() {
            [lat, lng] => Self::new(lat.as_f64()?, lng.as_f64()?).ok(),
            _ => None,
        }
    }
}

/// Infers the field type of a value being written (for schema inference). `Ok(None)` means the
/// value carries no type (null, or a `Delete` op).
pub fn infer_type(v: &Value) -> Result<Option<FieldType>> {
    Ok(Some(match v {
        Value::Null => return Ok(None),
        Value::Bool(_) => FieldType::Boolean,
        Value::Number(_) => FieldType::Number,
        Value::String(_) => FieldType::String,
        Value::Array(_) => FieldType::Array,
        Value::Object(o) => {
            if let Some(op) = o.get("__op").and_then(Value::as_str) {
                return infer_op_type(op, v);
            }
            let invalid =
                |t: &str| QueryError::new(code::INCORRECT_TYPE, format!("This is not a valid {t}"));
            match o.get("__type").and_then(Value::as_str) {
                Some("Date") => match as_date(v) {
                    Some(_) => FieldType::Date,
                    None => return Err(invalid("Date")),
                },
                Some("Pointer") => match as_pointer(v) {
                    Some((c, _)) => FieldType::Pointer(c.to_string()),
                    None => return Err(invalid("Pointer")),
                },
                Some("Relation") => match v.get("className").and_then(Value::as_str) {
                    Some(c) => FieldType::Relation(c.to_string()),
                    None => return Err(QueryError::new(code::INCORRECT_TYPE, "invalid relation")),
                },
                Some("File") => FieldType::File,
                Some("GeoPoint") => FieldType::GeoPoint,
                Some("Polygon") => FieldType::Polygon,
                Some("Bytes") => FieldType::Bytes,
                Some(other) => {
                    return Err(QueryError::new(
                        code::INCORRECT_TYPE,
                        format!("This is not a valid {other}"),
                    ));
                }
                None => FieldType::Object,
            }
        }
    }))
}

fn infer_op_type(op: &str, v: &Value) -> Result<Option<FieldType>> {
    Ok(Some(match op {
        "Delete" => return Ok(None),
        "Increment" => FieldType::Number,
        "Add" | "AddUnique" | "Remove" => FieldType::Array,
        "AddRelation" | "RemoveRelation" => {
            let first = v
                .get("objects")
                .and_then(Value::as_array)
                .and_then(|a| a.first());
            match first.and_then(as_pointer) {
                Some((class, _)) => FieldType::Relation(class.to_string()),
                None => return Ok(None),
            }
        }
        "Batch" => {
            let ops = v.get("ops").and_then(Value::as_array);
            for op in ops.into_iter().flatten() {
                if let Some(t) = infer_type(op)? {
                    return Ok(Some(t));
                }
            }
            return Ok(None);
        }
        other => {
            return Err(QueryError::new(
                code::INVALID_JSON,
                format!("Invalid operator: {other}"),
            ));
        }
    }))
}
