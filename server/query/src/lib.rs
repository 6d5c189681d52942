//! The Parse query language, separated from HTTP and from any database driver.
//!
//! `where`, `order` and `keys` arrive as JSON; [`filter::Filter::parse`] turns `where` into an
//! AST (validating operators and key names with Parse's error codes), and [`compile`] turns the
//! AST into SQL for one [`Dialect`] with every value bound, never spliced. Class schemas
//! ([`schema`]) give the compiler each field's type so comparisons are typed per column.
//! [`matcher`] answers the same question for one object in memory, as LiveQuery needs.

pub mod aggregate;
pub mod compile;
pub mod dialect;
pub mod error;
pub mod filter;
pub mod matcher;
pub mod regex;
pub mod schema;
pub mod value;

pub use compile::{Compiler, KeyedAcl, SchemaSource};
pub use dialect::{Bind, Dialect, Sql};
pub use error::QueryError;
pub use filter::{Filter, KeyPath};
pub use matcher::{CompiledFilter, matches};
pub use schema::{ClassSchema, ColumnKind, FieldType};
