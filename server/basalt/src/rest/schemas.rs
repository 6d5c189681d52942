//! `/schemas` bodies: field definitions, class-level permissions and indexes, validated with
//! Parse's messages, then applied through [`crate::schema::Schemas`].

use basalt_query::schema::{is_default_field, is_valid_field_name};
use basalt_query::{ClassSchema, FieldType};
use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult, Code};
use crate::ids::ClassName;
use crate::realtime::bus::Invalidation;
use crate::schema::SchemaChange;
use crate::state::AppState;

const CLP_OPERATIONS: &[&str] = &[
    "find",
    "count",
    "get",
    "create",
    "update",
    "delete",
    "addField",
    "readUserFields",
    "writeUserFields",
    "protectedFields",
    "ACL",
];

fn parse_field(class: &str, name: &str, def: &Value) -> ApiResult<FieldType> {
    if is_default_field(class, name) {
        return Err(ApiError::with_code(
            136,
            format!("field {name} cannot be added"),
        ));
    }
    if !is_valid_field_name(name) {
        return Err(ApiError::new(
            Code::InvalidKeyName,
            format!("invalid field name: {name}"),
        ));
    }
    let ty = FieldType::from_json(def)?;
    if matches!(ty, FieldType::Acl) {
        return Err(ApiError::new(
            Code::IncorrectType,
            "invalid field type: ACL",
        ));
    }
    if let Some(target) = ty.target_class()
        && !basalt_query::schema::is_valid_class_name(target)
    {
        return Err(ApiError::new(
            Code::InvalidClassName,
            format!(
                "Invalid classname: {target}, classnames can only have alphanumeric characters and _, and must start with an alpha character "
            ),
        ));
    }
    Ok(ty)
}

/// Checks class-level permissions: known operations, and `{entity: true}` maps (pointer-field
/// lists for `readUserFields`/`writeUserFields`, field lists for `protectedFields`).
/// A CLP as given replaces the stored one whole: an operation it leaves out is open to nobody
/// (`{}`), and `protectedFields` is always present, as Parse stores it.
fn complete_clp(clp: &Value) -> Value {
    let mut out = clp.clone();
    if let Some(o) = out.as_object_mut() {
        for op in [
            "find", "count", "get", "create", "update", "delete", "addField",
        ] {
            o.entry(op).or_insert_with(|| serde_json::json!({}));
        }
        o.entry("protectedFields")
            .or_insert_with(|| serde_json::json!({}));
    }
    out
}

