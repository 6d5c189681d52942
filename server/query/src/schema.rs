//! Field types and class schemas as Parse describes them in `/schemas`.

use indexmap::IndexMap;
use serde_json::{Value, json};

use crate::error::{QueryError, Result, code};

/// A Parse field type. Pointer and Relation carry their target class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldType {
    String,
    Number,
    Boolean,
    Date,
    Object,
    Array,
    Pointer(String),
    Relation(String),
    File,
    GeoPoint,
    Polygon,
    Bytes,
    Acl,
}

/// How a field is stored: one column per field, typed where the databases can compare natively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// String, Pointer (the target's objectId).
    Text,
    /// Number, stored as a double.
    Float,
    Boolean,
    /// timestamptz on PostgreSQL; ISO-8601 text with milliseconds on SQLite (sorts correctly).
    Date,
    /// Object, Array, File, GeoPoint, Polygon, Bytes: jsonb on PostgreSQL, JSON text on SQLite.
    Json,
}

impl FieldType {
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::String => "String",
            FieldType::Number => "Number",
            FieldType::Boolean => "Boolean",
            FieldType::Date => "Date",
            FieldType::Object => "Object",
            FieldType::Array => "Array",
            FieldType::Pointer(_) => "Pointer",
            FieldType::Relation(_) => "Relation",
            FieldType::File => "File",
            FieldType::GeoPoint => "GeoPoint",
            FieldType::Polygon => "Polygon",
            FieldType::Bytes => "Bytes",
            FieldType::Acl => "ACL",
        }
    }

    /// The column this type is stored in; Relation lives in a join table and ACL in `_rperm`/`_wperm`.
    pub fn column(&self) -> Option<ColumnKind> {
        Some(match self {
            FieldType::String | FieldType::Pointer(_) => ColumnKind::Text,
            FieldType::Number => ColumnKind::Float,
            FieldType::Boolean => ColumnKind::Boolean,
            FieldType::Date => ColumnKind::Date,
            FieldType::Object
            | FieldType::Array
            | FieldType::File
            | FieldType::GeoPoint
            | FieldType::Polygon
            | FieldType::Bytes => ColumnKind::Json,
            FieldType::Relation(_) | FieldType::Acl => return None,
        })
    }

    pub fn target_class(&self) -> Option<&str> {
        match self {
            FieldType::Pointer(t) | FieldType::Relation(t) => Some(t),
            _ => None,
        }
    }

    /// `{"type": "Pointer", "targetClass": "X"}` as `/schemas` shows it.
    pub fn to_json(&self) -> Value {
        match self.target_class() {
            Some(t) => json!({ "type": self.name(), "targetClass": t }),
            None => json!({ "type": self.name() }),
        }
    }

    /// Parses a `/schemas` field definition.
    pub fn from_json(def: &Value) -> Result<Self> {
        let ty = def.get("type").and_then(Value::as_str).ok_or_else(|| {
            QueryError::new(
                code::INVALID_JSON,
                "invalid field type: undefined".to_string(),
            )
        })?;
        let target = || -> Result<String> {
            match def.get("targetClass") {
                Some(Value::String(t)) => Ok(t.clone()),
                Some(_) => Err(QueryError::new(code::INVALID_JSON, "invalid class name")),
                None => Err(QueryError::new(
                    135,
                    format!("type {ty} needs a class name"),
                )),
            }
        };
        Ok(match ty {
            "String" => FieldType::String,
            "Number" => FieldType::Number,
            "Boolean" => FieldType::Boolean,
            "Date" => FieldType::Date,
            "Object" => FieldType::Object,
            "Array" => FieldType::Array,
            "Pointer" => FieldType::Pointer(target()?),
            "Relation" => FieldType::Relation(target()?),
            "File" => FieldType::File,
            "GeoPoint" => FieldType::GeoPoint,
            "Polygon" => FieldType::Polygon,
            "Bytes" => FieldType::Bytes,
            "ACL" => FieldType::Acl,
            other => {
                return Err(QueryError::new(
                    code::INCORRECT_TYPE,
                    format!("invalid field type: {other}"),
                ));
            }
        })
    }
}

