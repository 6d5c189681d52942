//! The LiveQuery wire protocol: client frames checked as Parse Server checks them (a JSON schema
//! per `op`, reported as its validator words the first problem, code 1), and the frames the
//! server sends.

use serde_json::{Map, Number, Value, json};

/// A client frame that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Connect(Connect),
    /// `subscribe`, or `update` (`replace`): the subscription under `request_id` is replaced.
    Subscribe {
        sub: SubscribeRequest,
        replace: bool,
    },
    Unsubscribe {
        request_id: Number,
    },
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Connect {
    pub application_id: String,
    pub master_key: Option<String>,
    /// javascriptKey, clientKey, restAPIKey, windowsKey: whichever the client sent.
    pub client_keys: Vec<String>,
    pub session_token: Option<String>,
    pub installation_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubscribeRequest {
    pub request_id: Number,
    pub class_name: String,
    pub where_: Value,
    pub keys: Option<Vec<String>>,
    pub watch: Option<Vec<String>>,
    pub session_token: Option<String>,
}

/// A refused frame: Parse's LiveQuery error code and message.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    pub code: i64,
    pub message: String,
}

fn invalid(message: impl Into<String>) -> Invalid {
    Invalid {
        code: 1,
        message: message.into(),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn wrong_type(v: &Value, expected: &str) -> Invalid {
    invalid(format!(
        "Invalid type: {} (expected {expected})",
        type_name(v)
    ))
}

/// Checks the properties of `obj`: `required` present, each known one of its kind, nothing else.
fn check_object(
    obj: &Map<String, Value>,
    required: &[&str],
    known: &[(&str, Kind)],
) -> Result<(), Invalid> {
    for r in required {
        if !obj.contains_key(*r) {
            return Err(invalid(format!("Missing required property: {r}")));
        }
    }
    for (name, kind) in known {
        if let Some(v) = obj.get(*name) {
            kind.check(v)?;
        }
    }
    if obj.keys().any(|k| !known.iter().any(|(n, _)| n == k)) {
        return Err(invalid("Additional properties not allowed"));
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Kind {
    String,
    Number,
    Object,
    /// An array of distinct strings, not empty.
    Names,
    Any,
}

impl Kind {
    fn check(self, v: &Value) -> Result<(), Invalid> {
        match (self, v) {
            (Kind::Any, _)
            | (Kind::String, Value::String(_))
            | (Kind::Number, Value::Number(_))
            | (Kind::Object, Value::Object(_)) => Ok(()),
            (Kind::Names, Value::Array(items)) => {
                if items.is_empty() {
                    return Err(invalid("Array is too short (0), minimum 1"));
                }
                for (i, item) in items.iter().enumerate() {
                    if !item.is_string() {
                        return Err(wrong_type(item, "string"));
                    }
                    if items[..i].contains(item) {
                        return Err(invalid("Array items are not unique (indices 0 and 1)"));
                    }
                }
                Ok(())
            }
            (Kind::String, v) => Err(wrong_type(v, "string")),
            (Kind::Number, v) => Err(wrong_type(v, "number")),
            (Kind::Object, v) => Err(wrong_type(v, "object")),
            (Kind::Names, v) => Err(wrong_type(v, "array")),
        }
    }
}

fn string(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_string)
}

fn names(obj: &Map<String, Value>, key: &str) -> Option<Vec<String>> {
    obj.get(key).and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    })
}

const CONNECT: &[(&str, Kind)] = &[
    ("op", Kind::Any),
    ("applicationId", Kind::String),
    ("javascriptKey", Kind::String),
    ("masterKey", Kind::String),
    ("clientKey", Kind::String),
    ("windowsKey", Kind::String),
    ("restAPIKey", Kind::String),
    ("sessionToken", Kind::String),
    ("installationId", Kind::String),
];

const SUBSCRIBE: &[(&str, Kind)] = &[
    ("op", Kind::Any),
    ("requestId", Kind::Number),
    ("query", Kind::Object),
    ("sessionToken", Kind::String),
];

const QUERY: &[(&str, Kind)] = &[
    ("className", Kind::String),
    ("where", Kind::Object),
    ("keys", Kind::Names),
    ("watch", Kind::Names),
];

/// Parses one text frame. `Ok(None)`: not JSON at all, which Parse ignores without an answer.
pub fn parse(text: &str) -> Result<Option<Request>, Invalid> {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return Ok(None);
    };
    let Value::Object(obj) = v else {
        return Err(wrong_type(&v, "object"));
    };
    let op = match obj.get("op") {
        None => return Err(invalid("Missing required property: op")),
        Some(Value::String(op)) => op.as_str(),
        Some(other) => return Err(wrong_type(other, "string")),
    };
    match op {
        "connect" => {
            check_object(&obj, &["op", "applicationId"], CONNECT)?;
            Ok(Some(Request::Connect(Connect {
                application_id: string(&obj, "applicationId").unwrap_or_default(),
                master_key: string(&obj, "masterKey"),
                client_keys: ["javascriptKey", "clientKey", "restAPIKey", "windowsKey"]
                    .iter()
                    .filter_map(|k| string(&obj, k))
                    .collect(),
                session_token: string(&obj, "sessionToken"),
                installation_id: string(&obj, "installationId"),
            })))
        }
        "subscribe" | "update" => {
            check_object(&obj, &["op", "requestId", "query"], SUBSCRIBE)?;
            let query = obj
                .get("query")
                .and_then(Value::as_object)
                .ok_or_else(|| invalid("Missing required property: query"))?;
            check_object(query, &["where", "className"], QUERY)?;
            Ok(Some(Request::Subscribe {
                sub: SubscribeRequest {
                    request_id: request_id(&obj)?,
                    class_name: string(query, "className").unwrap_or_default(),
                    where_: query.get("where").cloned().unwrap_or(Value::Null),
                    keys: names(query, "keys"),
                    watch: names(query, "watch"),
                    session_token: string(&obj, "sessionToken"),
                },
                replace: op == "update",
            }))
        }
        "unsubscribe" => {
            check_object(
                &obj,
                &["op", "requestId"],
                &[("op", Kind::Any), ("requestId", Kind::Number)],
            )?;
            Ok(Some(Request::Unsubscribe {
                request_id: request_id(&obj)?,
            }))
        }
        other => Err(invalid(format!("No enum match for: \"{other}\""))),
    }
}

