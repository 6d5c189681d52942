//! A write's body, parsed: each key's change (`Op`), the field types it implies, and the
//! array and nested-object arithmetic updates apply. Nothing here touches the database.

use basalt_query::FieldType;
use basalt_query::value::{as_pointer, infer_type};
use serde_json::{Map, Value};

use super::super::codec::perms_from_acl;
use crate::error::{ApiError, ApiResult, Code};
use crate::ids::ClassName;

/// One field change from a request body.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Op {
    Set(Value),
    Unset,
    Increment(f64),
    Add(Vec<Value>),
    AddUnique(Vec<Value>),
    Remove(Vec<Value>),
    AddRelation(Vec<String>),
    RemoveRelation(Vec<String>),
    Acl(Vec<String>, Vec<String>),
    /// `"field.a.b": v` — set (or with `Delete`, remove) a key inside an Object field.
    SetPath(Vec<String>, Option<Value>),
    /// `"field.key": {"__op": "Increment", "amount": n}` — add to a number one level inside
    /// an Object field. Parse on PostgreSQL does this one level deep only; deeper, the
    /// operation is stored as given (a [`Op::SetPath`]), as there.
    IncrementPath(String, f64),
}

/// A parsed request body: the changes, and the field types they imply.
pub(super) struct Changes {
    pub(super) ops: Vec<(String, Op)>,
    pub(super) types: Vec<(String, FieldType)>,
}

/// Keys Parse refuses anywhere in a body (`requestKeywordDenylist`): they mean something to
/// JavaScript object prototypes or BSON, and stored they can poison cloud code and the schema.
const PROHIBITED_KEYS: [&str; 3] = ["_bsontype", "constructor", "__proto__"];

fn check_prohibited(v: &Value) -> ApiResult<()> {
    match v {
        Value::Object(o) => {
            for (k, inner) in o {
                if PROHIBITED_KEYS.contains(&k.as_str()) {
                    return Err(ApiError::new(
                        Code::InvalidKeyName,
                        format!("Prohibited keyword in request data: {{\"key\":\"{k}\"}}."),
                    ));
                }
                check_prohibited(inner)?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(check_prohibited),
        _ => Ok(()),
    }
}

pub(super) fn parse_changes(class: &ClassName, body: &Value) -> ApiResult<Changes> {
    check_prohibited(body)?;
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::invalid_json("request body must be a JSON object"))?;
    let mut ops = Vec::with_capacity(obj.len());
    let mut types: Vec<(String, FieldType)> = Vec::new();
    for (key, value) in obj {
        match key.as_str() {
            "objectId" => {
                return Err(ApiError::new(
                    Code::InvalidKeyName,
                    "objectId is an invalid field name.",
                ));
            }
            "createdAt" | "updatedAt" => {
                // Parse refuses a client-chosen timestamp that is not a Date; a Date is ignored.
                if basalt_query::value::as_date(value).is_none() {
                    return Err(ApiError::new(
                        Code::IncorrectType,
                        format!(
                            "schema mismatch for {class}.{key}; expected Date but got {}",
                            type_name(value)
                        ),
                    ));
                }
                continue;
            }
            "ACL" => {
                let (r, w) = perms_from_acl(value)?;
                ops.push((key.clone(), Op::Acl(r, w)));
                continue;
            }
            k if k.contains('.') => {
                let mut parts = k.split('.').map(str::to_string);
                let field = parts.next().unwrap_or_default();
                let path: Vec<String> = parts.collect();
                if !basalt_query::schema::is_valid_field_name(&field)
                    || path.iter().any(|p| p.is_empty() || p.contains('$'))
                {
                    return Err(ApiError::new(
                        Code::InvalidKeyName,
                        format!("Invalid field name: {k}."),
                    ));
                }
                let op = value.get("__op").and_then(Value::as_str);
                if !types.iter().any(|(f, _)| *f == field) {
                    types.push((field.clone(), FieldType::Object));
                }
                if let ([key], Some("Increment")) = (path.as_slice(), op) {
                    let amount = value.get("amount").and_then(Value::as_f64).ok_or_else(|| {
                        ApiError::new(Code::InvalidJson, "incrementing must provide a number")
                    })?;
                    ops.push((field, Op::IncrementPath(key.clone(), amount)));
                    continue;
                }
                let delete = op == Some("Delete");
                ops.push((field, Op::SetPath(path, (!delete).then(|| value.clone()))));
                continue;
            }
            k if !basalt_query::schema::is_valid_field_name(k) => {
                return Err(ApiError::new(
                    Code::InvalidKeyName,
                    format!("Invalid field name: {k}."),
                ));
            }
            _ => {}
        }
        if let Some(t) = infer_type(value)? {
            if let Some((_, prev)) = types.iter().find(|(f, _)| f == key) {
                if *prev != t {
                    return Err(ApiError::new(
                        Code::IncorrectType,
                        format!("schema mismatch for {key}"),
                    ));
                }
            } else {
                types.push((key.clone(), t));
            }
        }
        parse_op(key, value, &mut ops)?;
    }
    Ok(Changes { ops, types })
}

fn type_name(v: &Value) -> String {
    infer_type(v)
        .ok()
        .flatten()
        .map(|t| t.to_string())
        .unwrap_or_else(|| "null".into())
}

fn op_objects<'a>(key: &str, value: &'a Value) -> ApiResult<&'a Vec<Value>> {
    value
        .get("objects")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::invalid_json(format!("objects to add must be an array for {key}")))
}

