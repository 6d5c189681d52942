//! When a user's query should test its read ACL on ACL keys (basalt-query's `KeyedAcl`: a
//! column on PostgreSQL, a table on SQLite, see [`SqliteAclKeys`]) rather than on `_rperm`.
//!
//! The keys find a user's objects with a value among many objects of that value at once. But
//! they also hold `*␟value` for every public object: where many objects with the value are
//! public, reading them all through the keys and sorting is slower than walking the declared
//! btree index in order, which the plain ACL test lets PostgreSQL do. PostgreSQL cannot weigh
//! the two itself: the key test implies `field = value`, and the planner, taking the two as
//! independent, underestimates the rows tenfold and picks bitmap plans that cost ten times the
//! btree walk (measured on bench/'s shared class: 3,733 statements/s against 12,715).
//!
//! So Basalt decides per value, from the statistics PostgreSQL keeps on the key column: the
//! most common keys and their frequencies, which include `*␟value` for the values with many
//! public objects. Those are read per class at most every [`FRESH`], in the background; until
//! they are read, or before the class was ever analyzed, the plain test is used.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use basalt_query::compile::ACL_KEY_SEPARATOR;
use basalt_query::{Dialect, Sql};
use serde_json::Value;

use super::postgres::PgStore;
use super::{Cell, Col};

/// How long a class's statistics are used before they are read again.
const FRESH: Duration = Duration::from_secs(30);
/// The same while a key column has none yet (PostgreSQL's autovacuum analyzes a new table
/// soon after it fills).
const FRESH_UNKNOWN: Duration = Duration::from_secs(2);
/// Public objects with one value above which the btree walk wins (PostgreSQL reads these
/// through the keys one by one, then sorts them).
const MAX_PUBLIC_ROWS: f64 = 500.0;

#[derive(Default)]
pub struct AclKeys {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Bumped when tables change: a read begun before is not kept.
    generation: u64,
    classes: HashMap<String, Class>,
}

struct Class {
    read_at: Instant,
    /// The fields with an ACL key column, and what their statistics say.
    fields: HashMap<String, Stats>,
    reading: bool,
}

enum Stats {
    /// The column exists but was never analyzed.
    Unknown,
    /// Public objects per value, for the values with many (from the most common keys).
    Known { public_rows: HashMap<String, f64> },
}

impl AclKeys {
    /// Whether a user's query with `field = value` on `class` should use the key column. Reads
    /// the class's statistics in the background when they are missing or old.
    pub fn use_keys(&self, store: &PgStore, class: &str, field: &str, value: &str) -> bool {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let generation = inner.generation;
        let entry = inner.classes.entry(class.to_string()).or_insert(Class {
            read_at: Instant::now() - FRESH * 2,
            fields: HashMap::new(),
            reading: false,
        });
        let fresh = if entry.fields.values().any(|s| matches!(s, Stats::Unknown)) {
            FRESH_UNKNOWN
        } else {
            FRESH
        };
        if entry.read_at.elapsed() >= fresh && !entry.reading {
            entry.reading = true;
            let (store, class) = (store.clone(), class.to_string());
            tokio::spawn(async move {
                let fields = read_stats(&store, &class).await;
                let mut inner = store
                    .acl_keys
                    .inner
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let current = inner.generation == generation;
                if let Some(entry) = inner.classes.get_mut(&class) {
                    entry.reading = false;
                    if let (true, Some(fields)) = (current, fields) {
                        entry.fields = fields;
                        entry.read_at = Instant::now();
                    }
                }
            });
        }
        match entry.fields.get(field) {
            Some(Stats::Known { public_rows }) => {
                public_rows.get(value).copied().unwrap_or(0.0) <= MAX_PUBLIC_ROWS
            }
            Some(Stats::Unknown) | None => false,
        }
    }

    /// Tables changed: columns may have come or gone.
    pub fn forget(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.generation += 1;
        inner.classes.clear();
    }
}

/// The class's key columns and their statistics; `None` if they could not be read.
async fn read_stats(store: &PgStore, class: &str) -> Option<HashMap<String, Stats>> {
    let mut sql = Sql::new(Dialect::Postgres);
    sql.push(
        "SELECT substr(a.attname, 6), to_jsonb(s.most_common_elems::text::text[]), \
         to_jsonb(s.most_common_elem_freqs), c.reltuples::float8, (s.attname IS NOT NULL) \
         FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid \
         LEFT JOIN pg_stats s ON s.schemaname = current_schema() AND s.tablename = c.relname \
         AND s.attname = a.attname \
         WHERE c.oid = to_regclass(quote_ident(",
    );
    sql.bind(basalt_query::Bind::Text(class.to_string()));
    sql.push(")) AND a.attnum > 0 AND NOT a.attisdropped AND a.attname LIKE '\\_acl\\_%'");
    let cols = [Col::Text, Col::Json, Col::Json, Col::Float, Col::Bool];
    let rows = match super::Storage::Postgres(store.clone())
        .fetch(&sql, &cols)
        .await
    {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(class, error = %e, "cannot read ACL key statistics");
            return None;
        }
    };
    let mut fields = HashMap::new();
    for row in rows {
        let mut cells = row.into_iter();
        let (Some(Cell::Text(field)), Some(elems), Some(freqs), Some(tuples), Some(analyzed)) = (
            cells.next(),
            cells.next(),
            cells.next(),
            cells.next(),
            cells.next(),
        ) else {
            continue;
        };
        let stats = match (analyzed, tuples) {
            (Cell::Bool(true), Cell::Float(tuples)) => Stats::Known {
                public_rows: public_rows(elems, freqs, tuples),
            },
            _ => Stats::Unknown,
        };
        fields.insert(field, stats);
    }
    Some(fields)
}