fn request_id(obj: &Map<String, Value>) -> Result<Number, Invalid> {
    match obj.get("requestId") {
        Some(Value::Number(n)) => Ok(n.clone()),
        _ => Err(invalid("Missing required property: requestId")),
    }
}

/// `{"op":"error",…}`: `reconnect` tells the SDK whether to try again.
pub fn error(code: i64, message: &str, reconnect: bool, request_id: Option<&Number>) -> String {
    json!({
        "op": "error",
        "error": message,
        "code": code,
        "reconnect": reconnect,
        "requestId": request_id,
    })
    .to_string()
}

/// `connected`, `subscribed`, `unsubscribed`: no object.
pub fn ack(
    op: &str,
    client_id: &str,
    installation_id: Option<&str>,
    request_id: Option<&Number>,
) -> String {
    let mut m = Map::new();
    m.insert("op".into(), Value::from(op));
    m.insert("clientId".into(), Value::from(client_id));
    if let Some(i) = installation_id {
        m.insert("installationId".into(), Value::from(i));
    }
    if let Some(r) = request_id {
        m.insert("requestId".into(), Value::Number(r.clone()));
    }
    Value::Object(m).to_string()
}

/// An event frame (`create`, `enter`, `update`, `leave`, `delete`) around an object already
/// rendered as JSON text, which many subscribers share. `ids` is the client's
/// `"clientId":…,"installationId":…`, also rendered once.
pub fn event_frame(
    op: &str,
    ids: &str,
    request_id: &Number,
    object: &str,
    original: Option<&str>,
) -> String {
    let mut f = String::with_capacity(object.len() + original.map_or(0, str::len) + 128);
    f.push_str("{\"op\":\"");
    f.push_str(op);
    f.push_str("\",");
    f.push_str(ids);
    f.push_str(",\"requestId\":");
    f.push_str(&request_id.to_string());
    f.push_str(",\"object\":");
    f.push_str(object);
    if let Some(o) = original {
        f.push_str(",\"original\":");
        f.push_str(o);
    }
    f.push('}');
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match parse(text) {
            Err(e) => e.message,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn refuses_frames_as_parse_words_it() {
        assert_eq!(err(r#"{"op":"foo"}"#), "No enum match for: \"foo\"");
        assert_eq!(err(r#"{"x":1}"#), "Missing required property: op");
        assert_eq!(err("[1]"), "Invalid type: array (expected object)");
        assert_eq!(
            err(r#"{"op":"connect"}"#),
            "Missing required property: applicationId"
        );
        assert_eq!(
            err(r#"{"op":"connect","applicationId":"a","extra":1}"#),
            "Additional properties not allowed"
        );
        assert_eq!(
            err(r#"{"op":"subscribe","requestId":"x","query":{"className":"A","where":{}}}"#),
            "Invalid type: string (expected number)"
        );
        assert_eq!(
            err(r#"{"op":"subscribe","requestId":1,"query":{"className":"A"}}"#),
            "Missing required property: where"
        );
        assert_eq!(
            err(
                r#"{"op":"subscribe","requestId":1,"query":{"className":"A","where":{},"keys":[]}}"#
            ),
            "Array is too short (0), minimum 1"
        );
        assert_eq!(parse("not json"), Ok(None));
    }

    #[test]
    fn event_frames_are_json_with_parse_field_order() {
        let ids = r#""clientId":"c1","installationId":"i\"1""#;
        let f = event_frame(
            "update",
            ids,
            &Number::from(2),
            r#"{"a":1}"#,
            Some(r#"{"a":0}"#),
        );
        assert_eq!(
            f,
            r#"{"op":"update","clientId":"c1","installationId":"i\"1","requestId":2,"object":{"a":1},"original":{"a":0}}"#
        );
        let v: Value = serde_json::from_str(&f).expect("valid JSON");
        assert_eq!(v["original"]["a"], 0);
        assert_eq!(v["installationId"], "i\"1");
    }

    #[test]
    fn reads_a_subscription() {
        let r = parse(
            r#"{"op":"update","requestId":3,"sessionToken":"t","query":{"className":"A","where":{"n":1},"keys":["n"],"watch":["n"]}}"#,
        );
        let Ok(Some(Request::Subscribe { sub, replace })) = r else {
            panic!("not a subscription: {r:?}");
        };
        assert!(replace);
        assert_eq!(sub.request_id, Number::from(3));
        assert_eq!(sub.class_name, "A");
        assert_eq!(sub.keys, Some(vec!["n".to_string()]));
        assert_eq!(sub.session_token.as_deref(), Some("t"));
    }
}
