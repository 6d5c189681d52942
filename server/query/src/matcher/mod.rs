//! The in-memory twin of [`crate::compile`]: whether one object matches a [`Filter`], decided
//! without a database, for LiveQuery, which checks every changed object against every
//! subscription of its class.
//!
//! The answer is the one the SQL gives for the stored object, read off the object's REST form
//! (as the server returns it to the master key): keys resolve through the same
//! [`resolve`](crate::compile) the compiler uses, a field the schema does not know is NULL, a
//! literal of the wrong type matches nothing, `$ne` matches a missing field, and an SQL NULL
//! under `$nor` counts as false before the negation. `_rperm`/`_wperm` are the `ACL` entries with
//! read/write true; an object without `ACL` has none (NULL), and as in the read check a NULL
//! `_rperm` holds `*` for equality and `$in`.
//!
//! Where the SQL answers against Parse's semantics, or the two databases disagree, the matcher
//! takes Parse's side (`server/basalt/tests/matcher_agrees.rs` lists each case): values inside
//! Objects compare within their JSON type only (a string is never less than a number, `true`
//! never equals 1, a regex reads strings only), objects compare by their keys whatever their
//! order and numbers by value (1 equals 1.0), a path segment that is an index reads an array's
//! element (`"list.0"`), a JSON null inside an Object is present (`$exists`, `$nin`), and `$ne`
//! on a File matches an object without the file.
//!
//! Sub-queries and relations (`$inQuery`, `$notInQuery`, `$select`, `$dontSelect`,
//! `$relatedTo`, and equality or `$in` on a Relation field) need other rows: those leaves never
//! match here (so under `$nor` they count as false before the negation).
//! [`Filter::needs_database`] and [`CompiledFilter::needs_database`] tell a caller to refuse
//! such a filter up front.
//!
//! A [`CompiledFilter`] is built once per filter and class schema — resolving keys, converting
//! literals and compiling regexes then — so matching allocates nothing and compiles nothing.
//! Build it again when the class schema changes.

mod eval;
mod geo;
mod json;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

use crate::compile::{Operand, resolve, typed_bind};
use crate::dialect::Bind;
use crate::error::{QueryError, Result};
use crate::filter::{CmpOp, Filter, KeyPath};
use crate::schema::{ClassSchema, ColumnKind, FieldType};
use crate::value::{GeoPoint, as_pointer};

use eval::Scalar;

/// Whether `object` (in its REST form) matches `filter` on a class of `schema`.
///
/// A convenience for one-off checks: it compiles the filter, regexes included, on every call,
/// and a filter the SQL path would refuse matches nothing. Anything that matches repeatedly
/// builds a [`CompiledFilter`] once instead.
pub fn matches(schema: &ClassSchema, filter: &Filter, object: &Map<String, Value>) -> bool {
    CompiledFilter::new(schema, filter).is_ok_and(|f| f.matches(object))
}

/// A filter resolved against one class schema, ready to test objects.
#[derive(Debug, Clone)]
pub struct CompiledFilter {
    root: Node,
    needs_database: bool,
}

impl CompiledFilter {
    /// Resolves `filter` against `schema`. Fails where the SQL path fails: an `_rperm`/`_wperm`
    /// key used with anything but equality to a string (105), and a `$regex` whose compiled
    /// program is too large (102).
    pub fn new(schema: &ClassSchema, filter: &Filter) -> Result<Self> {
        let mut needs_database = false;
        let root = node(schema, filter, &mut needs_database)?;
        Ok(Self {
            root,
            needs_database,
        })
    }

    /// Whether `object`, in the REST form the server returns to the master key, matches.
    pub fn matches(&self, object: &Map<String, Value>) -> bool {
        self.root.eval(object)
    }

    /// True if some leaf needs the database to be decided: a sub-query, `$relatedTo`, or a
    /// Relation field compared with a pointer. Such leaves never match in [`Self::matches`].
    /// Unlike [`Filter::needs_database`] this knows the schema, so it sees Relation fields.
    pub fn needs_database(&self) -> bool {
        self.needs_database
    }
}

/// A boolean tree over [`Leaf`] tests.
#[derive(Debug, Clone)]
enum Node {
    Const(bool),
    And(Vec<Node>),
    Or(Vec<Node>),
    Nor(Vec<Node>),
    Leaf(Leaf),
}

/// A field of the class as the schema types it.
#[derive(Debug, Clone)]
struct Field {
    name: String,
    ty: FieldType,
}

