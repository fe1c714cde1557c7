//! Each check's settings: `[quality.checks."P.outlier"]` with `enabled`, `severity`,
//! `threshold` (for the checks that have one), `mostly` (the share of elements that must pass,
//! Great Expectations' tolerance; default 1) and the check's own keys (`P.repeating`'s
//! `min_offers`, `min_categories`). An unknown id or key is an error naming it; the settings
//! loader adds the file and line.

use super::{CheckId, Outcome, Severity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The largest `min_categories` P.repeating takes (it keeps that many categories per price).
pub const MAX_MIN_CATEGORIES: u64 = 8;

/// One check's section as written.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSettings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mostly: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_offers: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_categories: Option<u64>,
}

/// A check's settings, resolved over its defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckConfig {
    pub id: CheckId,
    pub enabled: bool,
    pub severity: Severity,
    pub threshold: Option<f64>,
    pub mostly: f64,
    pub min_offers: u64,
    pub min_categories: u64,
}

/// A setting that names no check or no key of its check, or has a value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quality.checks.{id}{}: {message}", key.as_ref().map(|k| format!(".{k}")).unwrap_or_default())]
pub struct ConfigError {
    /// The check id as written.
    pub id: String,
    /// The key at fault; `None` when the id itself is.
    pub key: Option<String>,
    pub message: String,
}

impl CheckConfig {
    /// The check with its defaults.
    pub fn default_for(id: CheckId) -> Self {
        CheckConfig {
            id,
            enabled: true,
            severity: id.default_severity(),
            threshold: id.default_threshold(),
            mostly: 1.0,
            min_offers: 25,
            min_categories: 5,
        }
    }

    /// How the check came out with `unexpected` of `elements` failing: a pass while the share
    /// that passed is at least `mostly`, else what the severity says.
    pub fn outcome(&self, unexpected: u64, elements: u64) -> Outcome {
        // The passing share from integers: `1 - u/e` rounds 93/100 to 0.9299… under 0.93.
        let passed = if elements == 0 {
            1.0
        } else {
            elements.saturating_sub(unexpected) as f64 / elements as f64
        };
        if unexpected == 0 || passed >= self.mostly {
            return Outcome::Pass;
        }
        match self.severity {
            Severity::Info => Outcome::Pass,
            Severity::Warning => Outcome::Warn,
            Severity::Critical => Outcome::Fail,
        }
    }
}

fn error(id: &str, key: Option<&str>, message: impl Into<String>) -> ConfigError {
    ConfigError { id: id.into(), key: key.map(String::from), message: message.into() }
}

/// Every check, in `CheckId::ALL` order, with `written` applied over its defaults.
pub fn resolve(written: &BTreeMap<String, CheckSettings>) -> Result<Vec<CheckConfig>, ConfigError> {
    for id in written.keys() {
        if CheckId::parse(id).is_none() {
            let known: Vec<&str> = CheckId::ALL.iter().map(|c| c.as_str()).collect();
            return Err(error(id, None, format!("no such check (known: {})", known.join(", "))));
        }
    }
    CheckId::ALL
        .iter()
        .map(|&id| {
            let mut c = CheckConfig::default_for(id);
            let Some(s) = written.get(id.as_str()) else { return Ok(c) };
            let name = id.as_str();
            let own = |key: &str| id.params().contains(&key);
            if s.threshold.is_some() && id.default_threshold().is_none() {
                return Err(error(name, Some("threshold"), "this check takes no threshold"));
            }
            for (key, given) in [
                ("min_offers", s.min_offers.is_some()),
                ("min_categories", s.min_categories.is_some()),
            ] {
                if given && !own(key) {
                    return Err(error(name, Some(key), "this check takes no such key"));
                }
            }
            if s.min_categories.is_some_and(|m| m > MAX_MIN_CATEGORIES) {
                let message = format!("must be at most {MAX_MIN_CATEGORIES}");
                return Err(error(name, Some("min_categories"), message));
            }
            if let Some(m) = s.mostly {
                if !(0.0..=1.0).contains(&m) {
                    return Err(error(name, Some("mostly"), "must be between 0 and 1"));
                }
                c.mostly = m;
            }
            if let Some(t) = s.threshold {
                if !t.is_finite() || t <= 0.0 {
                    return Err(error(name, Some("threshold"), "must be a positive number"));
                }
                c.threshold = Some(t);
            }
            c.enabled = s.enabled.unwrap_or(true);
            c.severity = s.severity.unwrap_or(c.severity);
            c.min_offers = s.min_offers.unwrap_or(c.min_offers).max(2);
            c.min_categories = s.min_categories.unwrap_or(c.min_categories).max(1);
            Ok(c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(id: &str, s: CheckSettings) -> BTreeMap<String, CheckSettings> {
        BTreeMap::from([(id.to_string(), s)])
    }

    #[test]
    fn defaults_cover_every_check_and_settings_override_them() {
        let all = resolve(&BTreeMap::new()).unwrap();
        assert_eq!(all.len(), CheckId::ALL.len());
        let outlier = &all[CheckId::ALL.iter().position(|c| *c == CheckId::POutlier).unwrap()];
        assert_eq!((outlier.threshold, outlier.mostly), (Some(3.5), 1.0));
        let s = CheckSettings { threshold: Some(4.0), mostly: Some(0.99), ..Default::default() };
        let all = resolve(&written("P.outlier", s)).unwrap();
        let outlier = all.iter().find(|c| c.id == CheckId::POutlier).unwrap();
        assert_eq!((outlier.threshold, outlier.mostly), (Some(4.0), 0.99));
    }

    #[test]
    fn unknown_ids_keys_and_values_out_of_range_are_named() {
        let e = resolve(&written("P.outlyer", CheckSettings::default())).unwrap_err();
        assert_eq!((e.id.as_str(), e.key.as_deref()), ("P.outlyer", None));
        assert!(e.to_string().starts_with("quality.checks.P.outlyer: no such check"), "{e}");
        let s = CheckSettings { threshold: Some(1.0), ..Default::default() };
        let e = resolve(&written("V.url", s)).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("threshold"));
        let s = CheckSettings { min_offers: Some(3), ..Default::default() };
        assert!(resolve(&written("P.outlier", s)).is_err());
        let s = CheckSettings { min_offers: Some(3), ..Default::default() };
        assert!(resolve(&written("P.repeating", s)).is_ok());
        let s = CheckSettings { mostly: Some(1.5), ..Default::default() };
        assert_eq!(resolve(&written("V.url", s)).unwrap_err().key.as_deref(), Some("mostly"));
        let toml_like: Result<CheckSettings, _> =
            serde_json::from_str::<CheckSettings>(r#"{"treshold": 1}"#);
        assert!(toml_like.is_err(), "unknown keys are refused while reading");
    }

    #[test]
    fn mostly_tolerates_a_share_of_failures_and_severity_decides_the_rest() {
        let mut c = CheckConfig::default_for(CheckId::VUrl);
        assert_eq!(c.outcome(0, 100), Outcome::Pass);
        assert_eq!(c.outcome(1, 100), Outcome::Warn);
        c.mostly = 0.99;
        assert_eq!(c.outcome(1, 100), Outcome::Pass);
        c.mostly = 0.93;
        assert_eq!(c.outcome(7, 100), Outcome::Pass, "exactly 93% passed");
        c.mostly = 0.99;
        assert_eq!(c.outcome(2, 100), Outcome::Warn);
        c.severity = Severity::Critical;
        assert_eq!(c.outcome(2, 100), Outcome::Fail);
        c.severity = Severity::Info;
        assert_eq!(c.outcome(100, 100), Outcome::Pass);
    }
}
