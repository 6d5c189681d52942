//! Cron expressions for scheduled jobs: five fields (minute, hour, day of month, month, day of
//! week), or six with seconds first (as node-cron and Parse apps' schedulers accept), each `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`, or a list of those;
//! months and days may be named (`jan`, `mon`); day of week 0 and 7 are Sunday. As in cron,
//! when both day fields are restricted a day matching either runs. Times are UTC.

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    /// `None`: five fields, due at second 0.
    seconds: Option<u64>,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    /// Whether the day-of-month and day-of-week fields were given (not `*`).
    days_set: bool,
    weekdays_set: bool,
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn value(s: &str, names: &[&str], base: u32) -> Option<u32> {
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        return Some(i as u32 + base);
    }
    s.parse().ok()
}

/// One field as a bit set of the values it allows, within `lo..=hi`.
fn field(spec: &str, lo: u32, hi: u32, names: &[&str], base: u32) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    for part in spec.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("bad step in `{part}`"))?,
            ),
            None => (part, 1),
        };
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (
                value(a, names, base).ok_or_else(|| format!("bad value `{a}`"))?,
                value(b, names, base).ok_or_else(|| format!("bad value `{b}`"))?,
            )
        } else {
            let v = value(range, names, base).ok_or_else(|| format!("bad value `{range}`"))?;
            // `5/15` means from 5 to the end, every 15.
            (v, if part.contains('/') { hi } else { v })
        };
        if a < lo || b > hi || a > b {
            return Err(format!("`{part}` is outside {lo}-{hi}"));
        }
        let mut v = a;
        while v <= b {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, spec != "*"))
}

impl Cron {
    pub fn parse(expr: &str) -> Result<Cron, String> {
        let f: Vec<&str> = expr.split_whitespace().collect();
        let bad = |e: String| format!("`{expr}`: {e}");
        let (seconds, rest) = match f.as_slice() {
            [s, rest @ ..] if rest.len() == 5 => {
                (Some(field(s, 0, 59, &[], 0).map_err(bad)?.0), rest)
            }
            rest => (None, rest),
        };
        let [min, hour, dom, month, dow] = rest else {
            return Err(format!(
                "`{expr}` is not a cron expression ([second] minute hour day month weekday)"
            ));
        };
        let (minutes, _) = field(min, 0, 59, &[], 0).map_err(bad)?;
        let (hours, _) = field(hour, 0, 23, &[], 0).map_err(bad)?;
        let (days, days_set) = field(dom, 1, 31, &[], 0).map_err(bad)?;
        let (months, _) = field(month, 1, 12, &MONTHS, 1).map_err(bad)?;
        let (mut weekdays, weekdays_set) = field(dow, 0, 7, &WEEKDAYS, 0).map_err(bad)?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        Ok(Cron {
            seconds,
            minutes,
            hours,
            days,
            months,
            weekdays,
            days_set,
            weekdays_set,
        })
    }

    fn day_matches(&self, t: &DateTime<Utc>) -> bool {
        let dom = self.days & (1 << t.day()) != 0;
        let dow = self.weekdays & (1 << t.weekday().num_days_from_sunday()) != 0;
        match (self.days_set, self.weekdays_set) {
            (true, true) => dom || dow,
            (true, false) => dom,
            (false, true) => dow,
            (false, false) => true,
        }
    }

    /// Whether `t` (a whole second) is a due time.
    pub fn matches(&self, t: &DateTime<Utc>) -> bool {
        self.seconds.unwrap_or(1) & (1 << t.second()) != 0
            && self.minutes & (1 << t.minute()) != 0
            && self.hours & (1 << t.hour()) != 0
            && self.months & (1 << t.month()) != 0
            && self.day_matches(t)
    }

    /// The due times in `(after, until]`, at most `max` of them.
    pub fn due(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        max: usize,
    ) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let step = if self.seconds.is_some() { 1 } else { 60 };
        let Some(start) = Utc
            .timestamp_opt(after.timestamp() - after.timestamp().rem_euclid(step), 0)
            .single()
        else {
            return out;
        };
        let mut t = start + Duration::seconds(step);
        while t <= until && out.len() < max {
            if self.matches(&t) {
                out.push(t);
            }
            t += Duration::seconds(step);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn fields_steps_ranges_and_names() {
        let c = Cron::parse("*/15 9-17 * * mon-fri").unwrap();
        assert!(c.matches(&at("2026-11-24T09:45:00Z")), "a Tuesday");
        assert!(!c.matches(&at("2026-11-24T09:50:00Z")));
        assert!(!c.matches(&at("2026-11-24T18:00:00Z")));
        assert!(!c.matches(&at("2026-11-22T10:00:00Z")), "a Sunday");
        let sundays = Cron::parse("0 0 * * 7").unwrap();
        assert!(sundays.matches(&at("2026-11-22T00:00:00Z")));
        let c = Cron::parse("5/20 0 1,15 jan,jul *").unwrap();
        assert!(c.matches(&at("2026-07-15T00:45:00Z")));
        assert!(
            !c.matches(&at("2026-07-15T00:45:01Z")),
            "five fields: at second 0"
        );
        assert!(!c.matches(&at("2026-07-15T00:15:00Z")));
        assert!(!c.matches(&at("2026-08-15T00:05:00Z")));
    }

    #[test]
    fn six_fields_start_with_seconds() {
        let c = Cron::parse("*/20 * * * * *").unwrap();
        let due = c.due(at("2026-11-24T10:00:05Z"), at("2026-11-24T10:01:00Z"), 10);
        assert_eq!(
            due,
            vec![
                at("2026-11-24T10:00:20Z"),
                at("2026-11-24T10:00:40Z"),
                at("2026-11-24T10:01:00Z")
            ]
        );
    }

    #[test]
    fn both_day_fields_match_either() {
        // The 13th, or any Friday.
        let c = Cron::parse("0 12 13 * fri").unwrap();
        assert!(c.matches(&at("2026-11-13T12:00:00Z")));
        assert!(c.matches(&at("2026-11-20T12:00:00Z")), "a Friday");
        assert!(!c.matches(&at("2026-11-19T12:00:00Z")));
    }

    #[test]
    fn due_times_in_a_window() {
        let c = Cron::parse("*/10 * * * *").unwrap();
        let due = c.due(at("2026-11-24T10:05:30Z"), at("2026-11-24T10:40:00Z"), 10);
        assert_eq!(
            due,
            vec![
                at("2026-11-24T10:10:00Z"),
                at("2026-11-24T10:20:00Z"),
                at("2026-11-24T10:30:00Z"),
                at("2026-11-24T10:40:00Z")
            ]
        );
        assert!(
            c.due(at("2026-11-24T10:10:00Z"), at("2026-11-24T10:10:00Z"), 10)
                .is_empty()
        );
    }

    #[test]
    fn bad_expressions_say_why() {
        for (expr, why) in [
            ("* * * *", "not a cron expression"),
            ("* * * * * * *", "not a cron expression"),
            ("60 * * * *", "outside 0-59"),
            ("*/0 * * * *", "bad step"),
            ("* * * foo *", "bad value `foo`"),
            ("5-1 * * * *", "outside"),
        ] {
            let e = Cron::parse(expr).unwrap_err();
            assert!(e.contains(why), "{expr}: {e}");
        }
    }
}