/// Which ACL right a `_rperm`/`_wperm` key reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Right {
    Read,
    Write,
}

/// Where a presence test or a regex reads its value.
#[derive(Debug, Clone)]
enum Target {
    Column(Field),
    Path(Field, Vec<String>),
    Perms(Right),
}

/// One test on one object, its key already resolved against the schema.
#[derive(Debug, Clone)]
enum Leaf {
    /// Decided by the schema alone (an unknown field, a literal of the wrong type).
    Const(bool),
    /// A sub-query or a relation: cannot be decided without the database; never matches.
    Database,
    /// `$exists`, and equality with `null`.
    Present {
        at: Target,
        exists: bool,
    },
    /// A typed column (String, Number, Boolean, Date, Pointer) against a converted literal.
    Scalar {
        field: Field,
        op: CmpOp,
        value: Scalar,
    },
    /// `$in`/`$nin` on a typed column; `$nin` never matches a missing field.
    ScalarIn {
        field: Field,
        values: Vec<Scalar>,
        negate: bool,
    },
    /// Whole-value JSON equality (Object, GeoPoint, Polygon, Bytes, File, an Array with an
    /// array): true if the field equals any of `values`, inverted by `negate`; `missing` is the
    /// answer for an object without the field.
    Whole {
        field: Field,
        values: Vec<Value>,
        negate: bool,
        missing: bool,
    },
    /// A File compared by name.
    FileName {
        field: Field,
        name: String,
        negate: bool,
    },
    /// Membership tests on an Array field's elements.
    Elements {
        field: Field,
        values: Vec<Value>,
        test: ElementTest,
    },
    /// A value inside an Object-like field (dot notation).
    Path {
        field: Field,
        path: Vec<String>,
        test: PathTest,
    },
    /// `_rperm`/`_wperm` sharing an entry with `values` (`$nin`: having the ACL and not).
    Perms {
        right: Right,
        values: Vec<String>,
        negate: bool,
    },
    Regex {
        at: Target,
        regex: Box<regex::Regex>,
    },
    /// `$nearSphere` (with its optional maximum) and `$centerSphere`: within `max` radians.
    Near {
        field: Field,
        center: GeoPoint,
        max: Option<f64>,
    },
    WithinBox {
        field: Field,
        south_west: GeoPoint,
        north_east: GeoPoint,
    },
    WithinPolygon {
        field: Field,
        points: Vec<GeoPoint>,
    },
    PolygonContains {
        field: Field,
        point: GeoPoint,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ElementTest {
    /// Some element equals one of the values; negated, the field exists and none does.
    Any { negate: bool },
    /// Every value is an element (`$all`).
    All,
    /// Every element is one of the values (`$containedBy`).
    ContainedBy,
}

#[derive(Debug, Clone)]
enum PathTest {
    Cmp { op: CmpOp, value: Value },
    In { values: Vec<Value>, negate: bool },
}

fn node(schema: &ClassSchema, f: &Filter, db: &mut bool) -> Result<Node> {
    let all = |fs: &[Filter], db: &mut bool| -> Result<Vec<Node>> {
        fs.iter().map(|f| node(schema, f, db)).collect()
    };
    Ok(match f {
        Filter::All => Node::Const(true),
        Filter::And(fs) => Node::And(all(fs, db)?),
        Filter::Or(fs) => Node::Or(all(fs, db)?),
        Filter::Nor(fs) => Node::Nor(all(fs, db)?),
        leaf => {
            let leaf = self::leaf(schema, leaf)?;
            if matches!(leaf, Leaf::Database) {
                *db = true;
            }
            Node::Leaf(leaf)
        }
    })
}

fn field(name: &str, ty: &FieldType) -> Field {
    Field {
        name: name.to_string(),
        ty: ty.clone(),
    }
}

fn right(name: &str) -> Right {
    if name == "_wperm" {
        Right::Write
    } else {
        Right::Read
    }
}

fn leaf(schema: &ClassSchema, f: &Filter) -> Result<Leaf> {
    Ok(match f {
        Filter::Cmp { key, op, value } => cmp(schema, key, *op, value)?,
        Filter::In {
            key,
            values,
            negate,
        } => in_list(schema, key, values, *negate),
        Filter::ContainsAll { key, values } => match resolve(schema, key) {
            Operand::Column {
                name,
                ty: ty @ FieldType::Array,
            } if !values.is_empty() => Leaf::Elements {
                field: field(name, ty),
                values: values.clone(),
                test: ElementTest::All,
            },
            _ => Leaf::Const(false),
        },
        Filter::ContainedBy { key, values } => match resolve(schema, key) {
            Operand::Column {
                name,
                ty: ty @ FieldType::Array,
            } => Leaf::Elements {
                field: field(name, ty),
                values: values.clone(),
                test: ElementTest::ContainedBy,
            },
            _ => Leaf::Const(false),
        },
        Filter::Exists { key, exists } => present(schema, key, *exists),
        Filter::Regex { key, pattern } => {
            let at = match resolve(schema, key) {
                Operand::Column {
                    name,
                    ty: ty @ FieldType::String,
                } => Target::Column(field(name, ty)),
                Operand::JsonPath { name, path } => {
                    Target::Path(field(name, schema_type(schema, name)), path.to_vec())
                }
                _ => return Ok(Leaf::Const(false)),
            };
            Leaf::Regex {
                at,
                regex: Box::new(crate::regex::compile(pattern)?),
            }
        }
        Filter::Near {
            key,
            point,
            max_radians,
        } => match geo_column(schema, key, &FieldType::GeoPoint) {
            Some(field) => Leaf::Near {
                field,
                center: *point,
                max: *max_radians,
            },
            None => Leaf::Const(false),
        },
        Filter::WithinSphere {
            key,
            center,
            radians,
        } => match geo_column(schema, key, &FieldType::GeoPoint) {
            Some(field) => Leaf::Near {
                field,
                center: *center,
                max: Some(*radians),
            },
            None => Leaf::Const(false),
        },
        Filter::WithinBox {
            key,
            south_west,
            north_east,
        } => match geo_column(schema, key, &FieldType::GeoPoint) {
            Some(field) => Leaf::WithinBox {
                field,
                south_west: *south_west,
                north_east: *north_east,
            },
            None => Leaf::Const(false),
        },
        Filter::WithinPolygon { key, points } => {
            match geo_column(schema, key, &FieldType::GeoPoint) {
                Some(field) => Leaf::WithinPolygon {
                    field,
                    points: points.clone(),
                },
                None => Leaf::Const(false),
            }
        }
        Filter::PolygonContains { key, point } => {
            match geo_column(schema, key, &FieldType::Polygon) {
                Some(field) => Leaf::PolygonContains {
                    field,
                    point: *point,
                },
                None => Leaf::Const(false),
            }
        }
        Filter::InQuery { .. } | Filter::Select { .. } | Filter::RelatedTo { .. } => Leaf::Database,
        // Not leaves; `node` handles them.
        Filter::All | Filter::And(_) | Filter::Or(_) | Filter::Nor(_) => {
            Leaf::Const(matches!(f, Filter::All))
        }
    })
}

/// The type of a field the schema has (JsonPath operands always name one).
fn schema_type<'s>(schema: &'s ClassSchema, name: &str) -> &'s FieldType {
    schema.field(name).unwrap_or(&FieldType::Object)
}

