//! [`Filter`] → SQL `WHERE` text for one dialect, typed by the class schema, with the read ACL
//! injected into every (sub-)query.
//!
//! Conventions: the queried table is aliased `t0`, sub-queries `t1`, `t2`…, so user field names
//! never collide with the columns of `json_each` or of another table. A field the schema does
//! not know behaves as SQL NULL (it matches `$exists: false`, `$ne` and nothing else). A value of
//! the wrong type for its column matches nothing rather than erroring, as a document store would.
//! Leaves under a negation (`$nor`, `$notInQuery`) are made null-safe with `COALESCE` so that
//! NOT never meets an SQL NULL.

use std::sync::Arc;

use serde_json::Value;

use crate::dialect::{Bind, Dialect, Sql};
use crate::error::{QueryError, Result};
use crate::filter::{CmpOp, Filter, KeyPath, SubQuery};
use crate::schema::{ClassSchema, ColumnKind, FieldType};
use crate::value::{GeoPoint, as_date, as_pointer, parse_iso};

/// Joins a read-ACL entry and a field's value into one ACL key (PostgreSQL's
/// `basalt_acl_keys`, migration 0009). Neither may contain the separator: such entries and
/// values get no key, so the join cannot be read two ways.
pub const ACL_KEY_SEPARATOR: char = '\u{1f}';

pub fn acl_key(entry: &str, value: &str) -> String {
    let mut key = String::with_capacity(entry.len() + 1 + value.len());
    key.push_str(entry);
    key.push(ACL_KEY_SEPARATOR);
    key.push_str(value);
    key
}

/// A read-ACL test on a class's ACL key column (PostgreSQL): the column `_acl_<field>` holds
/// `entry␟value` for each read entry of the object's ACL (`*` when it has none) and the
/// object's value of `field`, and a GIN index. So a user's query with `field = value` finds
/// the objects it may read with that value from the user's own keys, instead of intersecting
/// the ACL index with every object of that value (measured in bench/: the owner-only query's
/// statement ran 5,835/s that way, 17,199/s this way). Both `field = value` and the ACL test
/// are this one condition, which holds only when the entry and the value contain no
/// [`ACL_KEY_SEPARATOR`]. SQLite has no array index: its keys are rows of a table of their
/// own ([`acl_key_table`]).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyedAcl {
    pub field: String,
    /// The value as stored: a string, or a pointer's objectId.
    pub value: String,
}

impl KeyedAcl {
    pub fn column(&self) -> String {
        format!("_acl_{}", self.field)
    }

    /// Whether `perms` and the value can be joined into keys (see [`ACL_KEY_SEPARATOR`]).
    pub fn usable(&self, perms: &[String]) -> bool {
        !self.value.contains(ACL_KEY_SEPARATOR)
            && perms.iter().all(|p| !p.contains(ACL_KEY_SEPARATOR))
    }
}

/// Where the compiler finds other classes' schemas (for sub-queries and relations).
pub trait SchemaSource: Sync {
    fn class(&self, name: &str) -> Option<Arc<ClassSchema>>;
}

/// Compiles filters for one request: a dialect, the schemas, and the caller's read rights
/// (`None` for the master key, else the ACL entries — `*`, the user id, `role:…`).
pub struct Compiler<'a> {
    pub dialect: Dialect,
    pub schemas: &'a dyn SchemaSource,
    pub perms: Option<&'a [String]>,
}

/// What a key resolves to in a table (shared with the in-memory matcher, so both read a key
/// the same way).
pub(crate) enum Operand<'s> {
    Column {
        name: &'s str,
        ty: &'s FieldType,
    },
    /// A path inside a JSON column (dot notation into an Object).
    JsonPath {
        name: &'s str,
        path: &'s [String],
    },
    /// `_rperm` / `_wperm`.
    Perms {
        name: &'s str,
    },
    /// A Relation field: equality to a pointer tests membership through the join table.
    Relation {
        name: &'s str,
    },
    /// Not in the schema: behaves as NULL.
    Missing,
}

pub(crate) fn resolve<'s>(schema: &'s ClassSchema, key: &'s KeyPath) -> Operand<'s> {
    if key.field == "_rperm" || key.field == "_wperm" {
        return Operand::Perms { name: &key.field };
    }
    match schema.fields.get_key_value(key.field.as_str()) {
        None => Operand::Missing,
        Some((name, ty)) if key.path.is_empty() => match (ty.column(), ty) {
            (Some(_), _) => Operand::Column { name, ty },
            (None, FieldType::Relation(_)) => Operand::Relation { name },
            (None, _) => Operand::Missing,
        },
        Some((name, ty)) => match ty.column() {
            Some(ColumnKind::Json) => Operand::JsonPath {
                name,
                path: &key.path,
            },
            _ => Operand::Missing,
        },
    }
}

/// Converts a query literal to the bind for a typed column, or None if it cannot match.
pub(crate) fn typed_bind(ty: &FieldType, v: &Value) -> Option<Bind> {
    match (ty, v) {
        (FieldType::String, Value::String(s)) => Some(Bind::Text(s.clone())),
        (FieldType::Number, Value::Number(n)) => n.as_f64().map(Bind::Float),
        (FieldType::Boolean, Value::Bool(b)) => Some(Bind::Bool(*b)),
        (FieldType::Date, Value::String(s)) => parse_iso(s).map(Bind::Date),
        (FieldType::Date, v) => as_date(v).map(Bind::Date),
        // A bare objectId string matches a pointer too, as in Parse.
        (FieldType::Pointer(_), Value::String(id)) => Some(Bind::Text(id.clone())),
        (FieldType::Pointer(target), v) => match as_pointer(v) {
            Some((class, id)) if class == target => Some(Bind::Text(id.to_string())),
            _ => None,
        },
        _ => None,
    }
}

