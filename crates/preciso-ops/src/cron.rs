//! Cron schedules in a time zone, and the daylight-saving policy (docs/OPERATIONS.md O1, O2).
//!
//! Expressions are the standard 5 fields; a 6th (leading seconds) field only when the job says
//! `seconds = true`. Parsing and field matching come from `croner`; turning local wall-clock
//! matches into instants is ours, because that is where the DST policy lives:
//! - a **fixed-time** job (its hour field is not a wildcard) that falls in a spring-forward gap
//!   runs once, at the first valid instant after the gap; in a fall-back overlap it runs once,
//!   at the first occurrence;
//! - an **interval** job (hour field `*` or `*/n`) keeps its cadence in real time: it has no
//!   runs in a gap (those wall-clock times never happen) and runs in both passes of an overlap.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScheduleError {
    #[error("cron expression {expr:?} has {found} fields; expected {expected}{hint}")]
    FieldCount { expr: String, found: usize, expected: usize, hint: &'static str },
    #[error("cron expression {expr:?} is invalid: {reason}")]
    Invalid { expr: String, reason: String },
    #[error("unknown time zone {0:?} (use an IANA name such as America/Bogota)")]
    TimeZone(String),
}

/// How far around a transition we look: more than any DST shift in the tz database.
const WINDOW: Duration = Duration::hours(3);
/// Candidate matches examined per lookup before giving up (a per-second job over the window).
const MAX_CANDIDATES: usize = 50_000;

#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    cron: Cron,
    tz: Tz,
    fixed_time: bool,
}

impl Schedule {
    pub fn parse(expr: &str, tz: &str, seconds: bool) -> Result<Self, ScheduleError> {
        let fields: Vec<&str> = expr.split_whitespace().collect();
        let expected = if seconds { 6 } else { 5 };
        if fields.len() != expected {
            let hint = if fields.len() == 6 && !seconds {
                " (a seconds field needs `seconds = true` on the job)"
            } else {
                ""
            };
            return Err(ScheduleError::FieldCount {
                expr: expr.into(),
                found: fields.len(),
                expected,
                hint,
            });
        }
        let tz: Tz = tz.parse().map_err(|_| ScheduleError::TimeZone(tz.into()))?;
        let parser = CronParser::builder()
            .seconds(if seconds { Seconds::Required } else { Seconds::Disallowed })
            .build();
        let cron = parser
            .parse(expr)
            .map_err(|e| ScheduleError::Invalid { expr: expr.into(), reason: e.to_string() })?;
        let hour = fields[if seconds { 2 } else { 1 }];
        Ok(Schedule { expr: expr.into(), cron, tz, fixed_time: !hour.starts_with('*') })
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// Whether the DST policy of fixed-time jobs applies (see the module header).
    pub fn is_fixed_time(&self) -> bool {
        self.fixed_time
    }

    /// The first fire instant strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local_after = after.with_timezone(&self.tz).naive_local();
        // Whole seconds: croner keeps a cursor's sub-second part in what it returns.
        let start = local_after - WINDOW;
        let mut cursor = as_utc(start.with_nanosecond(0).unwrap_or(start));
        let mut best: Option<DateTime<Utc>> = None;
        for _ in 0..MAX_CANDIDATES {
            let candidate = self.cron.find_next_occurrence(&cursor, false).ok()?;
            let naive = candidate.naive_utc();
            if let Some(b) = best
                && naive > b.with_timezone(&self.tz).naive_local() + WINDOW
            {
                break;
            }
            for instant in self.instants(naive) {
                if instant > after && best.is_none_or(|b| instant < b) {
                    best = Some(instant);
                }
            }
            cursor = candidate;
        }
        best
    }

    /// The next `n` fire instants after `after`.
    pub fn upcoming(&self, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
        let mut out = Vec::with_capacity(n);
        let mut t = after;
        while out.len() < n {
            match self.next_after(t) {
                Some(next) => {
                    out.push(next);
                    t = next;
                }
                None => break,
            }
        }
        out
    }

    /// The latest fire instant in `(from, to]`, if any, and how many there were (up to `cap`).
    pub fn latest_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        cap: usize,
    ) -> (Option<DateTime<Utc>>, usize) {
        let (mut latest, mut count, mut t) = (None, 0, from);
        while count < cap {
            match self.next_after(t) {
                Some(next) if next <= to => {
                    latest = Some(next);
                    count += 1;
                    t = next;
                }
                _ => break,
            }
        }
        (latest, count)
    }

    /// The instants a local wall-clock match stands for, under the DST policy.
    fn instants(&self, naive: NaiveDateTime) -> Vec<DateTime<Utc>> {
        match self.tz.from_local_datetime(&naive) {
            LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
            LocalResult::Ambiguous(first, second) => {
                if self.fixed_time {
                    vec![first.with_timezone(&Utc)]
                } else {
                    vec![first.with_timezone(&Utc), second.with_timezone(&Utc)]
                }
            }
            LocalResult::None if self.fixed_time => {
                self.first_valid_after(naive).into_iter().collect()
            }
            LocalResult::None => Vec::new(),
        }
    }

    /// The first instant after a wall-clock time that does not exist (the end of the gap).
    fn first_valid_after(&self, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
        let start = naive.with_second(0).unwrap_or(naive);
        // Transitions happen on whole minutes, so the first existing minute is the gap's end.
        (1..=240).find_map(|minutes| {
            let local = self.tz.from_local_datetime(&(start + Duration::minutes(minutes)));
            local.earliest().map(|t| t.with_timezone(&Utc))
        })
    }
}

/// A local wall-clock time carried as a UTC value, so `croner` matches fields without any zone.
fn as_utc(naive: NaiveDateTime) -> DateTime<Utc> {
    Utc.from_utc_datetime(&naive)
}