fn relation_ids(key: &str, value: &Value) -> ApiResult<Vec<String>> {
    op_objects(key, value)?
        .iter()
        .map(|p| {
            as_pointer(p).map(|(_, id)| id.to_string()).ok_or_else(|| {
                ApiError::new(
                    Code::InvalidPointer,
                    format!("{key}: relation objects must be pointers"),
                )
            })
        })
        .collect()
}

/// The update operators a body may hold (`{"__op": …}`), each one `parse_op` reads.
pub const OPERATORS: &[&str] = &[
    "Delete",
    "Increment",
    "Add",
    "AddUnique",
    "Remove",
    "AddRelation",
    "RemoveRelation",
    "Batch",
];

fn parse_op(key: &str, value: &Value, ops: &mut Vec<(String, Op)>) -> ApiResult<()> {
    let Some(op) = value
        .get("__op")
        .and_then(Value::as_str)
        .filter(|_| value.is_object())
    else {
        ops.push((
            key.to_string(),
            if value.is_null() {
                Op::Unset
            } else {
                Op::Set(value.clone())
            },
        ));
        return Ok(());
    };
    let parsed = match op {
        "Delete" => Op::Unset,
        "Increment" => {
            let amount = value
                .get("amount")
                .and_then(Value::as_f64)
                .filter(|f| f.is_finite())
                .ok_or_else(|| ApiError::invalid_json("Increment amount must be a number"))?;
            Op::Increment(amount)
        }
        "Add" => Op::Add(op_objects(key, value)?.clone()),
        "AddUnique" => Op::AddUnique(op_objects(key, value)?.clone()),
        "Remove" => Op::Remove(op_objects(key, value)?.clone()),
        "AddRelation" => Op::AddRelation(relation_ids(key, value)?),
        "RemoveRelation" => Op::RemoveRelation(relation_ids(key, value)?),
        "Batch" => {
            let subs = value
                .get("ops")
                .and_then(Value::as_array)
                .ok_or_else(|| ApiError::invalid_json("Batch ops must be an array"))?;
            for sub in subs {
                match sub.get("__op").and_then(Value::as_str) {
                    Some("AddRelation" | "RemoveRelation") => parse_op(key, sub, ops)?,
                    _ => {
                        return Err(ApiError::invalid_json(
                            "Batch may only hold AddRelation and RemoveRelation",
                        ));
                    }
                }
            }
            return Ok(());
        }
        other => return Err(ApiError::invalid_json(format!("Invalid operator: {other}"))),
    };
    ops.push((key.to_string(), parsed));
    Ok(())
}

/// Element equality for AddUnique and Remove (pointers compare by class and id).
fn same(a: &Value, b: &Value) -> bool {
    match (as_pointer(a), as_pointer(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Sets (or removes) `path` inside an Object value, creating intermediate objects.
pub(super) fn apply_path(current: Option<Value>, path: &[String], value: Option<&Value>) -> Value {
    let mut root = match current {
        Some(Value::Object(m)) => Value::Object(m),
        _ => Value::Object(Map::new()),
    };
    let mut node = &mut root;
    for (i, key) in path.iter().enumerate() {
        let Value::Object(map) = node else { break };
        if i + 1 == path.len() {
            match value {
                Some(v) => {
                    map.insert(key.clone(), v.clone());
                }
                None => {
                    map.remove(key);
                }
            }
            break;
        }
        let child = map
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        if !child.is_object() {
            *child = Value::Object(Map::new());
        }
        node = child;
    }
    root
}

/// `object` (an Object field's value, or nothing yet) with `key` increased by `amount`, and
/// the key's new value; 111 if the key holds something other than a number.
pub(super) fn increment_key(
    object: Option<Value>,
    field: &str,
    key: &str,
    amount: f64,
) -> ApiResult<(Value, Value)> {
    let mut map = match object {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let now = match map.get(key) {
        None | Some(Value::Null) => 0.0,
        Some(v) => v.as_f64().ok_or_else(|| {
            ApiError::new(
                Code::IncorrectType,
                format!("Cannot increment {field}.{key}: it is not a number."),
            )
        })?,
    };
    let next = crate::rest::codec::number(now + amount);
    map.insert(key.to_string(), next.clone());
    Ok((Value::Object(map), next))
}

pub(super) fn apply_array(current: Option<Vec<Value>>, op: &Op) -> Vec<Value> {
    let mut cur = current.unwrap_or_default();
    match op {
        Op::Add(items) => cur.extend(items.iter().cloned()),
        Op::AddUnique(items) => {
            for i in items {
                if !cur.iter().any(|c| same(c, i)) {
                    cur.push(i.clone());
                }
            }
        }
        Op::Remove(items) => cur.retain(|c| !items.iter().any(|i| same(c, i))),
        _ => {}
    }
    cur
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `OPERATORS` (what a beforeSave is allowed to see) is exactly what `parse_op` reads.
    #[test]
    fn the_operator_list_is_what_parse_op_reads() {
        let body =
            |op: &str| serde_json::json!({"__op": op, "amount": 1, "objects": [], "ops": []});
        for op in OPERATORS {
            assert!(parse_op("f", &body(op), &mut Vec::new()).is_ok(), "{op}");
        }
        assert!(parse_op("f", &body("Bad"), &mut Vec::new()).is_err());
    }
}