impl Compiler<'_> {
    fn next_alias(depth: usize) -> String {
        format!("t{depth}")
    }

    /// Appends the `WHERE` condition (filter and read ACL) for `schema` aliased `t{depth}`.
    pub fn where_clause(
        &self,
        schema: &ClassSchema,
        filter: &Filter,
        depth: usize,
        sql: &mut Sql,
    ) -> Result<()> {
        self.where_clause_keyed(schema, filter, depth, None, sql)
    }

    /// [`Self::where_clause`], with the read ACL tested on an ACL key column when `keyed` is
    /// given (PostgreSQL): the caller has taken `field = value` out of `filter`, and
    /// `"_acl_<field>" && {entry␟value, …}` (one key per read entry) stands for it and the ACL
    /// test together. See [`KeyedAcl`].
    pub fn where_clause_keyed(
        &self,
        schema: &ClassSchema,
        filter: &Filter,
        depth: usize,
        keyed: Option<&KeyedAcl>,
        sql: &mut Sql,
    ) -> Result<()> {
        let alias = Self::next_alias(depth);
        sql.push("(");
        self.filter(schema, filter, &alias, depth, false, sql)?;
        sql.push(")");
        match (self.perms, keyed) {
            (Some(perms), Some(k)) if self.dialect == Dialect::Sqlite => {
                // SQLite keeps the keys in a table of their own, filled by triggers
                // (`acl_key_table`): the rows are looked up by objectId from the user's keys.
                sql.push(" AND ")
                    .column(&alias, "objectId")
                    .push(" IN (SELECT \"id\" FROM ")
                    .ident(&acl_key_table(&schema.class_name, &k.field))
                    .push(" WHERE \"key\" IN (");
                sql.bind_list(perms.iter().map(|p| Bind::Text(acl_key(p, &k.value))));
                sql.push("))");
            }
            (Some(perms), Some(k)) => {
                let keys = perms.iter().map(|p| acl_key(p, &k.value)).collect();
                // The keys behind a sub-select, which PostgreSQL evaluates once and still
                // matches against the index, but cannot see when planning: every plan is then
                // the same, PostgreSQL keeps the generic one and stops planning each execution
                // (measured in pgbench: 9,580 statements/s planned each time, 15,696 kept).
                sql.push(" AND ")
                    .column(&alias, &k.column())
                    .push(" && (SELECT ");
                sql.bind(Bind::TextArray(keys));
                sql.push("::text[])");
            }
            (Some(perms), None) => {
                sql.push(" AND ");
                self.perms_overlap(&alias, "_rperm", perms, sql);
            }
            (None, _) => {}
        }
        Ok(())
    }

    /// `(alias."_rperm" IS NULL OR it shares an entry with perms)`: the read (or write) ACL test.
    pub fn perms_overlap(&self, alias: &str, column: &str, perms: &[String], sql: &mut Sql) {
        match self.dialect {
            Dialect::Postgres => {
                // An object without an ACL (NULL) is public. Written as one overlap on
                // `COALESCE(col, '{*}')`, the form each class's GIN index is built on, so a
                // user who sees a few objects of a large class reads them through the index
                // instead of filtering the whole class (an `IS NULL OR` cannot use it).
                sql.push("(COALESCE(")
                    .column(alias, column)
                    .push(", '{*}'::text[]) && ");
                // Public access alone is written out, not bound: PostgreSQL can then price the
                // test from the column's statistics (nearly every object is public) in the
                // prepared statement's generic plan, which it keeps. Bound, the generic plan
                // takes the ACL index as selective; PostgreSQL rejects it and plans every
                // execution anew (measured: a public query's planning cost as much as running it).
                if perms.len() == 1 && perms[0] == "*" {
                    sql.push("'{*}'::text[]");
                } else {
                    sql.bind(Bind::TextArray(perms.to_vec()));
                }
                sql.push(")");
            }
            Dialect::Sqlite => {
                // The ACL is JSON text (`["*","u1"]`). Parsing it for every row a query
                // visits made a user's query over a large class cost milliseconds (each row
                // of the index range parsed, to find the few the user may read); a substring
                // test on each entry's JSON form rules out nearly all rows first, and only
                // those left are parsed for the exact test.
                sql.push("(").column(alias, column).push(" IS NULL OR ((");
                if perms.is_empty() {
                    sql.push("0");
                }
                for (i, p) in perms.iter().enumerate() {
                    if i > 0 {
                        sql.push(" OR ");
                    }
                    sql.push("instr(").column(alias, column).push(", ");
                    sql.bind(Bind::Text(Value::from(p.as_str()).to_string()));
                    sql.push(") > 0");
                }
                sql.push(") AND EXISTS (SELECT 1 FROM json_each(")
                    .column(alias, column)
                    .push(") p WHERE p.value IN (");
                sql.bind_list(perms.iter().map(|v| Bind::Text(v.clone())));
                sql.push("))))");
            }
        }
    }

    fn filter(
        &self,
        schema: &ClassSchema,
        f: &Filter,
        alias: &str,
        depth: usize,
        negated: bool,
        sql: &mut Sql,
    ) -> Result<()> {
        match f {
            Filter::All => {
                sql.push("1=1");
            }
            Filter::And(fs) if fs.is_empty() => {
                sql.push("1=1");
            }
            Filter::Or(fs) | Filter::Nor(fs) if fs.is_empty() => {
                sql.push(if matches!(f, Filter::Or(_)) {
                    "1=0"
                } else {
                    "1=1"
                });
            }
            Filter::And(fs) | Filter::Or(fs) => {
                let joiner = if matches!(f, Filter::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                sql.push("(");
                for (i, sub) in fs.iter().enumerate() {
                    if i > 0 {
                        sql.push(joiner);
                    }
                    self.filter(schema, sub, alias, depth, negated, sql)?;
                }
                sql.push(")");
            }
            Filter::Nor(fs) => {
                sql.push("NOT (");
                for (i, sub) in fs.iter().enumerate() {
                    if i > 0 {
                        sql.push(" OR ");
                    }
                    self.filter(schema, sub, alias, depth, !negated, sql)?;
                }
                sql.push(")");
            }
            leaf => {
                // Under a negation a leaf must be TRUE or FALSE, never NULL.
                if negated {
                    sql.push("COALESCE(");
                }
                self.leaf(schema, leaf, alias, depth, sql)?;
                if negated {
                    sql.push(", FALSE)");
                }
            }
        }
        Ok(())
    }

    fn leaf(
        &self,
        schema: &ClassSchema,
        f: &Filter,
        alias: &str,
        depth: usize,
        sql: &mut Sql,
    ) -> Result<()> {
        match f {
            Filter::Cmp { key, op, value } => self.cmp(schema, key, *op, value, alias, sql),
            Filter::In {
                key,
                values,
                negate,
            } => self.in_list(schema, key, values, *negate, alias, sql),
            Filter::ContainsAll { key, values } => {
                self.contains_all(schema, key, values, alias, sql)
            }
            Filter::ContainedBy { key, values } => {
                self.contained_by(schema, key, values, alias, sql)
            }
            Filter::Exists { key, exists } => {
                self.exists(schema, key, *exists, alias, sql);
                Ok(())
            }
            Filter::Regex { key, pattern } => {
                self.regex(schema, key, pattern, alias, sql);
                Ok(())
            }
            Filter::Near {
                key,
                point,
                max_radians,
            } => {
                match (resolve(schema, key), max_radians) {
                    (
                        Operand::Column {
                            name,
                            ty: FieldType::GeoPoint,
                        },
                        Some(max),
                    ) => {
                        // PostgreSQL's LEAST/GREATEST skip NULLs: test presence explicitly.
                        sql.push("(").column(alias, name).push(" IS NOT NULL AND ");
                        self.distance(alias, name, *point, sql);
                        sql.push(" <= ").float(*max).push(")");
                    }
                    (
                        Operand::Column {
                            name,
                            ty: FieldType::GeoPoint,
                        },
                        None,
                    ) => {
                        sql.column(alias, name).push(" IS NOT NULL");
                    }
                    _ => {
                        sql.push("1=0");
                    }
                }
                Ok(())
            }
            Filter::WithinSphere {
                key,
                center,
                radians,
            } => {
                match resolve(schema, key) {
                    Operand::Column {
                        name,
                        ty: FieldType::GeoPoint,
                    } => {
                        sql.push("(").column(alias, name).push(" IS NOT NULL AND ");
                        self.distance(alias, name, *center, sql);
                        sql.push(" <= ").float(*radians).push(")");
                    }
                    _ => {
                        sql.push("1=0");
                    }
                }
                Ok(())
            }
            Filter::WithinBox {
                key,
                south_west,
                north_east,
            } => {
                match resolve(schema, key) {
                    Operand::Column {
                        name,
                        ty: FieldType::GeoPoint,
                    } => {
                        sql.push("(");
                        self.geo_coord(alias, name, "latitude", sql);
                        sql.push(" BETWEEN ")
                            .float(south_west.latitude)
                            .push(" AND ")
                            .float(north_east.latitude);
                        sql.push(" AND ");
                        self.geo_coord(alias, name, "longitude", sql);
                        sql.push(" BETWEEN ")
                            .float(south_west.longitude)
                            .push(" AND ")
                            .float(north_east.longitude);
                        sql.push(")");
                    }
                    _ => {
                        sql.push("1=0");
                    }
                }
                Ok(())
            }
            Filter::WithinPolygon { key, points } => {
                match resolve(schema, key) {
                    Operand::Column {
                        name,
                        ty: FieldType::GeoPoint,
                    } => self.point_in_polygon(alias, name, points, sql),
                    _ => {
                        sql.push("1=0");
                    }
                }
                Ok(())
            }
            Filter::PolygonContains { key, point } => {
                match resolve(schema, key) {
                    Operand::Column {
                        name,
                        ty: FieldType::Polygon,
                    } => self.polygon_contains(alias, name, *point, sql),
                    _ => {
                        sql.push("1=0");
                    }
                }
                Ok(())
            }
            Filter::InQuery { key, query, negate } => {
                self.in_query(schema, key, query, None, *negate, alias, depth, sql)
            }
            Filter::Select {
                key,
                query,
                sub_key,
                negate,
            } => self.in_query(
                schema,
                key,
                query,
                Some(sub_key),
                *negate,
                alias,
                depth,
                sql,
            ),
            Filter::RelatedTo {
                owner_class,
                owner_id,
                key,
            } => {
                let related = self
                    .schemas
                    .class(owner_class)
                    .is_some_and(|s| matches!(s.field(key), Some(FieldType::Relation(t)) if *t == schema.class_name));
                if !related {
                    sql.push("1=0");
                    return Ok(());
                }
                sql.column(alias, "objectId")
                    .push(" IN (SELECT j.\"relatedId\" FROM ");
                sql.ident(&join_table(owner_class, key))
                    .push(" j WHERE j.\"owningId\" = ");
                let owner = sql.bind(Bind::Text(owner_id.clone()));
                // The relation is read through its owner: a caller who cannot read the owner
                // learns nothing of its members.
                if let Some(perms) = self.perms {
                    sql.push(" AND EXISTS (SELECT 1 FROM ")
                        .ident(owner_class)
                        .push(" o WHERE o.\"objectId\" = ")
                        .placeholder(owner)
                        .push(" AND ");
                    self.perms_overlap("o", "_rperm", perms, sql);
                    sql.push(")");
                }
                sql.push(")");
                Ok(())
            }
            Filter::All | Filter::And(_) | Filter::Or(_) | Filter::Nor(_) => {
                self.filter(schema, f, alias, depth, false, sql)
            }
        }
    }

    fn cmp(
        &self,
        schema: &ClassSchema,
        key: &KeyPath,
        op: CmpOp,
        value: &Value,
        alias: &str,
        sql: &mut Sql,
    ) -> Result<()> {
        if value.is_null() {
            match op {
                CmpOp::Eq => self.exists(schema, key, false, alias, sql),
                CmpOp::Ne => self.exists(schema, key, true, alias, sql),
                _ => {
                    sql.push("1=0");
                }
            }
            return Ok(());
        }
        match resolve(schema, key) {
            Operand::Missing => {
                sql.push(if op == CmpOp::Ne { "1=1" } else { "1=0" });
            }
            Operand::Perms { name } => match (op, value) {
                (CmpOp::Eq, Value::String(s)) => {
                    self.perms_overlap(alias, name, std::slice::from_ref(s), sql)
                }
                _ => return Err(QueryError::invalid_key(name)),
            },
            Operand::Relation { name } => match (op, as_pointer(value)) {
                (CmpOp::Eq, Some((_, id))) => {
                    self.relation_has(schema, alias, name, &[id.to_string()], sql)
                }
                (CmpOp::Ne, Some((_, id))) => {
                    sql.push("NOT ");
                    self.relation_has(schema, alias, name, &[id.to_string()], sql);
                }
                _ => {
                    sql.push("1=0");
                }
            },
            Operand::Column { name, ty } => match ty {
                FieldType::Array => self.array_cmp(alias, name, op, value, sql),
                FieldType::File => {
                    let file_name = value.get("name").and_then(Value::as_str).or(value.as_str());
                    let path = ["name".to_string()];
                    match (file_name, op) {
                        (Some(n), CmpOp::Eq | CmpOp::Ne) => {
                            self.json_text(alias, name, &path, sql);
                            sql.push(op.sql());
                            sql.bind(Bind::Text(n.to_string()));
                        }
                        _ => {
                            sql.push("1=0");
                        }
                    }
                }
                _ if ty.column() == Some(ColumnKind::Json) => {
                    // Whole-value equality on Object, GeoPoint, Polygon, Bytes.
                    match op {
                        CmpOp::Eq | CmpOp::Ne => {
                            if op == CmpOp::Ne {
                                sql.push("(").column(alias, name).push(" IS NULL OR ");
                            }
                            self.json_equals(alias, name, value, op == CmpOp::Ne, sql);
                            if op == CmpOp::Ne {
                                sql.push(")");
                            }
                        }
                        _ => {
                            sql.push("1=0");
                        }
                    }
                }
                _ => match typed_bind(ty, value) {
                    None => {
                        sql.push(if op == CmpOp::Ne { "1=1" } else { "1=0" });
                    }
                    Some(b) if op == CmpOp::Ne => {
                        sql.push("(")
                            .column(alias, name)
                            .push(" IS NULL OR ")
                            .column(alias, name)
                            .push(" <> ");
                        sql.bind(b);
                        sql.push(")");
                    }
                    Some(b) => {
                        sql.column(alias, name).push(" ").push(op.sql()).push(" ");
                        sql.bind(b);
                    }
                },
            },
            Operand::JsonPath { name, path } => {
                if op == CmpOp::Ne {
                    sql.push("(");
                    self.json_extract(alias, name, path, sql);
                    sql.push(" IS NULL OR ");
                }
                self.json_extract(alias, name, path, sql);
                sql.push(" ").push(op.sql()).push(" ");
                self.json_literal(value, sql);
                if op == CmpOp::Ne {
                    sql.push(")");
                }
            }
        }
        Ok(())
    }

    /// `alias.objectId` owns one of `ids` through the Relation field `name`.
    fn relation_has(
        &self,
        schema: &ClassSchema,
        alias: &str,
        name: &str,
        ids: &[String],
        sql: &mut Sql,
    ) {
        if ids.is_empty() {
            sql.push("1=0");
            return;
        }
        sql.column(alias, "objectId")
            .push(" IN (SELECT j.\"owningId\" FROM ");
        sql.ident(&join_table(&schema.class_name, name))
            .push(" j WHERE j.\"relatedId\" IN (");
        sql.bind_list(ids.iter().map(|v| Bind::Text(v.clone())));
        sql.push("))");
    }

    /// Equality on an Array field: an array value compares whole, a scalar tests membership.
    fn array_cmp(&self, alias: &str, name: &str, op: CmpOp, value: &Value, sql: &mut Sql) {
        match (op, value) {
            (CmpOp::Eq | CmpOp::Ne, Value::Array(_)) => {
                if op == CmpOp::Ne {
                    sql.push("(").column(alias, name).push(" IS NULL OR ");
                }
                self.json_equals(alias, name, value, op == CmpOp::Ne, sql);
                if op == CmpOp::Ne {
                    sql.push(")");
                }
            }
            (CmpOp::Eq, v) => self.array_has_any(alias, name, std::slice::from_ref(v), sql),
            (CmpOp::Ne, v) => {
                sql.push("(")
                    .column(alias, name)
                    .push(" IS NOT NULL AND NOT COALESCE(");
                self.array_has_any(alias, name, std::slice::from_ref(v), sql);
                sql.push(", FALSE))");
            }
            _ => {
                sql.push("1=0");
            }
        }
    }

    /// Whole-value JSON equality of a JSON column with a literal.
    fn json_equals(&self, alias: &str, name: &str, value: &Value, negate: bool, sql: &mut Sql) {
        let op = if negate { " <> " } else { " = " };
        match self.dialect {
            Dialect::Postgres => {
                sql.column(alias, name).push(op);
                sql.bind(Bind::Json(value.clone()));
            }
            Dialect::Sqlite => {
                sql.push("json(")
                    .column(alias, name)
                    .push(")")
                    .push(op)
                    .push("json(");
                sql.bind(Bind::Text(value.to_string()));
                sql.push(")");
            }
        }
    }

    /// The value at `path` inside a JSON column, comparable with [`Self::json_literal`].
    fn json_extract(&self, alias: &str, name: &str, path: &[String], sql: &mut Sql) {
        match self.dialect {
            Dialect::Postgres => {
                sql.push("(").column(alias, name).push(" #> ");
                sql.bind(Bind::TextArray(path.to_vec()));
                sql.push(")");
            }
            Dialect::Sqlite => {
                sql.push("json_extract(").column(alias, name).push(", ");
                sql.bind(Bind::Text(Dialect::sqlite_path(path)));
                sql.push(")");
            }
        }
    }

    /// The text at `path` inside a JSON column.
    fn json_text(&self, alias: &str, name: &str, path: &[String], sql: &mut Sql) {
        match self.dialect {
            Dialect::Postgres => {
                sql.push("(").column(alias, name).push(" #>> ");
                sql.bind(Bind::TextArray(path.to_vec()));
                sql.push(")");
            }
            Dialect::Sqlite => self.json_extract(alias, name, path, sql),
        }
    }

    /// A literal to compare with a [`Self::json_extract`] expression.
    fn json_literal(&self, v: &Value, sql: &mut Sql) {
        match (self.dialect, v) {
            (Dialect::Postgres, v) => {
                sql.bind(Bind::Json(v.clone()));
            }
            (Dialect::Sqlite, Value::String(s)) => {
                sql.bind(Bind::Text(s.clone()));
            }
            (Dialect::Sqlite, Value::Number(n)) => {
                sql.bind(Bind::Float(n.as_f64().unwrap_or_default()));
            }
            (Dialect::Sqlite, Value::Bool(b)) => {
                sql.bind(Bind::Int(i64::from(*b)));
            }
            (Dialect::Sqlite, v) => {
                sql.push("json(");
                sql.bind(Bind::Text(v.to_string()));
                sql.push(")");
            }
        }
    }

    /// True if the JSON array column has an element equal to any of `values`.
    fn array_has_any(&self, alias: &str, name: &str, values: &[Value], sql: &mut Sql) {
        if values.is_empty() {
            sql.push("1=0");
            return;
        }
        match self.dialect {
            Dialect::Postgres => {
                sql.push("(");
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        sql.push(" OR ");
                    }
                    sql.column(alias, name).push(" @> ");
                    sql.bind(Bind::Json(Value::Array(vec![v.clone()])));
                }
                sql.push(")");
            }
            Dialect::Sqlite => {
                sql.push("EXISTS (SELECT 1 FROM json_each(")
                    .column(alias, name)
                    .push(") e WHERE ");
                self.sqlite_elem_in(values, sql);
                sql.push(")");
            }
        }
    }

    /// SQLite: `e` (a json_each row) equals one of `values`, by JSON type and value.
    fn sqlite_elem_in(&self, values: &[Value], sql: &mut Sql) {
        sql.push("(");
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                sql.push(" OR ");
            }
            match v {
                Value::Null => {
                    sql.push("e.type = 'null'");
                }
                Value::Bool(b) => {
                    sql.push(if *b {
                        "e.type = 'true'"
                    } else {
                        "e.type = 'false'"
                    });
                }
                Value::Number(n) => {
                    sql.push("(e.type IN ('integer', 'real') AND e.value = ");
                    sql.bind(Bind::Float(n.as_f64().unwrap_or_default()));
                    sql.push(")");
                }
                Value::String(s) => {
                    sql.push("(e.type = 'text' AND e.value = ");
                    sql.bind(Bind::Text(s.clone()));
                    sql.push(")");
                }
                v => match as_pointer(v) {
                    // Pointers compare by class and id, whatever their key order.
                    Some((class, id)) => {
                        sql.push("(e.type = 'object' AND json_extract(e.value, '$.objectId') = ");
                        sql.bind(Bind::Text(id.to_string()));
                        sql.push(" AND json_extract(e.value, '$.className') = ");
                        sql.bind(Bind::Text(class.to_string()));
                        sql.push(")");
                    }
                    None => {
                        sql.push("(e.type IN ('object', 'array') AND e.value = json(");
                        sql.bind(Bind::Text(v.to_string()));
                        sql.push("))");
                    }
                },
            }
        }
        sql.push(")");
    }

    /// `$in` / `$nin`, as Parse on PostgreSQL answers them: a `null` in the list matches nothing,
    /// `$nin` never matches an object lacking the field, and an empty `$nin` matches everything.
    fn in_list(
        &self,
        schema: &ClassSchema,
        key: &KeyPath,
        values: &[Value],
        negate: bool,
        alias: &str,
        sql: &mut Sql,
    ) -> Result<()> {
        let non_null: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
        if negate && non_null.is_empty() {
            sql.push("1=1");
            return Ok(());
        }
        let operand = resolve(schema, key);
        if negate {
            match &operand {
                Operand::Column { name, .. } | Operand::Perms { name } => {
                    sql.push("(").column(alias, name).push(" IS NOT NULL AND ");
                }
                Operand::JsonPath { name, path } => {
                    sql.push("(");
                    self.json_extract(alias, name, path, sql);
                    sql.push(" IS NOT NULL AND ");
                }
                Operand::Relation { .. } => {
                    sql.push("(");
                }
                Operand::Missing => {
                    sql.push("1=0");
                    return Ok(());
                }
            }
            sql.push("NOT COALESCE(");
        }
        sql.push("(");
        match operand {
            Operand::Missing => {
                sql.push("1=0");
            }
            Operand::Perms { name } => {
                let perms: Vec<String> = non_null
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect();
                self.perms_overlap(alias, name, &perms, sql);
            }
            Operand::Relation { name } => {
                let ids: Vec<String> = non_null
                    .iter()
                    .filter_map(|v| as_pointer(v).map(|(_, id)| id.to_string()))
                    .collect();
                self.relation_has(schema, alias, name, &ids, sql);
            }
            Operand::Column {
                name,
                ty: FieldType::Array,
            } => {
                let vals: Vec<Value> = non_null.into_iter().cloned().collect();
                self.array_has_any(alias, name, &vals, sql);
            }
            Operand::Column { name, ty } if ty.column() == Some(ColumnKind::Json) => {
                sql.push("1=0");
                for v in non_null {
                    sql.push(" OR ");
                    self.json_equals(alias, name, v, false, sql);
                }
            }
            Operand::Column { name, ty } => {
                let binds: Vec<Bind> = non_null.iter().filter_map(|v| typed_bind(ty, v)).collect();
                if binds.is_empty() {
                    sql.push("1=0");
                } else {
                    sql.column(alias, name).push(" IN (");
                    sql.bind_list(binds);
                    sql.push(")");
                }
            }
            Operand::JsonPath { name, path } => {
                sql.push("1=0");
                for v in non_null {
                    sql.push(" OR ");
                    self.json_extract(alias, name, path, sql);
                    sql.push(" = ");
                    self.json_literal(v, sql);
                }
            }
        }
        sql.push(")");
        if negate {
            sql.push(", FALSE))");
        }
        Ok(())
    }

    fn contains_all(
        &self,
        schema: &ClassSchema,
        key: &KeyPath,
        values: &[Value],
        alias: &str,
        sql: &mut Sql,
    ) -> Result<()> {
        match resolve(schema, key) {
            Operand::Column {
                ty: FieldType::Array,
                ..
            } if values.is_empty() => {
                sql.push("1=0");
            }
            Operand::Column {
                name,
                ty: FieldType::Array,
            } => match self.dialect {
                Dialect::Postgres => {
                    sql.column(alias, name).push(" @> ");
                    sql.bind(Bind::Json(Value::Array(values.to_vec())));
                }
                Dialect::Sqlite => {
                    sql.push("(").column(alias, name).push(" IS NOT NULL");
                    for v in values {
                        sql.push(" AND ");
                        self.array_has_any(alias, name, std::slice::from_ref(v), sql);
                    }
                    sql.push(")");
                }
            },
            _ => {
                sql.push("1=0");
            }
        }
        Ok(())
    }

    fn contained_by(
        &self,
        schema: &ClassSchema,
        key: &KeyPath,
        values: &[Value],
        alias: &str,
        sql: &mut Sql,
    ) -> Result<()> {
        match resolve(schema, key) {
            Operand::Column {
                name,
                ty: FieldType::Array,
            } => match self.dialect {
                Dialect::Postgres => {
                    sql.column(alias, name).push(" <@ ");
                    sql.bind(Bind::Json(Value::Array(values.to_vec())));
                }
                Dialect::Sqlite => {
                    sql.push("(")
                        .column(alias, name)
                        .push(" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM json_each(");
                    sql.column(alias, name).push(") e WHERE NOT ");
                    if values.is_empty() {
                        sql.push("(1=0)");
                    } else {
                        self.sqlite_elem_in(values, sql);
                    }
                    sql.push("))");
                }
            },
            _ => {
                sql.push("1=0");
            }
        }
        Ok(())
    }

    fn exists(
        &self,
        schema: &ClassSchema,
        key: &KeyPath,
        exists: bool,
        alias: &str,
        sql: &mut Sql,
    ) {
        let test = if exists { " IS NOT NULL" } else { " IS NULL" };
        match resolve(schema, key) {
            Operand::Missing => {
                sql.push(if exists { "1=0" } else { "1=1" });
            }
            Operand::Column { name, .. } | Operand::Perms { name } => {
                sql.column(alias, name).push(test);
            }
            Operand::Relation { .. } => {
                sql.push(if exists { "1=1" } else { "1=0" });
            }
            Operand::JsonPath { name, path } => {
                match self.dialect {
                    Dialect::Postgres => self.json_extract(alias, name, path, sql),
                    Dialect::Sqlite => {
                        sql.push("json_type(").column(alias, name).push(", ");
                        sql.bind(Bind::Text(Dialect::sqlite_path(path)));
                        sql.push(")");
                    }
                }
                sql.push(test);
            }
        }
    }

    fn regex(
        &self,
        schema: &ClassSchema,
        key: &KeyPath,
        pattern: &str,
        alias: &str,
        sql: &mut Sql,
    ) {
        let op = match self.dialect {
            Dialect::Postgres => " ~ ",
            Dialect::Sqlite => " REGEXP ",
        };
        match resolve(schema, key) {
            Operand::Column {
                name,
                ty: FieldType::String,
            } => {
                sql.column(alias, name).push(op);
            }
            Operand::JsonPath { name, path } => {
                self.json_text(alias, name, path, sql);
                sql.push(op);
            }
            _ => {
                sql.push("1=0");
                return;
            }
        }
        sql.bind(Bind::Text(dialect_regex(self.dialect, pattern)));
    }

    /// A GeoPoint column's latitude or longitude as a number.
    fn geo_coord(&self, alias: &str, name: &str, coord: &str, sql: &mut Sql) {
        match self.dialect {
            Dialect::Postgres => {
                sql.push("((")
                    .column(alias, name)
                    .push("->>'")
                    .push(coord)
                    .push("')::float8)");
            }
            Dialect::Sqlite => {
                sql.push("json_extract(")
                    .column(alias, name)
                    .push(", '$.")
                    .push(coord)
                    .push("')");
            }
        }
    }

    /// Great-circle distance in radians (haversine) from a GeoPoint column to `p`.
    pub fn distance(&self, alias: &str, name: &str, p: GeoPoint, sql: &mut Sql) {
        let (min, max) = match self.dialect {
            Dialect::Postgres => ("LEAST", "GREATEST"),
            Dialect::Sqlite => ("min", "max"),
        };
        // 2·asin(√(sin²(Δφ/2) + cos φ1 · cos φ2 · sin²(Δλ/2)))
        sql.push("(2 * asin(")
            .push(min)
            .push("(1, sqrt(")
            .push(max)
            .push("(0, power(sin((radians(");
        self.geo_coord(alias, name, "latitude", sql);
        sql.push(") - ")
            .float(p.latitude.to_radians())
            .push(") / 2), 2) + cos(radians(");
        self.geo_coord(alias, name, "latitude", sql);
        sql.push(")) * ")
            .float(p.latitude.to_radians().cos())
            .push(" * power(sin((radians(");
        self.geo_coord(alias, name, "longitude", sql);
        sql.push(") - ")
            .float(p.longitude.to_radians())
            .push(") / 2), 2))))))");
    }

    /// Ray casting against a constant polygon: each edge that the horizontal ray from the point
    /// crosses adds one; an odd count is inside. Horizontal edges never cross and are skipped,
    /// so no division by zero reaches the database.
    fn point_in_polygon(&self, alias: &str, name: &str, points: &[GeoPoint], sql: &mut Sql) {
        // On an edge (collinear with it, within its bounds) counts as inside, as PostGIS has it.
        sql.push("(");
        for (i, a) in points.iter().enumerate() {
            let b = points[(i + 1) % points.len()];
            sql.push("(abs((");
            self.geo_coord(alias, name, "longitude", sql);
            sql.push(" - ")
                .float(a.longitude)
                .push(") * ")
                .float(b.latitude - a.latitude)
                .push(" - (");
            self.geo_coord(alias, name, "latitude", sql);
            sql.push(" - ")
                .float(a.latitude)
                .push(") * ")
                .float(b.longitude - a.longitude)
                .push(") <= 1e-12 AND ");
            self.geo_coord(alias, name, "longitude", sql);
            sql.push(" BETWEEN ")
                .float(a.longitude.min(b.longitude))
                .push(" AND ")
                .float(a.longitude.max(b.longitude))
                .push(" AND ");
            self.geo_coord(alias, name, "latitude", sql);
            sql.push(" BETWEEN ")
                .float(a.latitude.min(b.latitude))
                .push(" AND ")
                .float(a.latitude.max(b.latitude))
                .push(") OR ");
        }
        sql.push("MOD(0");
        for (i, a) in points.iter().enumerate() {
            let b = points[(i + 1) % points.len()];
            let (ya, yb) = (a.latitude, b.latitude);
            if ya == yb {
                continue;
            }
            let slope = (b.longitude - a.longitude) / (yb - ya);
            sql.push(" + CASE WHEN ");
            self.geo_coord(alias, name, "latitude", sql);
            sql.push(" >= ").float(ya.min(yb)).push(" AND ");
            self.geo_coord(alias, name, "latitude", sql);
            sql.push(" < ").float(ya.max(yb)).push(" AND ");
            self.geo_coord(alias, name, "longitude", sql);
            sql.push(" < ").float(a.longitude).push(" + (");
            self.geo_coord(alias, name, "latitude", sql);
            sql.push(" - ")
                .float(ya)
                .push(") * ")
                .float(slope)
                .push(" THEN 1 ELSE 0 END");
        }
        sql.push(", 2) = 1)");
    }

    /// Ray casting with the stored polygon's vertices (`coordinates`: `[[lat, lng], …]`); a point
    /// on an edge counts as inside. One correlated sub-query pairs each vertex with the next.
    fn polygon_contains(&self, alias: &str, name: &str, p: GeoPoint, sql: &mut Sql) {
        let (py, px) = (p.latitude, p.longitude);
        let (least, greatest) = match self.dialect {
            Dialect::Postgres => ("LEAST", "GREATEST"),
            Dialect::Sqlite => ("min", "max"),
        };
        let (ya, xa, yb, xb) = match self.dialect {
            Dialect::Postgres => (
                "(a.v->>0)::float8",
                "(a.v->>1)::float8",
                "(b.v->>0)::float8",
                "(b.v->>1)::float8",
            ),
            Dialect::Sqlite => (
                "json_extract(a.value, '$[0]')",
                "json_extract(a.value, '$[1]')",
                "json_extract(b.value, '$[0]')",
                "json_extract(b.value, '$[1]')",
            ),
        };
        let mut edge = Sql::new(self.dialect);
        // crossing: the ray from the point towards +longitude crosses edge a→b
        edge.push("SUM(CASE WHEN ")
            .float(py)
            .push(&format!(" >= {least}({ya}, {yb}) AND "))
            .float(py);
        edge.push(&format!(" < {greatest}({ya}, {yb}) AND "))
            .float(px)
            .push(&format!(" < {xa} + ("));
        edge.float(py).push(&format!(
            " - {ya}) * ({xb} - {xa}) / NULLIF({yb} - {ya}, 0) THEN 1 ELSE 0 END)"
        ));
        // on the edge: collinear and within its bounds
        let mut on = Sql::new(self.dialect);
        on.push("MAX(CASE WHEN abs((")
            .float(px)
            .push(&format!(" - {xa}) * ({yb} - {ya}) - ("));
        on.float(py)
            .push(&format!(" - {ya}) * ({xb} - {xa})) <= 1e-12 AND "))
            .float(px);
        on.push(&format!(
            " BETWEEN {least}({xa}, {xb}) AND {greatest}({xa}, {xb}) AND "
        ))
        .float(py);
        on.push(&format!(
            " BETWEEN {least}({ya}, {yb}) AND {greatest}({ya}, {yb}) THEN 1 ELSE 0 END)"
        ));
        sql.push("(SELECT CASE WHEN COALESCE(")
            .push(&on.text)
            .push(", 0) = 1 OR MOD(COALESCE(");
        sql.push(&edge.text)
            .push(", 0), 2) = 1 THEN 1 ELSE 0 END FROM ");
        match self.dialect {
            Dialect::Postgres => {
                sql.push("jsonb_array_elements(")
                    .column(alias, name)
                    .push("->'coordinates') WITH ORDINALITY a(v, i) JOIN jsonb_array_elements(");
                sql.column(alias, name).push("->'coordinates') WITH ORDINALITY b(v, i) ON b.i = MOD(a.i, jsonb_array_length(");
                sql.column(alias, name).push("->'coordinates')) + 1) = 1");
            }
            Dialect::Sqlite => {
                sql.push("json_each(")
                    .column(alias, name)
                    .push(", '$.coordinates') a JOIN json_each(");
                sql.column(alias, name)
                    .push(", '$.coordinates') b ON b.key = (a.key + 1) % json_array_length(");
                sql.column(alias, name).push(", '$.coordinates')) = 1");
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn in_query(
        &self,
        schema: &ClassSchema,
        key: &KeyPath,
        query: &SubQuery,
        sub_key: Option<&String>,
        negate: bool,
        alias: &str,
        depth: usize,
        sql: &mut Sql,
    ) -> Result<()> {
        let Some(sub) = self.schemas.class(&query.class_name) else {
            // No such class: nothing is in it.
            match (negate, resolve(schema, key)) {
                (true, Operand::Column { name, .. }) => {
                    sql.column(alias, name).push(" IS NOT NULL");
                }
                _ => {
                    sql.push("1=0");
                }
            }
            return Ok(());
        };
        let inner = Self::next_alias(depth + 1);
        let operand = resolve(schema, key);
        // What to select from the sub-query, and whether it can be compared with the key.
        let selected = match sub_key {
            None => "objectId",
            Some(k) => k.as_str(),
        };
        let comparable = match (&operand, sub_key) {
            (
                Operand::Column {
                    ty: FieldType::Pointer(t),
                    ..
                },
                None,
            ) => *t == query.class_name,
            (
                Operand::Column {
                    ty: FieldType::Array,
                    ..
                },
                None,
            ) => true,
            (Operand::Column { ty, .. }, Some(k)) => {
                let other = sub.field(k).and_then(FieldType::column);
                ty.column().is_some()
                    && other == ty.column()
                    && ty.column() != Some(ColumnKind::Json)
            }
            _ => false,
        };
        if !comparable {
            sql.push("1=0");
            return Ok(());
        }
        let Operand::Column { name, ty } = operand else {
            sql.push("1=0");
            return Ok(());
        };
        if negate {
            sql.push("(")
                .column(alias, name)
                .push(" IS NOT NULL AND NOT COALESCE(");
        }
        match ty {
            FieldType::Array => {
                sql.push("EXISTS (SELECT 1 FROM ");
                match self.dialect {
                    Dialect::Postgres => {
                        sql.push("jsonb_array_elements(")
                            .column(alias, name)
                            .push(") e(v) WHERE e.v->>'objectId' IN (");
                    }
                    // json_extract fails ("malformed JSON") on a string element, whose
                    // `value` is bare text: only objects can be pointers.
                    Dialect::Sqlite => {
                        sql.push("json_each(").column(alias, name).push(
                            ") e WHERE e.type = 'object' AND json_extract(e.value, '$.objectId') IN (",
                        );
                    }
                }
            }
            _ => {
                sql.column(alias, name).push(" IN (");
            }
        }
        sql.push("SELECT ")
            .column(&inner, selected)
            .push(" FROM ")
            .ident(&sub.class_name)
            .push(" ")
            .push(&inner);
        sql.push(" WHERE ");
        self.where_clause(&sub, &query.filter, depth + 1, sql)?;
        sql.push(")");
        if ty == &FieldType::Array {
            sql.push(")");
        }
        if negate {
            sql.push(", FALSE))");
        }
        Ok(())
    }

    /// `ORDER BY` for an `order` parameter (`"a,-b"`); a `$nearSphere` sorts by distance first.
    pub fn order_by(
        &self,
        schema: &ClassSchema,
        order: Option<&str>,
        near: Option<(&KeyPath, GeoPoint)>,
        sql: &mut Sql,
    ) -> Result<()> {
        let mut first = true;
        let mut sep = |sql: &mut Sql| {
            sql.push(if first { " ORDER BY " } else { ", " });
            first = false;
        };
        if let Some((key, point)) = near
            && let Operand::Column {
                name,
                ty: FieldType::GeoPoint,
            } = resolve(schema, key)
        {
            sep(sql);
            self.distance("t0", name, point, sql);
            sql.push(" ASC");
        }
        for raw in order
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let (desc, k) = match raw.strip_prefix('-') {
                Some(k) => (true, k),
                None => (false, raw),
            };
            if k == "$score" {
                continue;
            }
            let key = KeyPath::parse(k).map_err(|_| {
                QueryError::new(
                    crate::error::code::INVALID_KEY_NAME,
                    format!("Invalid field name: {k}."),
                )
            })?;
            let dir = if desc {
                " DESC NULLS FIRST"
            } else {
                " ASC NULLS LAST"
            };
            match resolve(schema, &key) {
                Operand::Column { name, .. } => {
                    sep(sql);
                    sql.column("t0", name).push(dir);
                }
                Operand::JsonPath { name, path } => {
                    sep(sql);
                    self.json_extract("t0", name, path, sql);
                    sql.push(dir);
                }
                Operand::Missing | Operand::Perms { .. } | Operand::Relation { .. } => {}
            }
        }
        Ok(())
    }
}

/// The join table of a Relation field: `_Join:field:OwnerClass`, as Parse names it.
/// SQLite's ACL keys of `field` (see [`KeyedAcl`]): a table of (`key`, `id`) pairs, one per
/// key of each object, kept by triggers on the class's table. A name no class can take, as
/// [`join_table`]'s.
pub fn acl_key_table(class: &str, field: &str) -> String {
    format!("_AclKeys:{field}:{class}")
}

pub fn join_table(owner_class: &str, field: &str) -> String {
    format!("_Join:{field}:{owner_class}")
}

/// Renders a checked pattern (with its `(?flags)` prefix) for the database's engine. Parse on
/// PostgreSQL lets `.` match a newline; SQLite's engine gets the `s` flag so both agree, and
/// Perl's `m` becomes PostgreSQL's `w` (`^`/`$` at line breaks).
pub(crate) fn dialect_regex(dialect: Dialect, pattern: &str) -> String {
    let (flags, body) = match pattern.strip_prefix("(?").and_then(|p| p.split_once(')')) {
        Some((f, b)) if !f.is_empty() && f.chars().all(|c| "imxs".contains(c)) => (f, b),
        _ => ("", pattern),
    };
    match dialect {
        Dialect::Sqlite => {
            let mut f: String = flags.chars().filter(|c| *c != 's').collect();
            f.push('s');
            format!("(?{f}){body}")
        }
        Dialect::Postgres => {
            let f: String = flags
                .chars()
                .filter_map(|c| match c {
                    'i' => Some('i'),
                    'x' => Some('x'),
                    'm' => Some('w'),
                    _ => None,
                })
                .collect();
            if f.is_empty() {
                body.to_string()
            } else {
                format!("(?{f}){body}")
            }
        }
    }
}
