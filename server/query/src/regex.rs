//! `$regex` patterns: the SDK's `\Q…\E` quoting made literal, and a cost check before any
//! pattern reaches a database.
//!
//! Both databases run the pattern themselves (PostgreSQL's `~`, SQLite's `REGEXP` backed by the
//! linear-time `regex` crate). PostgreSQL's engine backtracks on back-references, so a pattern is
//! accepted only if it parses as a regular language (no back-references, no look-around) and is
//! of bounded size: the classic catastrophic patterns are refused before they cost anything.

use crate::error::{QueryError, Result};

/// Longest pattern accepted, in bytes.
pub const MAX_PATTERN_LEN: usize = 1024;
/// Largest compiled program accepted, in regex-syntax HIR nodes (repetition counts expand).
const MAX_REPEAT: u32 = 1000;
/// Largest compiled program Rust's engine may build for a pattern (SQLite's `REGEXP` and the
/// in-memory matcher), in bytes.
pub const COMPILED_SIZE_LIMIT: usize = 1 << 20;

/// The `$options` Parse accepts: i (case-insensitive), m (multi-line), x (extended), s (dot-all).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegexOptions {
    pub case_insensitive: bool,
    pub multi_line: bool,
    pub extended: bool,
    pub dot_all: bool,
}

impl RegexOptions {
    pub fn parse(s: &str) -> Result<Self> {
        let mut o = Self::default();
        for c in s.chars() {
            match c {
                'i' => o.case_insensitive = true,
                'm' => o.multi_line = true,
                'x' => o.extended = true,
                's' => o.dot_all = true,
                _ => {
                    return Err(QueryError::invalid_query(format!(
                        "Bad $options value for query: {s}"
                    )));
                }
            }
        }
        Ok(o)
    }
}

/// Rewrites `\Q…\E` spans (which the JS SDK's `startsWith`, `endsWith` and `contains` produce)
/// into escaped literals, since neither database understands them.
pub fn literalize(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut rest = pattern;
    while let Some(start) = rest.find("\\Q") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let (lit, tail) = match after.find("\\E") {
            Some(end) => (&after[..end], &after[end + 2..]),
            None => (after, ""),
        };
        for c in lit.chars() {
            if "\\.+*?()|[]{}^$#&-~ ".contains(c) && c != ' ' {
                out.push('\\');
            }
            out.push(c);
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// Checks a (literalized) pattern: bounded length, parses as a regular language with bounded
/// repetition. Returns the pattern with the options folded in as inline flags.
pub fn prepare(pattern: &str, options: RegexOptions) -> Result<String> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(QueryError::invalid_query(format!(
            "$regex is longer than {MAX_PATTERN_LEN} bytes"
        )));
    }
    let mut flags = String::new();
    if options.case_insensitive {
        flags.push('i');
    }
    if options.multi_line {
        flags.push('m');
    }
    if options.extended {
        flags.push('x');
    }
    if options.dot_all {
        flags.push('s');
    }
    let full = if flags.is_empty() {
        pattern.to_string()
    } else {
        format!("(?{flags}){pattern}")
    };
    let hir = regex_syntax::ParserBuilder::new()
        .nest_limit(50)
        .build()
        .parse(&full)
        .map_err(|e| {
            QueryError::invalid_query(format!(
                "Invalid regular expression: {}",
                first_line(&e.to_string())
            ))
        })?;
    if max_repeat(&hir) > MAX_REPEAT {
        return Err(QueryError::invalid_query(format!(
            "$regex repetition counts above {MAX_REPEAT} are not allowed"
        )));
    }
    Ok(full)
}

/// Compiles a [`prepare`]d pattern for Rust's engine as SQLite's `REGEXP` runs it (`.` matches
/// a newline, as on PostgreSQL). A program over [`COMPILED_SIZE_LIMIT`] is refused with the
/// answer PostgreSQL's engine gives a pattern it rejects.
pub fn compile(prepared: &str) -> Result<::regex::Regex> {
    let rendered = crate::compile::dialect_regex(crate::Dialect::Sqlite, prepared);
    ::regex::RegexBuilder::new(&rendered)
        .size_limit(COMPILED_SIZE_LIMIT)
        .build()
        .map_err(|_| QueryError::invalid_query("Invalid regular expression."))
}

fn first_line(s: &str) -> &str {
    s.lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| s.lines().next().unwrap_or(s))
}

fn max_repeat(h: &regex_syntax::hir::Hir) -> u32 {
    use regex_syntax::hir::HirKind;
    match h.kind() {
        HirKind::Repetition(r) => {
            let own = r.max.unwrap_or(r.min).max(r.min);
            own.saturating_mul(max_repeat(&r.sub).max(1))
        }
        HirKind::Capture(c) => max_repeat(&c.sub),
        HirKind::Concat(v) | HirKind::Alternation(v) => v.iter().map(max_repeat).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literalizes_sdk_quoting() {
        assert_eq!(literalize(r"^\Qa.b\E"), r"^a\.b");
        assert_eq!(literalize(r"\Qx*\E$"), r"x\*$");
        assert_eq!(literalize(r"plain"), "plain");
        assert_eq!(literalize(r"\Qopen"), "open");
    }

    #[test]
    fn refuses_backreferences_and_huge_repeats() {
        assert!(prepare(r"(a)\1", RegexOptions::default()).is_err());
        assert!(prepare(r"(?=a)", RegexOptions::default()).is_err());
        assert!(prepare(r"(a{1000}){1000}", RegexOptions::default()).is_err());
        assert!(prepare(&"a".repeat(2000), RegexOptions::default()).is_err());
    }

    #[test]
    fn folds_options() {
        let o = RegexOptions::parse("im").expect("valid options");
        assert_eq!(prepare("^abc", o).expect("valid"), "(?im)^abc");
        assert!(RegexOptions::parse("q").is_err());
    }
}