fn geo_column(schema: &ClassSchema, key: &KeyPath, want: &FieldType) -> Option<Field> {
    match resolve(schema, key) {
        Operand::Column { name, ty } if ty == want => Some(field(name, ty)),
        _ => None,
    }
}

fn present(schema: &ClassSchema, key: &KeyPath, exists: bool) -> Leaf {
    let at = match resolve(schema, key) {
        Operand::Missing => return Leaf::Const(!exists),
        Operand::Relation { .. } => return Leaf::Const(exists),
        Operand::Column { name, ty } => Target::Column(field(name, ty)),
        Operand::Perms { name } => Target::Perms(right(name)),
        Operand::JsonPath { name, path } => {
            Target::Path(field(name, schema_type(schema, name)), path.to_vec())
        }
    };
    Leaf::Present { at, exists }
}

fn cmp(schema: &ClassSchema, key: &KeyPath, op: CmpOp, value: &Value) -> Result<Leaf> {
    if value.is_null() {
        return Ok(match op {
            CmpOp::Eq => present(schema, key, false),
            CmpOp::Ne => present(schema, key, true),
            _ => Leaf::Const(false),
        });
    }
    Ok(match resolve(schema, key) {
        Operand::Missing => Leaf::Const(op == CmpOp::Ne),
        Operand::Perms { name } => match (op, value) {
            (CmpOp::Eq, Value::String(s)) => Leaf::Perms {
                right: right(name),
                values: vec![s.clone()],
                negate: false,
            },
            _ => return Err(QueryError::invalid_key(name)),
        },
        Operand::Relation { .. } => match (op, as_pointer(value)) {
            (CmpOp::Eq | CmpOp::Ne, Some(_)) => Leaf::Database,
            _ => Leaf::Const(false),
        },
        Operand::Column { name, ty } => match ty {
            FieldType::Array => match (op, value) {
                (CmpOp::Eq | CmpOp::Ne, Value::Array(_)) => Leaf::Whole {
                    field: field(name, ty),
                    values: vec![value.clone()],
                    negate: op == CmpOp::Ne,
                    missing: op == CmpOp::Ne,
                },
                (CmpOp::Eq | CmpOp::Ne, v) => Leaf::Elements {
                    field: field(name, ty),
                    values: vec![v.clone()],
                    test: ElementTest::Any {
                        negate: op == CmpOp::Ne,
                    },
                },
                _ => Leaf::Const(false),
            },
            FieldType::File => {
                let file_name = value.get("name").and_then(Value::as_str).or(value.as_str());
                match (file_name, op) {
                    (Some(n), CmpOp::Eq | CmpOp::Ne) => Leaf::FileName {
                        field: field(name, ty),
                        name: n.to_string(),
                        negate: op == CmpOp::Ne,
                    },
                    // A value no file name can equal: `$ne` holds for every object.
                    _ => Leaf::Const(op == CmpOp::Ne),
                }
            }
            _ if ty.column() == Some(ColumnKind::Json) => match op {
                CmpOp::Eq | CmpOp::Ne => Leaf::Whole {
                    field: field(name, ty),
                    values: vec![value.clone()],
                    negate: op == CmpOp::Ne,
                    missing: op == CmpOp::Ne,
                },
                _ => Leaf::Const(false),
            },
            _ => match typed_bind(ty, value).and_then(Scalar::from_bind) {
                None => Leaf::Const(op == CmpOp::Ne),
                Some(value) => Leaf::Scalar {
                    field: field(name, ty),
                    op,
                    value,
                },
            },
        },
        Operand::JsonPath { name, path } => Leaf::Path {
            field: field(name, schema_type(schema, name)),
            path: path.to_vec(),
            test: PathTest::Cmp {
                op,
                value: value.clone(),
            },
        },
    })
}

