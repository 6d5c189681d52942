//! DDL for class tables, columns, join tables and indexes, per dialect. Every name reaching
//! here was validated as a class or field name; identifiers are quoted regardless.

use basalt_query::{Dialect, Sql};

use super::Col;

pub use basalt_query::compile::{acl_key_table, join_table};

/// The column type a value kind is stored as.
pub fn column_type(d: Dialect, c: Col) -> &'static str {
    match (d, c) {
        (Dialect::Sqlite, Col::Text | Col::Date | Col::Json | Col::Perms) => "TEXT",
        (Dialect::Sqlite, Col::Float) => "REAL",
        (Dialect::Sqlite, Col::Bool | Col::Int) => "INTEGER",
        (Dialect::Sqlite, Col::Bytes) => "BLOB",
        (Dialect::Postgres, Col::Bytes) => "bytea",
        (Dialect::Postgres, Col::Text) => "text",
        (Dialect::Postgres, Col::Float) => "double precision",
        (Dialect::Postgres, Col::Bool) => "boolean",
        (Dialect::Postgres, Col::Int) => "bigint",
        (Dialect::Postgres, Col::Date) => "timestamptz",
        (Dialect::Postgres, Col::Json) => "jsonb",
        (Dialect::Postgres, Col::Perms) => "text[]",
    }
}

fn quoted(name: &str) -> String {
    let mut s = Sql::new(Dialect::Sqlite);
    s.ident(name);
    s.text
}

/// A class table with the system columns and their indexes.
pub fn create_class_table(d: Dialect, class: &str) -> Vec<String> {
    let t = quoted(class);
    let date = column_type(d, Col::Date);
    let perms = column_type(d, Col::Perms);
    let text = column_type(d, Col::Text);
    let mut out = vec![format!(
        "CREATE TABLE IF NOT EXISTS {t} (\"objectId\" {text} PRIMARY KEY, \"createdAt\" {date} NOT NULL, \"updatedAt\" {date} NOT NULL, \"_rperm\" {perms}, \"_wperm\" {perms})"
    )];
    for col in ["createdAt", "updatedAt"] {
        out.push(format!(
            "CREATE INDEX IF NOT EXISTS {} ON {t} (\"{col}\")",
            quoted(&format!("{class}_{col}"))
        ));
    }
    if d == Dialect::Postgres {
        // ACL filtering is `COALESCE(_rperm, '{*}') && $perms`: a GIN index on that serves it.
        // No pending list (`fastupdate`): every query would scan it in full.
        out.push(format!(
            "CREATE INDEX IF NOT EXISTS {} ON {t} USING GIN ((COALESCE(\"_rperm\", '{{*}}'::text[]))) WITH (fastupdate = off)",
            quoted(&format!("{class}__rperm"))
        ));
    }
    out
}

pub fn add_column(d: Dialect, class: &str, field: &str, col: Col) -> String {
    let exists = if d == Dialect::Postgres {
        "IF NOT EXISTS "
    } else {
        ""
    };
    format!(
        "ALTER TABLE {} ADD COLUMN {exists}{} {}",
        quoted(class),
        quoted(field),
        column_type(d, col)
    )
}

pub fn drop_column(d: Dialect, class: &str, field: &str) -> String {
    match (d, acl_key_column_name(field)) {
        // The field's ACL key column is computed from it and must go first.
        (Dialect::Postgres, Some(keys)) => format!(
            "ALTER TABLE {t} DROP COLUMN IF EXISTS {k}, DROP COLUMN IF EXISTS {f}",
            t = quoted(class),
            k = quoted(&keys),
            f = quoted(field)
        ),
        (Dialect::Postgres, None) => format!(
            "ALTER TABLE {} DROP COLUMN IF EXISTS {}",
            quoted(class),
            quoted(field)
        ),
        (Dialect::Sqlite, _) => format!(
            "ALTER TABLE {} DROP COLUMN {}",
            quoted(class),
            quoted(field)
        ),
    }
}