fn validate_clp(clp: &Value) -> ApiResult<()> {
    let obj = clp
        .as_object()
        .ok_or_else(|| ApiError::invalid_json("class level permissions must be an object"))?;
    for (op, perms) in obj {
        if !CLP_OPERATIONS.contains(&op.as_str()) {
            return Err(ApiError::invalid_json(format!(
                "{op} is not a valid operation for class level permissions"
            )));
        }
        match op.as_str() {
            "readUserFields" | "writeUserFields" => {
                if !perms
                    .as_array()
                    .is_some_and(|a| a.iter().all(Value::is_string))
                {
                    return Err(ApiError::invalid_json(format!(
                        "'{perms}' is not a valid value for class level permissions {op}"
                    )));
                }
            }
            "protectedFields" => {
                let ok = perms.as_object().is_some_and(|m| {
                    m.values()
                        .all(|v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
                });
                if !ok {
                    return Err(ApiError::invalid_json(format!(
                        "'{perms}' is not a valid value for class level permissions {op}"
                    )));
                }
            }
            "ACL" => {}
            _ => {
                let m = perms.as_object().ok_or_else(|| {
                    ApiError::invalid_json(format!(
                        "'{perms}' is not a valid value for class level permissions {op}"
                    ))
                })?;
                for (who, v) in m {
                    let ok = match who.as_str() {
                        "pointerFields" => {
                            v.as_array().is_some_and(|a| a.iter().all(Value::is_string))
                        }
                        "requiresAuthentication" => v.as_bool().is_some(),
                        _ => v == &Value::Bool(true),
                    };
                    if !ok {
                        let shown = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                        return Err(ApiError::invalid_json(format!(
                            "'{shown}' is not a valid value for class level permissions acl {op}:{who}"
                        )));
                    }
                }
            }
        }
    }
    Ok(())
}

fn class_name_in_body(path_class: &ClassName, body: &Value) -> ApiResult<()> {
    match body.get("className").and_then(Value::as_str) {
        Some(b) if b != path_class.as_str() => Err(ApiError::new(
            Code::InvalidClassName,
            format!("Class name mismatch between {b} and {path_class}."),
        )),
        _ => Ok(()),
    }
}

fn fields_of(body: &Value) -> Option<&Map<String, Value>> {
    body.get("fields").and_then(Value::as_object)
}

pub fn list(state: &AppState) -> Value {
    let results: Vec<Value> = state.schemas.all().iter().map(|s| s.to_json()).collect();
    json!({ "results": results })
}

pub fn get(state: &AppState, class: &ClassName) -> ApiResult<Value> {
    state
        .schemas
        .get(class.as_str())
        .map(|s| s.to_json())
        .ok_or_else(|| {
            ApiError::new(
                Code::InvalidClassName,
                format!("Class {class} does not exist."),
            )
        })
}

pub async fn create(state: &AppState, class: &ClassName, body: &Value) -> ApiResult<Value> {
    class_name_in_body(class, body)?;
    if !class.is_creatable() {
        return Err(crate::schema::invalid_class_name(class.as_str()));
    }
    let mut schema = ClassSchema::new(class.as_str());
    for (name, def) in fields_of(body).into_iter().flatten() {
        schema
            .fields
            .insert(name.clone(), parse_field(class.as_str(), name, def)?);
        if let Some(o) = basalt_query::schema::FieldOptions::from_json(def) {
            schema.field_options.insert(name.clone(), o);
        }
    }
    if let Some(clp) = body.get("classLevelPermissions").filter(|c| !c.is_null()) {
        validate_clp(clp)?;
        schema.class_level_permissions = complete_clp(clp);
    }
    if let Some(idx) = body.get("indexes").and_then(Value::as_object) {
        schema.indexes = idx.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    }
    let created = state.schemas.create(&state.storage, schema).await?;
    state.realtime.invalidate(Invalidation::Schema);
    Ok(created.to_json())
}

pub async fn update(state: &AppState, class: &ClassName, body: &Value) -> ApiResult<Value> {
    class_name_in_body(class, body)?;
    let existing = state.schemas.get(class.as_str()).ok_or_else(|| {
        ApiError::new(
            Code::InvalidClassName,
            format!("Class {class} does not exist."),
        )
    })?;
    let mut change = SchemaChange::default();
    for (name, def) in fields_of(body).into_iter().flatten() {
        if def.get("__op").and_then(Value::as_str) == Some("Delete") {
            change.delete_fields.push(name.clone());
            continue;
        }
        // A field the class has (a default one included) may be sent again with its type, as
        // Parse allows; only a new field is checked as a new one.
        match existing.field(name) {
            Some(t) => {
                if FieldType::from_json(def).ok().as_ref() != Some(t) {
                    return Err(ApiError::with_code(
                        255,
                        format!("Field {name} exists, cannot update."),
                    ));
                }
            }
            None => change
                .add_fields
                .push((name.clone(), parse_field(class.as_str(), name, def)?)),
        }
    }
    if let Some(idx) = body.get("indexes").and_then(Value::as_object) {
        for (name, spec) in idx {
            if spec.get("__op").and_then(Value::as_str) == Some("Delete") {
                change.delete_indexes.push(name.clone());
            } else {
                change.add_indexes.push((name.clone(), spec.clone()));
            }
        }
    }
    if let Some(clp) = body.get("classLevelPermissions").filter(|c| !c.is_null()) {
        validate_clp(clp)?;
        change.class_level_permissions = Some(complete_clp(clp));
    }
    let updated = state
        .schemas
        .update(&state.storage, class.as_str(), change)
        .await?;
    state.realtime.invalidate(Invalidation::Schema);
    Ok(updated.to_json())
}

pub async fn delete(state: &AppState, class: &ClassName) -> ApiResult<Value> {
    state.schemas.delete(&state.storage, class.as_str()).await?;
    state.realtime.invalidate(Invalidation::Schema);
    Ok(json!({}))
}