fn in_list(schema: &ClassSchema, key: &KeyPath, values: &[Value], negate: bool) -> Leaf {
    let non_null: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
    if negate && non_null.is_empty() {
        return Leaf::Const(true);
    }
    match resolve(schema, key) {
        Operand::Missing => Leaf::Const(false),
        Operand::Perms { name } => Leaf::Perms {
            right: right(name),
            values: non_null
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            negate,
        },
        Operand::Relation { .. } => {
            if non_null.iter().any(|v| as_pointer(v).is_some()) {
                Leaf::Database
            } else {
                // No member can equal a non-pointer: `$in` is false, `$nin` true.
                Leaf::Const(negate)
            }
        }
        Operand::Column {
            name,
            ty: ty @ FieldType::Array,
        } => Leaf::Elements {
            field: field(name, ty),
            values: non_null.into_iter().cloned().collect(),
            test: ElementTest::Any { negate },
        },
        Operand::Column { name, ty } if ty.column() == Some(ColumnKind::Json) => Leaf::Whole {
            field: field(name, ty),
            values: non_null.into_iter().cloned().collect(),
            negate,
            missing: false,
        },
        Operand::Column { name, ty } => Leaf::ScalarIn {
            field: field(name, ty),
            values: non_null
                .iter()
                .filter_map(|v| typed_bind(ty, v).and_then(Scalar::from_bind))
                .collect(),
            negate,
        },
        Operand::JsonPath { name, path } => Leaf::Path {
            field: field(name, schema_type(schema, name)),
            path: path.to_vec(),
            test: PathTest::In {
                values: non_null.into_iter().cloned().collect(),
                negate,
            },
        },
    }
}

impl Scalar {
    fn from_bind(b: Bind) -> Option<Self> {
        match b {
            Bind::Text(s) => Some(Scalar::Text(s)),
            Bind::Float(f) => Some(Scalar::Float(f)),
            Bind::Bool(b) => Some(Scalar::Bool(b)),
            Bind::Date(d) => Some(Scalar::Date(d)),
            _ => None,
        }
    }
}