pub fn create_join_table(d: Dialect, owner: &str, field: &str) -> Vec<String> {
    let name = join_table(owner, field);
    let text = column_type(d, Col::Text);
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {} (\"relatedId\" {text} NOT NULL, \"owningId\" {text} NOT NULL, PRIMARY KEY (\"owningId\", \"relatedId\"))",
            quoted(&name)
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS {} ON {} (\"relatedId\")",
            quoted(&format!("{name}_related")),
            quoted(&name)
        ),
    ]
}

pub fn drop_table(name: &str) -> String {
    format!("DROP TABLE IF EXISTS {}", quoted(name))
}

/// `CREATE INDEX` for a `/schemas` index: fields with 1 (ascending) or -1 (descending).
pub fn create_index(class: &str, index: &str, fields: &[(String, bool)], unique: bool) -> String {
    let cols: Vec<String> = fields
        .iter()
        .map(|(f, asc)| format!("{}{}", quoted(f), if *asc { "" } else { " DESC" }))
        .collect();
    format!(
        "CREATE {}INDEX IF NOT EXISTS {} ON {} ({})",
        if unique { "UNIQUE " } else { "" },
        quoted(&format!("{class}_{index}")),
        quoted(class),
        cols.join(", ")
    )
}

pub fn drop_index(class: &str, index: &str) -> String {
    format!(
        "DROP INDEX IF EXISTS {}",
        quoted(&format!("{class}_{index}"))
    )
}

/// PostgreSQL: the ACL-aware twin of a declared index, a GIN index (through `btree_gin`) on the
/// read ACL together with the index's first field. A user who may read few objects of a large
/// class finds them in it directly (0.2 ms for the benchmark's query, against 1.4 ms for the
/// ACL index intersected with the declared btree). Only the first field: it is the one queries
/// match by equality; a range inside GIN walks every matching value's list (5 ms, measured).
/// `None` when that field is not a scalar column.
pub fn acl_twin_index(class: &str, index: &str, fields: &[(String, Col)]) -> Option<String> {
    let cols: Vec<String> = fields
        .first()
        .filter(|(_, c)| matches!(c, Col::Text | Col::Float | Col::Bool | Col::Date))
        .map(|(f, _)| quoted(f))
        .into_iter()
        .collect();
    if cols.is_empty() {
        return None;
    }
    Some(format!(
        "CREATE INDEX IF NOT EXISTS {} ON {} USING GIN ((COALESCE(\"_rperm\", '{{*}}'::text[])), {}) WITH (fastupdate = off)",
        quoted(&format!("{class}_{index}_acl")),
        quoted(class),
        cols.join(", ")
    ))
}

/// PostgreSQL: the ACL key column of `field` and its GIN index (basalt-query's `KeyedAcl`), for
/// a declared index whose first field is a String or Pointer. It takes the twin's place there:
/// the twin intersects the user's ACL entries with every object of the value, the keys hold
/// the two together. `None` when the column's name would be too long for PostgreSQL.
pub fn acl_key_column(class: &str, field: &str) -> Option<[String; 2]> {
    let column = acl_key_column_name(field)?;
    Some([
        format!(
            "ALTER TABLE {t} ADD COLUMN IF NOT EXISTS {c} text[] GENERATED ALWAYS AS (basalt_acl_keys(COALESCE(\"_rperm\", '{{*}}'::text[]), {f})) STORED",
            t = quoted(class),
            c = quoted(&column),
            f = quoted(field),
        ),
        format!(
            "CREATE INDEX IF NOT EXISTS {} ON {} USING GIN ({}) WITH (fastupdate = off)",
            quoted(&format!("{class}_{column}")),
            quoted(class),
            quoted(&column),
        ),
    ])
}

