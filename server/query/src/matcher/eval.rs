//! Evaluating a compiled filter on one object: each field read as its column would hold it.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{ElementTest, Field, Leaf, Node, PathTest, Right, Target, geo, json};
use crate::filter::CmpOp;
use crate::schema::FieldType;
use crate::value::{GeoPoint, as_date, as_pointer, parse_iso};

/// A literal converted for a typed column, as the SQL path binds it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Scalar {
    Text(String),
    Float(f64),
    Bool(bool),
    Date(DateTime<Utc>),
}

/// A typed column's value in one object.
enum Cell<'a> {
    Text(&'a str),
    Float(f64),
    Bool(bool),
    Date(DateTime<Utc>),
}

impl<'a> Cell<'a> {
    /// The column value of a field in its REST form; a value the column could not hold is NULL.
    fn read(ty: &FieldType, v: &'a Value) -> Option<Self> {
        match ty {
            FieldType::String => v.as_str().map(Cell::Text),
            FieldType::Number => v.as_f64().map(Cell::Float),
            FieldType::Boolean => v.as_bool().map(Cell::Bool),
            // `createdAt`/`updatedAt` are ISO strings in the REST form, other Dates `__type`d.
            FieldType::Date => match v {
                Value::String(s) => parse_iso(s),
                _ => as_date(v),
            }
            .map(Cell::Date),
            FieldType::Pointer(_) => as_pointer(v).map(|(_, id)| Cell::Text(id)),
            _ => None,
        }
    }