/// A field's `required` flag and `defaultValue`, as `/schemas` declares them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldOptions {
    pub required: bool,
    pub default_value: Option<Value>,
}

impl FieldOptions {
    /// The options in a field definition, if it has any.
    pub fn from_json(def: &Value) -> Option<Self> {
        let o = Self {
            required: def
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            default_value: def.get("defaultValue").filter(|v| !v.is_null()).cloned(),
        };
        (o.required || o.default_value.is_some()).then_some(o)
    }
}

/// The fields every class has, in the order `/schemas` lists them.
pub fn default_fields() -> IndexMap<String, FieldType> {
    IndexMap::from([
        ("objectId".to_string(), FieldType::String),
        ("createdAt".to_string(), FieldType::Date),
        ("updatedAt".to_string(), FieldType::Date),
        ("ACL".to_string(), FieldType::Acl),
    ])
}

/// Whether `field` is one of Parse's default columns of `class` (`defaultColumns` in Parse
/// Server's SchemaController): the four every class has, and those a system class is born
/// with. `/schemas` may not delete them (136, "cannot be changed").
pub fn is_default_field(class: &str, field: &str) -> bool {
    if matches!(field, "objectId" | "createdAt" | "updatedAt" | "ACL") {
        return true;
    }
    let own: &[&str] = match class {
        "_User" => &["username", "password", "email", "emailVerified", "authData"],
        "_Installation" => &[
            "installationId",
            "deviceToken",
            "channels",
            "deviceType",
            "pushType",
            "GCMSenderId",
            "timeZone",
            "localeIdentifier",
            "badge",
            "appVersion",
            "appName",
            "appIdentifier",
            "parseVersion",
        ],
        "_Role" => &["name", "users", "roles"],
        "_Session" => &[
            "user",
            "installationId",
            "sessionToken",
            "expiresAt",
            "createdWith",
        ],
        "_Product" => &[
            "productIdentifier",
            "download",
            "downloadName",
            "icon",
            "order",
            "title",
            "subtitle",
        ],
        "_PushStatus" => &[
            "pushTime",
            "source",
            "query",
            "payload",
            "title",
            "expiry",
            "expiration_interval",
            "status",
            "numSent",
            "numFailed",
            "pushHash",
            "errorMessage",
            "sentPerType",
            "failedPerType",
            "sentPerUTCOffset",
            "failedPerUTCOffset",
            "count",
        ],
        "_JobStatus" => &[
            "jobName",
            "source",
            "status",
            "message",
            "params",
            "finishedAt",
        ],
        "_JobSchedule" => &[
            "jobName",
            "description",
            "params",
            "startAfter",
            "daysOfWeek",
            "timeOfDay",
            "lastRun",
            "repeatMinutes",
        ],
        "_Hooks" => &["functionName", "className", "triggerName", "url"],
        "_Audience" => &["name", "query", "lastUsed", "timesUsed"],
        "_Idempotency" => &["reqId", "expire"],
        _ => &[],
    };
    own.contains(&field)
}

/// A class as stored in `_SCHEMA`: its fields, class-level permissions and declared indexes.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassSchema {
    pub class_name: String,
    pub fields: IndexMap<String, FieldType>,
    /// `required` and `defaultValue` of the fields that have them.
    pub field_options: IndexMap<String, FieldOptions>,
    pub class_level_permissions: Value,
    pub indexes: IndexMap<String, Value>,
}

impl ClassSchema {
    pub fn new(class_name: &str) -> Self {
        Self {
            class_name: class_name.to_string(),
            fields: default_fields(),
            field_options: IndexMap::new(),
            class_level_permissions: default_clp(),
            indexes: IndexMap::new(),
        }
    }

    pub fn field(&self, name: &str) -> Option<&FieldType> {
        self.fields.get(name)
    }

