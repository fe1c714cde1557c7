//! Settings from the environment: every key of the config file as
//! `PRECISO_<SECTION>__<KEY>` (a double underscore between levels, e.g.
//! `PRECISO_HTTP__RATE_LIMIT_PER_MINUTE=0`, `PRECISO_JOBS__BACKUP__CRON="0 3 * * *"`); a
//! top-level key is `PRECISO_<KEY>` (`PRECISO_DATA_DIR`). The short names of earlier versions
//! (`PRECISO_LISTEN`, `PRECISO_ARCHIVE`, …) stay as aliases. Tables keyed by names a variable
//! cannot spell (`[stores.falabella-co]`, `[jobs.ingest-full]`) are set in the file only.
//!
//! A value is read as the setting's type asks: text as is, numbers, booleans through one
//! parser (`true/false`, `1/0`, `yes/no`, `on/off`), lists as TOML (`["a", "b"]`) or comma
//! separated (`a,b`). An empty value leaves the setting as the file or the default has it. A
//! variable naming no setting is ignored with a warning; a bad value for a real setting is an
//! error naming the variable.

use super::Settings;
use anyhow::{Result, bail};
use toml::{Table, Value};

/// Variables outside the scheme: read where they are used, never as settings.
pub const RESERVED: &[(&str, &str)] = &[
    ("PRECISO_CONFIG", "path of the config file"),
    ("PRECISO_ADMIN_KEY", "bootstrap admin API key (environment only, never written anywhere)"),
    (
        "PRECISO_SESSION_SECRET",
        "web UI session signing secret (environment only, never written anywhere)",
    ),
    ("PRECISO_LOG", "log filter, e.g. info or preciso=debug"),
];

/// Prefixes of the test, CI and benchmark scripts' own variables.
const RESERVED_PREFIXES: &[&str] = &["PRECISO_TEST_", "PRECISO_CI_", "PRECISO_BENCH_"];

/// Short names of earlier versions and the keys they set.
pub const ALIASES: &[(&str, &str)] = &[
    ("PRECISO_INGEST_BATCH_SIZE", "ingest.batch_size"),
    ("PRECISO_DEFAULT_CURRENCY", "ingest.default_currency"),
    ("PRECISO_DEFAULT_TIMEZONE", "ingest.default_timezone"),
    ("PRECISO_LISTEN", "http.listen"),
    ("PRECISO_REQUIRE_AUTH_FOR_READS", "auth.require_for_reads"),
    ("PRECISO_SCHEDULER", "scheduler.enabled"),
    ("PRECISO_ARCHIVE", "archive.enabled"),
    ("PRECISO_ARCHIVE_URL", "archive.url"),
    ("PRECISO_LOG_DIR", "log.dir"),
];

/// The variable that sets a key path (`http.rate_limit_per_minute` →
/// `PRECISO_HTTP__RATE_LIMIT_PER_MINUTE`).
pub fn variable_for(path: &str) -> String {
    format!("PRECISO_{}", path.replace('.', "__").to_uppercase())
}

