//! What differs between SQLite and PostgreSQL in the SQL the compiler writes, and the
//! [`Sql`] builder that carries text and bound values together.
//!
//! The dialect is a closed enum rather than a trait: there are exactly two databases, and a
//! `match` makes every new fragment be written for both or fail to compile.

use chrono::{DateTime, Utc};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A value bound to a placeholder. Storage turns each into the driver's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Text(String),
    Float(f64),
    Int(i64),
    Bool(bool),
    /// timestamptz on PostgreSQL, ISO-8601 text on SQLite.
    Date(DateTime<Utc>),
    /// jsonb on PostgreSQL, JSON text on SQLite.
    Json(Value),
    /// text[] on PostgreSQL, a JSON array as text on SQLite.
    TextArray(Vec<String>),
    /// bytea on PostgreSQL, BLOB on SQLite.
    Bytes(Vec<u8>),
}

/// SQL text plus its binds, numbered placeholders (`$n` / `?n`) so fragments may repeat one.
#[derive(Debug, Clone)]
pub struct Sql {
    pub dialect: Dialect,
    pub text: String,
    pub binds: Vec<Bind>,
    /// PostgreSQL: plan this statement for its own values instead of reusing a prepared
    /// statement's generic plan. Set for a user's queries, whose best plan depends on how few
    /// objects the user's ACL entries match — which a generic plan cannot know.
    pub custom_plan: bool,
}

impl Sql {
    pub fn new(dialect: Dialect) -> Self {
        Self {
            dialect,
            text: String::with_capacity(256),
            binds: Vec::new(),
            custom_plan: false,
        }
    }

    pub fn push(&mut self, s: &str) -> &mut Self {
        self.text.push_str(s);
        self
    }

    /// Appends ` LIMIT n` (`None`: no limit) and, when `skip` is not 0, ` OFFSET $k`.
    ///
    /// The limit is written into the text, not bound: PostgreSQL prices a generic plan's
    /// `LIMIT $n`/`OFFSET $n` as unknown, finds it dearer than the custom plan, and then plans
    /// the prepared statement again at every execution — measured as most of PostgreSQL's CPU
    /// on a get by id. A literal costs nothing to trust (it is a number) and few distinct limits
    /// are used. The skip stays a bind, so paging through results reuses one statement.
    pub fn limit(&mut self, limit: Option<u64>, skip: u64) -> &mut Self {
        let limit = limit.map_or(i64::MAX, |l| i64::try_from(l).unwrap_or(i64::MAX));
        self.text.push_str(" LIMIT ");
        self.text.push_str(&limit.to_string());
        if skip > 0 {
            self.push(" OFFSET ");
            self.bind(Bind::Int(i64::try_from(skip).unwrap_or(i64::MAX)));
        }
        self
    }

    /// Appends a placeholder for `b` and returns its number.
    pub fn bind(&mut self, b: Bind) -> usize {
        self.binds.push(b);
        let n = self.binds.len();
        self.placeholder(n);
        n
    }

    /// Appends `?1, ?2, …` for each value, in order (the inside of an `IN (…)`).
    pub fn bind_list(&mut self, binds: impl IntoIterator<Item = Bind>) -> &mut Self {
        for (i, b) in binds.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.bind(b);
        }
        self
    }

    /// Appends a placeholder for an already bound value.
    pub fn placeholder(&mut self, n: usize) -> &mut Self {
        let p = match self.dialect {
            Dialect::Sqlite => '?',
            Dialect::Postgres => '$',
        };
        self.text.push(p);
        self.text.push_str(&n.to_string());
        self
    }

    /// Appends a double-quoted identifier. Names reaching here were validated; quotes are
    /// doubled anyway so no name can end the identifier.
    pub fn ident(&mut self, name: &str) -> &mut Self {
        self.text.push('"');
        // Names are checked before they get here and hardly ever hold a quote: no allocation
        // per identifier for the common case (every column of every statement).
        if name.contains('"') {
            self.text.push_str(&name.replace('"', "\"\""));
        } else {
            self.text.push_str(name);
        }
        self.text.push('"');
        self
    }

    /// `alias."column"`.
    pub fn column(&mut self, alias: &str, name: &str) -> &mut Self {
        self.text.push_str(alias);
        self.text.push('.');
        self.ident(name)
    }

    /// The text at a key path inside a JSON column, written as the expression indexes on it
    /// use: `json_extract("c", '$.a.b')` / `("c" -> 'a' ->> 'b')`. For fixed paths only: keys
    /// are written into the text, so anything but letters, digits and `_` is dropped.
    pub fn json_text(&mut self, column: &str, path: &[&str]) -> &mut Self {
        let clean = |k: &str| -> String {
            k.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        };
        match self.dialect {
            Dialect::Sqlite => {
                self.push("json_extract(").ident(column).push(", '$");
                for k in path {
                    self.text.push('.');
                    self.text.push_str(&clean(k));
                }
                self.push("')")
            }
            Dialect::Postgres => {
                self.push("(").ident(column);
                for (i, k) in path.iter().enumerate() {
                    self.push(if i + 1 == path.len() {
                        " ->> '"
                    } else {
                        " -> '"
                    });
                    self.text.push_str(&clean(k));
                    self.text.push('\'');
                }
                self.push(")")
            }
        }
    }

    /// A finite float written into the text (geo constants); NaN and infinities never get here.
    pub fn float(&mut self, f: f64) -> &mut Self {
        let f = if f.is_finite() { f } else { 0.0 };
        self.text.push_str(&format!("{f:?}"));
        if self.dialect == Dialect::Postgres {
            self.text.push_str("::float8");
        }
        self
    }
}

impl Dialect {
    /// SQLite's JSON path for a key path: `$."a"."b"`.
    pub fn sqlite_path(path: &[String]) -> String {
        let mut p = String::from("$");
        for seg in path {
            p.push_str(".\"");
            p.push_str(&seg.replace('"', ""));
            p.push('"');
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_and_their_quotes_doubled() {
        let mut sql = Sql::new(Dialect::Postgres);
        sql.ident("plain").push(" ").ident("odd\"name");
        assert_eq!(sql.text, "\"plain\" \"odd\"\"name\"");
    }

    #[test]
    fn the_limit_is_written_and_the_skip_bound_only_when_there_is_one() {
        let mut sql = Sql::new(Dialect::Postgres);
        sql.limit(Some(20), 0);
        assert_eq!(sql.text, " LIMIT 20");
        assert!(sql.binds.is_empty());
        let mut sql = Sql::new(Dialect::Sqlite);
        sql.limit(None, 40);
        assert_eq!(sql.text, format!(" LIMIT {} OFFSET ?1", i64::MAX));
        assert!(matches!(sql.binds[..], [Bind::Int(40)]));
    }
}
