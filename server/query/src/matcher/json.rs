//! Comparing JSON values as Parse does: within one JSON type, numbers by value, objects by
//! their keys whatever their order.

use std::cmp::Ordering;

use serde_json::Value;

use crate::schema::FieldType;
use crate::value::as_pointer;

/// Deep equality: numbers by value (1 = 1.0), object keys in any order, arrays in order.
pub(super) fn eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => x.as_f64() == y.as_f64(),
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| eq(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| eq(v, w)))
        }
        _ => a == b,
    }
}

/// An Array element against a query value: a pointer by class and objectId, anything else by
/// [`eq`].
pub(super) fn elem_eq(element: &Value, v: &Value) -> bool {
    match as_pointer(v) {
        Some(p) => as_pointer(element) == Some(p),
        None => eq(element, v),
    }
}

/// A File in its REST form against a whole value: the database holds the file without its
/// `url`, which the server derives when it answers.
pub(super) fn file_eq(file: &Value, v: &Value) -> bool {
    match (file, v) {
        (Value::Object(f), Value::Object(w)) => {
            let stored = f.iter().filter(|(k, _)| *k != "url");
            stored.clone().count() == w.len()
                && stored
                    .into_iter()
                    .all(|(k, x)| w.get(k).is_some_and(|y| eq(x, y)))
        }
        _ => false,
    }
}

/// The order of two values of one JSON type (numbers, strings by code point, booleans); values
/// of different types, or of types without an order, are not comparable.
pub(super) fn order(x: &Value, v: &Value) -> Option<Ordering> {
    match (x, v) {
        (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

/// The value at `path` inside a field's value: an object's key, or an array's element where
/// the segment is an index (`"list.0"`). A JSON null is returned as such (it is present). A
/// File's `url` is not stored, so no path reaches it.
pub(super) fn at_path<'a>(root: &'a Value, ty: &FieldType, path: &[String]) -> Option<&'a Value> {
    if *ty == FieldType::File && path.first().is_some_and(|p| p == "url") {
        return None;
    }
    path.iter().try_fold(root, |cur, seg| match cur {
        Value::Object(o) => o.get(seg.as_str()),
        Value::Array(a) if seg.bytes().all(|b| b.is_ascii_digit()) => {
            a.get(seg.parse::<usize>().ok()?)
        }
        _ => None,
    })
}