/// Applies the `PRECISO_*` variables among `vars` to `settings`; returns the warnings for the
/// variables that name no setting.
pub fn apply(
    settings: &mut Settings,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<String>> {
    let mut overrides: Vec<(String, Vec<String>, String)> = vars
        .into_iter()
        .filter(|(k, _)| k.starts_with("PRECISO_") && !reserved(k))
        .map(|(k, v)| {
            let path = key_path(&k);
            (k, path, v)
        })
        .collect();
    // Aliases first, so the scheme's own name wins when both are set.
    overrides.sort_by_key(|(k, _, _)| !ALIASES.iter().any(|(a, _)| a == k));
    if overrides.is_empty() {
        return Ok(Vec::new());
    }
    let mut tree = match Value::try_from(&*settings)? {
        Value::Table(t) => t,
        _ => bail!("settings are not a table"),
    };
    let mut warnings = Vec::new();
    for (var, path, raw) in &overrides {
        if let Some(warning) = apply_one(&mut tree, var, path, raw)? {
            warnings.push(warning);
        }
    }
    let mut read: Settings = Value::Table(tree).try_into()?;
    // Kept out of serialization: the admin key (environment only) and the replaced setting
    // that `validate` names.
    read.auth.admin_key = settings.auth.admin_key.take();
    read.http.trust_forwarded_for = settings.http.trust_forwarded_for;
    *settings = read;
    Ok(warnings)
}

fn reserved(var: &str) -> bool {
    RESERVED.iter().any(|(r, _)| *r == var) || RESERVED_PREFIXES.iter().any(|p| var.starts_with(p))
}

fn key_path(var: &str) -> Vec<String> {
    if let Some((_, path)) = ALIASES.iter().find(|(a, _)| *a == var) {
        return path.split('.').map(str::to_string).collect();
    }
    var["PRECISO_".len()..].split("__").map(str::to_lowercase).collect()
}

/// Sets one variable's value at its path, in the first reading of it the settings accept.
fn apply_one(tree: &mut Table, var: &str, path: &[String], raw: &str) -> Result<Option<String>> {
    let key = path.join(".");
    if path.iter().any(String::is_empty) {
        return Ok(Some(format!("{var} names no setting (empty level in {key:?}); ignored")));
    }
    if raw.is_empty() {
        return Ok(None);
    }
    let mut first_error = None;
    for value in readings(raw) {
        let mut trial = tree.clone();
        set(&mut trial, path, value);
        match Value::Table(trial.clone()).try_into::<Settings>() {
            Ok(_) => {
                *tree = trial;
                return Ok(None);
            }
            Err(e) if names_no_setting(&e.to_string()) => {
                return Ok(Some(format!("{var} names no setting ({key}); ignored")));
            }
            Err(e) => {
                first_error.get_or_insert(e.message().to_string());
            }
        }
    }
    bail!("{var}={raw:?} is not a valid {key}: {}", first_error.unwrap_or_default())
}

fn names_no_setting(error: &str) -> bool {
    error.contains("unknown field")
}

/// The ways a variable's text can be read, in the order they are tried: text, a boolean, a
/// TOML value (numbers, arrays), a comma-separated list.
fn readings(raw: &str) -> Vec<Value> {
    let mut out = vec![Value::String(raw.to_string())];
    if let Some(b) = parse_bool(raw) {
        out.push(Value::Boolean(b));
    }
    if let Ok(t) = format!("v = {raw}").parse::<Table>()
        && let Some(v) = t.get("v")
    {
        out.push(v.clone());
    }
    let items = raw.split(',').map(|s| Value::String(s.trim().to_string())).collect();
    out.push(Value::Array(items));
    out
}

/// The one boolean reader of the environment.
pub fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn set(tree: &mut Table, path: &[String], value: Value) {
    let (last, parents) = path.split_last().expect("a path has a key");
    let mut table = tree;
    for p in parents {
        let entry = table.entry(p.clone()).or_insert_with(|| Value::Table(Table::new()));
        if !entry.is_table() {
            *entry = Value::Table(Table::new());
        }
        table = entry.as_table_mut().expect("made a table above");
    }
    table.insert(last.clone(), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn every_key_is_a_variable_with_its_type() {
        let mut s = Settings::default();
        let warnings = apply(
            &mut s,
            env(&[
                ("PRECISO_HTTP__RATE_LIMIT_PER_MINUTE", "0"),
                ("PRECISO_HTTP__CORS_ORIGINS", "https://a.example, https://b.example"),
                ("PRECISO_HTTP__TRUSTED_PROXIES", "[\"10.0.0.0/8\"]"),
                ("PRECISO_HTTP__BEHIND_TLS", "on"),
                ("PRECISO_SCHEDULER__ENABLED", "no"),
                ("PRECISO_RETENTION__REJECTS_DAYS", "3"),
                ("PRECISO_JOBS__BACKUP__CRON", "0 3 * * *"),
                ("PRECISO_JOBS__BACKUP__ATTEMPTS", "2"),
                ("PRECISO_CATALOG__CURRENCY", "COP"),
                ("PRECISO_DATA_DIR", "/srv/preciso"),
            ]),
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(s.http.rate_limit_per_minute, 0);
        assert_eq!(s.http.cors_origins, ["https://a.example", "https://b.example"]);
        assert_eq!(s.http.trusted_proxies, ["10.0.0.0/8"]);
        assert!(s.http.behind_tls && !s.scheduler.enabled);
        assert_eq!(s.retention.rejects_days, 3);
        assert_eq!(s.jobs["backup"].cron.as_deref(), Some("0 3 * * *"));
        assert_eq!(s.jobs["backup"].attempts, Some(2));
        assert_eq!(s.catalog.currency.as_deref(), Some("COP"));
        assert_eq!(s.data_dir, PathBuf::from("/srv/preciso"));
        s.validate().unwrap();
    }

    #[test]
    fn short_names_stay_and_the_scheme_wins_over_them() {
        let mut s = Settings::default();
        apply(
            &mut s,
            env(&[
                ("PRECISO_LISTEN", "0.0.0.0:9000"),
                ("PRECISO_ARCHIVE", "off"),
                ("PRECISO_INGEST__BATCH_SIZE", "200"),
                ("PRECISO_INGEST_BATCH_SIZE", "100"),
            ]),
        )
        .unwrap();
        assert_eq!(s.http.listen, "0.0.0.0:9000");
        assert!(!s.archive.enabled);
        assert_eq!(s.ingest.batch_size, 200);
    }

    #[test]
    fn unknown_variables_warn_and_bad_values_fail_naming_the_variable() {
        let mut s = Settings::default();
        let warnings = apply(
            &mut s,
            env(&[
                ("PRECISO_HTTP__NO_SUCH_KEY", "1"),
                ("PRECISO_NOPE", "x"),
                ("PRECISO_TEST_PG_URL", "postgres://ignored"),
                ("PRECISO_LOG", "debug"),
                ("OTHER", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("PRECISO_HTTP__NO_SUCH_KEY"), "{warnings:?}");
        let err =
            apply(&mut s, env(&[("PRECISO_HTTP__RATE_LIMIT_PER_MINUTE", "lots")])).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("PRECISO_HTTP__RATE_LIMIT_PER_MINUTE") && text.contains("lots"),
            "{text}"
        );
        let err = apply(&mut s, env(&[("PRECISO_SCHEDULER__ENABLED", "maybe")])).unwrap_err();
        assert!(err.to_string().contains("scheduler.enabled"), "{err}");
    }

    #[test]
    fn empty_values_leave_the_setting_and_the_admin_key_survives() {
        let mut s: Settings = toml::from_str("redis_url = \"redis://r:6379\"").unwrap();
        s.auth.admin_key = Some("k".repeat(20));
        apply(&mut s, env(&[("PRECISO_REDIS_URL", ""), ("PRECISO_HTTP__LISTEN", "127.0.0.1:1")]))
            .unwrap();
        assert_eq!(s.redis_url.as_deref(), Some("redis://r:6379"));
        assert_eq!(s.auth.admin_key.as_deref(), Some("k".repeat(20).as_str()));
        assert_eq!(
            variable_for("http.rate_limit_per_minute"),
            "PRECISO_HTTP__RATE_LIMIT_PER_MINUTE"
        );
    }
}