/// `*␟value` keys among the most common ones → value → estimated public objects.
fn public_rows(elems: Cell, freqs: Cell, tuples: f64) -> HashMap<String, f64> {
    let (Cell::Json(Value::Array(elems)), Cell::Json(Value::Array(freqs))) = (elems, freqs) else {
        return HashMap::new();
    };
    let public = format!("*{ACL_KEY_SEPARATOR}");
    elems
        .iter()
        .zip(&freqs)
        .filter_map(|(e, f)| {
            let value = e.as_str()?.strip_prefix(&public)?;
            Some((value.to_string(), f.as_f64()? * tuples.max(0.0)))
        })
        .collect()
}

/// SQLite's side of the same choice. Its keys are rows of a table ([`ddl::sqlite_acl_keys`]),
/// which can simply be counted: a value's public keys are counted up to [`MAX_PUBLIC_ROWS`]
/// (one range of the table's primary key) and the answer kept for [`FRESH`].
///
/// The table is built when a user's query first finds it missing ([`SqliteAclKeys::claim`]),
/// not with the declared index as PostgreSQL's column is: on SQLite every key is written by
/// the one writer, and creates in a class with keys ran 14–25% slower in bench/ (owner-only
/// queries 4.4× faster). A class that only public or master-key requests query never pays.
///
/// [`ddl::sqlite_acl_keys`]: super::ddl::sqlite_acl_keys
#[derive(Default)]
pub struct SqliteAclKeys {
    inner: Mutex<SqliteInner>,
}

#[derive(Default)]
struct SqliteInner {
    /// Bumped when tables change: a count begun before is not kept.
    generation: u64,
    /// (class, field, value) → whether to use the keys, and since when that is known.
    known: HashMap<(String, String, String), (bool, Instant)>,
    /// (class, field) without a key table.
    absent: std::collections::HashSet<(String, String)>,
    /// (class, field) whose key table is being built.
    building: std::collections::HashSet<(String, String)>,
}

/// Answers kept at most; past it they are all forgotten.
const SQLITE_MAX_KNOWN: usize = 4096;

impl SqliteAclKeys {
    /// Whether a user's query with `field = value` on `class` should use the keys; `count`
    /// runs a statement (`None` when it fails: no key table).
    pub fn use_keys(
        &self,
        class: &str,
        field: &str,
        value: &str,
        count: impl FnOnce(&Sql) -> Option<i64>,
    ) -> bool {
        let key = (class.to_string(), field.to_string(), value.to_string());
        let generation = {
            let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
            if inner.absent.contains(&(key.0.clone(), key.1.clone())) {
                return false;
            }
            if let Some((use_keys, at)) = inner.known.get(&key)
                && at.elapsed() < FRESH
            {
                return *use_keys;
            }
            inner.generation
        };
        let mut sql = Sql::new(Dialect::Sqlite);
        sql.push("SELECT COUNT(*) FROM (SELECT 1 FROM ")
            .ident(&basalt_query::compile::acl_key_table(class, field))
            .push(" WHERE \"key\" = ");
        sql.bind(basalt_query::Bind::Text(basalt_query::compile::acl_key(
            "*", value,
        )));
        sql.push(format!(" LIMIT {})", MAX_PUBLIC_ROWS as i64 + 1).as_str());
        let public = count(&sql);
        let use_keys = public.is_some_and(|n| n as f64 <= MAX_PUBLIC_ROWS);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.generation == generation {
            if public.is_none() {
                inner.absent.insert((key.0, key.1));
            } else {
                if inner.known.len() >= SQLITE_MAX_KNOWN {
                    inner.known.clear();
                }
                inner.known.insert(key, (use_keys, Instant::now()));
            }
        }
        use_keys
    }

    /// Whether the caller is the one to build the keys of (class, field): they were found
    /// missing, and no one has claimed them since tables last changed.
    pub fn claim(&self, class: &str, field: &str) -> bool {
        let key = (class.to_string(), field.to_string());
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.absent.contains(&key) && inner.building.insert(key)
    }

    /// Tables changed: key tables may have come or gone.
    pub fn forget(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.generation += 1;
        inner.known.clear();
        inner.absent.clear();
        inner.building.clear();
    }
}