    fn compare(&self, lit: &Scalar) -> Option<Ordering> {
        match (self, lit) {
            (Cell::Text(a), Scalar::Text(b)) => Some((*a).cmp(b.as_str())),
            (Cell::Float(a), Scalar::Float(b)) => a.partial_cmp(b),
            (Cell::Bool(a), Scalar::Bool(b)) => Some(a.cmp(b)),
            (Cell::Date(a), Scalar::Date(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

/// Whether `op` holds for an ordering of the stored value against the literal.
fn holds(op: CmpOp, o: Ordering) -> bool {
    match op {
        CmpOp::Eq => o == Ordering::Equal,
        CmpOp::Ne => o != Ordering::Equal,
        CmpOp::Lt => o == Ordering::Less,
        CmpOp::Lte => o != Ordering::Greater,
        CmpOp::Gt => o == Ordering::Greater,
        CmpOp::Gte => o != Ordering::Less,
    }
}

/// A field's value, None when the object lacks it (the server leaves NULL columns out).
fn value<'a>(obj: &'a Map<String, Value>, field: &Field) -> Option<&'a Value> {
    obj.get(&field.name).filter(|v| !v.is_null())
}

/// The `_rperm`/`_wperm` entries of an object's ACL, None without an ACL.
fn perms(obj: &Map<String, Value>, right: Right) -> Option<impl Iterator<Item = &str>> {
    let key = match right {
        Right::Read => "read",
        Right::Write => "write",
    };
    let acl = obj.get("ACL")?.as_object()?;
    Some(
        acl.iter()
            .filter(move |(_, r)| r.get(key).and_then(Value::as_bool) == Some(true))
            .map(|(who, _)| who.as_str()),
    )
}

fn geo_point(v: &Value) -> Option<GeoPoint> {
    Some(GeoPoint {
        latitude: v.get("latitude")?.as_f64()?,
        longitude: v.get("longitude")?.as_f64()?,
    })
}

impl Node {
    pub(super) fn eval(&self, obj: &Map<String, Value>) -> bool {
        match self {
            Node::Const(b) => *b,
            Node::And(ns) => ns.iter().all(|n| n.eval(obj)),
            Node::Or(ns) => ns.iter().any(|n| n.eval(obj)),
            Node::Nor(ns) => !ns.iter().any(|n| n.eval(obj)),
            Node::Leaf(l) => l.eval(obj),
        }
    }
}

impl Target {
    /// The value a presence test or a regex reads; a JSON null inside an Object is present.
    fn read<'a>(&self, obj: &'a Map<String, Value>) -> Option<&'a Value> {
        match self {
            Target::Column(f) => value(obj, f),
            Target::Path(f, path) => json::at_path(value(obj, f)?, &f.ty, path),
            Target::Perms(_) => None,
        }
    }

    fn present(&self, obj: &Map<String, Value>) -> bool {
        match self {
            Target::Perms(right) => perms(obj, *right).is_some(),
            _ => self.read(obj).is_some(),
        }
    }
}

impl Leaf {
    fn eval(&self, obj: &Map<String, Value>) -> bool {
        match self {
            Leaf::Const(b) => *b,
            Leaf::Database => false,
            Leaf::Present { at, exists } => at.present(obj) == *exists,
            Leaf::Scalar {
                field,
                op,
                value: lit,
            } => match value(obj, field).and_then(|v| Cell::read(&field.ty, v)) {
                None => *op == CmpOp::Ne,
                Some(c) => c.compare(lit).is_some_and(|o| holds(*op, o)),
            },
            Leaf::ScalarIn {
                field,
                values,
                negate,
            } => value(obj, field)
                .and_then(|v| Cell::read(&field.ty, v))
                .is_some_and(|c| {
                    values.iter().any(|v| c.compare(v) == Some(Ordering::Equal)) != *negate
                }),
            Leaf::Whole {
                field,
                values,
                negate,
                missing,
            } => match value(obj, field) {
                None => *missing,
                Some(x) => {
                    let file = field.ty == FieldType::File;
                    values.iter().any(|v| {
                        if file {
                            json::file_eq(x, v)
                        } else {
                            json::eq(x, v)
                        }
                    }) != *negate
                }
            },
            Leaf::FileName {
                field,
                name,
                negate,
            } => match value(obj, field).and_then(|f| f.get("name")?.as_str()) {
                None => *negate,
                Some(n) => (n == name) != *negate,
            },
            Leaf::Elements {
                field,
                values,
                test,
            } => {
                let Some(elements) = value(obj, field).and_then(Value::as_array) else {
                    return false;
                };
                let listed = |e: &Value| values.iter().any(|v| json::elem_eq(e, v));
                match test {
                    ElementTest::Any { negate } => elements.iter().any(listed) != *negate,
                    ElementTest::All => values
                        .iter()
                        .all(|v| elements.iter().any(|e| json::elem_eq(e, v))),
                    ElementTest::ContainedBy => elements.iter().all(listed),
                }
            }
            Leaf::Path { field, path, test } => {
                let at = value(obj, field).and_then(|root| json::at_path(root, &field.ty, path));
                // A JSON null equals nothing and has no order, but it is there: `$nin` holds.
                if let PathTest::In { negate: true, .. } = test
                    && at.is_some_and(Value::is_null)
                {
                    return true;
                }
                let x = at.filter(|v| !v.is_null());
                match test {
                    PathTest::Cmp {
                        op: CmpOp::Eq,
                        value: v,
                    } => x.is_some_and(|x| json::eq(x, v)),
                    PathTest::Cmp {
                        op: CmpOp::Ne,
                        value: v,
                    } => !x.is_some_and(|x| json::eq(x, v)),
                    PathTest::Cmp { op, value: v } => x
                        .and_then(|x| json::order(x, v))
                        .is_some_and(|o| holds(*op, o)),
                    PathTest::In { values, negate } => {
                        x.is_some_and(|x| values.iter().any(|v| json::eq(x, v)) != *negate)
                    }
                }
            }
            Leaf::Perms {
                right,
                values,
                negate,
            } => {
                let listed = |who: &str| values.iter().any(|v| v == who);
                match (perms(obj, *right), negate) {
                    // No ACL is public: it holds `*`.
                    (None, false) => listed("*"),
                    (None, true) => false,
                    (Some(mut entries), negate) => entries.any(listed) != *negate,
                }
            }
            Leaf::Regex { at, regex } => at
                .read(obj)
                .and_then(Value::as_str)
                .is_some_and(|s| regex.is_match(s)),
            Leaf::Near { field, center, max } => match value(obj, field).and_then(geo_point) {
                None => false,
                Some(p) => max.is_none_or(|max| geo::distance(p, *center) <= max),
            },
            Leaf::WithinBox {
                field,
                south_west,
                north_east,
            } => value(obj, field).and_then(geo_point).is_some_and(|p| {
                (south_west.latitude..=north_east.latitude).contains(&p.latitude)
                    && (south_west.longitude..=north_east.longitude).contains(&p.longitude)
            }),
            Leaf::WithinPolygon { field, points } => value(obj, field)
                .and_then(geo_point)
                .is_some_and(|p| geo::point_in_polygon(p, points)),
            Leaf::PolygonContains { field, point } => value(obj, field)
                .and_then(|v| v.get("coordinates")?.as_array())
                .is_some_and(|ring| geo::polygon_contains(ring, *point)),
        }
    }
}