/// SQLite: the ACL keys of `field` ([`acl_key_table`]) for a declared index whose first field
/// is a String or Pointer, what PostgreSQL's key column is there: the table, filled from the
/// objects already stored, and the triggers that keep it. Each key is `entry␟value` for a read
/// entry of the object's ACL (`*` when it has none); an entry or value holding the separator
/// gets none, as in `basalt_acl_keys`.
///
/// Rows are ordered by key, then the object's `createdAt`: a new object's keys go at the end
/// of their ranges, into pages already being written, where ordered by objectId (random) each
/// create wrote a page of its own (SQLite creates: 12,099/s that way, against 16,480 without
/// keys).
pub fn sqlite_acl_keys(class: &str, field: &str) -> Vec<String> {
    let table = quoted(&acl_key_table(class, field));
    let (t, f) = (quoted(class), quoted(field));
    // The keys of the row `row` (NEW or OLD, or each row of `from`) as (key, at, id) rows.
    let keys = |row: &str, from: &str| {
        format!(
            "SELECT e.value || char(31) || {row}.{f}, {row}.\"createdAt\", {row}.\"objectId\" \
             FROM {from}json_each(COALESCE({row}.\"_rperm\", '[\"*\"]')) e \
             WHERE {row}.{f} IS NOT NULL AND instr({row}.{f}, char(31)) = 0 \
             AND instr(e.value, char(31)) = 0"
        )
    };
    // An object without an ACL (most, in many classes) has the one key `*␟value`, written
    // without reading JSON.
    let insert = |row: &str| {
        format!(
            "INSERT OR IGNORE INTO {table} (\"key\", \"at\", \"id\") \
             SELECT '*' || char(31) || {row}.{f}, {row}.\"createdAt\", {row}.\"objectId\" \
             WHERE {row}.\"_rperm\" IS NULL AND {row}.{f} IS NOT NULL AND instr({row}.{f}, char(31)) = 0; \
             INSERT OR IGNORE INTO {table} (\"key\", \"at\", \"id\") {} AND {row}.\"_rperm\" IS NOT NULL;",
            keys(row, "")
        )
    };
    let delete = format!(
        "DELETE FROM {table} WHERE \"at\" = OLD.\"createdAt\" AND \"id\" = OLD.\"objectId\" \
         AND \"key\" IN (SELECT e.value || char(31) || OLD.{f} \
         FROM json_each(COALESCE(OLD.\"_rperm\", '[\"*\"]')) e);"
    );
    let trigger = |suffix: &str| quoted(&format!("{}:{suffix}", acl_key_table(class, field)));
    vec![
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (\"key\" TEXT NOT NULL, \"at\" TEXT NOT NULL, \
             \"id\" TEXT NOT NULL, PRIMARY KEY (\"key\", \"at\", \"id\")) WITHOUT ROWID"
        ),
        format!(
            "INSERT OR IGNORE INTO {table} (\"key\", \"at\", \"id\") {}",
            keys("t", &format!("{t} t, "))
        ),
        format!(
            "CREATE TRIGGER IF NOT EXISTS {} AFTER INSERT ON {t} BEGIN {} END",
            trigger("insert"),
            insert("NEW")
        ),
        format!(
            "CREATE TRIGGER IF NOT EXISTS {} AFTER UPDATE OF \"_rperm\", {f}, \"createdAt\" ON {t} \
             BEGIN {delete} {} END",
            trigger("update"),
            insert("NEW")
        ),
        format!(
            "CREATE TRIGGER IF NOT EXISTS {} AFTER DELETE ON {t} BEGIN {delete} END",
            trigger("delete")
        ),
    ]
}

/// Drops what [`sqlite_acl_keys`] made (before `field`'s column, which the triggers name).
pub fn drop_sqlite_acl_keys(class: &str, field: &str) -> Vec<String> {
    let table = acl_key_table(class, field);
    let mut stmts: Vec<String> = ["insert", "update", "delete"]
        .iter()
        .map(|s| format!("DROP TRIGGER IF EXISTS {}", quoted(&format!("{table}:{s}"))))
        .collect();
    stmts.push(drop_table(&table));
    stmts
}

/// `_acl_<field>`, if PostgreSQL can name a column so (63 bytes).
pub fn acl_key_column_name(field: &str) -> Option<String> {
    Some(format!("_acl_{field}")).filter(|c| c.len() <= 63)
}

/// Drops the ACL key column of `field` (its index goes with it).
pub fn drop_acl_key_column(class: &str, field: &str) -> Option<String> {
    acl_key_column_name(field).map(|c| {
        format!(
            "ALTER TABLE {} DROP COLUMN IF EXISTS {}",
            quoted(class),
            quoted(&c)
        )
    })
}

pub fn drop_acl_twin_index(class: &str, index: &str) -> String {
    format!(
        "DROP INDEX IF EXISTS {}",
        quoted(&format!("{class}_{index}_acl"))
    )
}