    /// The body `/schemas/:className` answers with.
    pub fn to_json(&self) -> Value {
        let mut fields = self.fields.clone();
        if let Some((after, name)) = virtual_field(&self.class_name)
            && let Some(i) = fields.get_index_of(after)
        {
            fields.shift_insert(i + 1, name.to_string(), FieldType::String);
        }
        let fields: serde_json::Map<String, Value> = fields
            .iter()
            .map(|(k, t)| {
                let mut def = t.to_json();
                if let Some(o) = self.field_options.get(k) {
                    if o.required {
                        def["required"] = Value::Bool(true);
                    }
                    if let Some(d) = &o.default_value {
                        def["defaultValue"] = d.clone();
                    }
                }
                (k.clone(), def)
            })
            .collect();
        let mut out = json!({
            "className": self.class_name,
            "fields": fields,
            "classLevelPermissions": self.class_level_permissions,
        });
        if !self.indexes.is_empty() {
            let idx: serde_json::Map<String, Value> = self
                .indexes
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            out["indexes"] = Value::Object(idx);
        }
        out
    }
}

/// A field Parse lists in a system class's schema but that is never stored as a column:
/// `_User.password` (kept as a hash in `_hashed_password`) and `_Session.sessionToken` (kept as
/// a hash in `_token_hash`), with the field it is listed after. Queries and reads never see it.
pub fn virtual_field(class: &str) -> Option<(&'static str, &'static str)> {
    match class {
        "_User" => Some(("username", "password")),
        "_Session" => Some(("installationId", "sessionToken")),
        _ => None,
    }
}

/// Parse's default class-level permissions: everything open to everyone.
pub fn default_clp() -> Value {
    json!({
        "ACL": {"*": {"read": true, "write": true}},
        "find": {"*": true},
        "count": {"*": true},
        "get": {"*": true},
        "create": {"*": true},
        "update": {"*": true},
        "delete": {"*": true},
        "addField": {"*": true},
        "protectedFields": {"*": []}
    })
}

/// Whether `name` may name a class: a letter then letters, digits and underscores, or one of
/// Parse's system classes.
pub fn is_valid_class_name(name: &str) -> bool {
    const SYSTEM: &[&str] = &[
        "_User",
        "_Installation",
        "_Role",
        "_Session",
        "_Product",
        "_PushStatus",
        "_JobStatus",
        "_JobSchedule",
        // Webhooks (master key only), kept as Parse keeps them.
        "_Hooks",
        "_Audience",
        "_Idempotency",
    ];
    SYSTEM.contains(&name) || is_valid_field_name(name)
}

/// A field name: a letter, then letters, digits and underscores.
pub fn is_valid_field_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 128
}

impl ClassSchema {
    /// Reads the stored form (the same JSON `/schemas` shows).
    pub fn from_json(v: &Value) -> Result<Self> {
        let class_name = v
            .get("className")
            .and_then(Value::as_str)
            .ok_or_else(|| QueryError::invalid_json("schema without className"))?;
        let mut s = ClassSchema::new(class_name);
        if let Some(fields) = v.get("fields").and_then(Value::as_object) {
            for (name, def) in fields {
                if virtual_field(class_name).is_some_and(|(_, v)| v == name) {
                    continue;
                }
                s.fields.insert(name.clone(), FieldType::from_json(def)?);
                if let Some(o) = FieldOptions::from_json(def) {
                    s.field_options.insert(name.clone(), o);
                }
            }
        }
        if let Some(clp) = v.get("classLevelPermissions").filter(|c| c.is_object()) {
            s.class_level_permissions = clp.clone();
        }
        if let Some(idx) = v.get("indexes").and_then(Value::as_object) {
            s.indexes = idx.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        }
        Ok(s)
    }
}

impl std::fmt::Display for FieldType {
    /// As Parse writes types in error messages: `Pointer<_User>`, `Relation<Post>`, `String`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.target_class() {
            Some(t) => write!(f, "{}<{t}>", self.name()),
            None => f.write_str(self.name()),
        }
    }
}
