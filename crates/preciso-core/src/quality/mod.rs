//! Forensic data-quality analysis (issue #18): the checks by stable id, what each run of a
//! check reports, and the bounded samples of examples. The rules themselves are pure functions
//! in `analysis` (`robust`, `jump`, `omnibus`); `config` resolves each check's severity,
//! threshold and tolerance from settings.

pub mod config;
pub mod engine;
pub mod runs;

use serde::Serialize;
use std::collections::BTreeMap;

/// The analysis phases, in report order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Validation,
    Consistency,
    Patterns,
    Metrics,
}

macro_rules! checks {
    ($($variant:ident = $id:literal, $phase:ident, $severity:ident, $threshold:expr, $params:expr, $doc:literal;)*) => {
        /// A check, by its stable id (`V.required`, `P.outlier`…): ids are never renamed.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum CheckId {
            $(#[doc = $doc] $variant,)*
        }

        impl CheckId {
            pub const ALL: &'static [CheckId] = &[$(CheckId::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(CheckId::$variant => $id,)* }
            }

            pub fn phase(self) -> Phase {
                match self { $(CheckId::$variant => Phase::$phase,)* }
            }

            /// What a failing check means when settings say nothing.
            pub fn default_severity(self) -> Severity {
                match self { $(CheckId::$variant => Severity::$severity,)* }
            }

            /// The check's threshold when settings say nothing (`None`: it takes none).
            pub fn default_threshold(self) -> Option<f64> {
                match self { $(CheckId::$variant => $threshold,)* }
            }

            /// The check's own settings keys besides `enabled`, `severity`, `mostly` and
            /// (when it has one) `threshold`.
            pub fn params(self) -> &'static [&'static str] {
                match self { $(CheckId::$variant => $params,)* }
            }

            /// What the check finds, in one line.
            pub fn description(self) -> &'static str {
                match self { $(CheckId::$variant => $doc,)* }
            }
        }
    };
}

checks! {
    VRequired = "V.required", Validation, Critical, None, &[],
        "Store, title and price present.";
    VGtinChecksum = "V.gtin_checksum", Validation, Warning, None, &[],
        "A GTIN whose check digit is wrong.";
    VRatingRange = "V.rating_range", Validation, Warning, None, &[],
        "A rating outside 0–5.";
    VUrl = "V.url", Validation, Warning, None, &[],
        "A product URL that is not an absolute http(s) URL.";
    VListBelowPrice = "V.list_below_price", Validation, Warning, None, &[],
        "A claimed \"before\" price below the price.";
    CDuplicate = "C.duplicate", Consistency, Warning, None, &[],
        "One store lists the same GTIN or canonical URL under two SKUs.";
    CGtinConflict = "C.gtin_conflict", Consistency, Warning, None, &[],
        "One GTIN with different normalized brands.";
    CPriceSpread = "C.price_spread", Consistency, Warning, Some(2.0), &[],
        "A product in 2+ stores whose highest current price is at least `threshold` times its lowest.";
    CHistoryOrder = "C.history_order", Consistency, Warning, None, &[],
        "An observation that arrived after a later one of the same offer (an out-of-order scrape; a deliberate backfill is info).";
    POutlier = "P.outlier", Patterns, Warning, Some(3.5), &[],
        "A price whose modified z-score of ln(price) in its category exceeds `threshold`.";
    PJump = "P.jump", Patterns, Warning, Some(5.0), &[],
        "Consecutive observations whose prices differ by `threshold` times or more (cause: separator or unknown).";
    PFakeDiscount = "P.fake_discount", Patterns, Critical, None, &[],
        "A claimed \"before\" price above the lowest price of the 30 days before the current price began (EU Omnibus rule).";
    PStale = "P.stale", Patterns, Warning, Some(7.0), &[],
        "An offer not seen for more than `threshold` days before the analysis time.";
    PRepeating = "P.repeating", Patterns, Warning, None, &["min_offers", "min_categories"],
        "One exact price shared by `min_offers`+ offers of a store over `min_categories`+ categories (a placeholder).";
    MFreshness = "M.freshness", Metrics, Warning, Some(48.0), &[],
        "Hours since each store's newest observation; above `threshold` warns.";
    MCompleteness = "M.completeness", Metrics, Info, None, &[],
        "Share of offers with each optional field present.";
    MCoverage = "M.coverage", Metrics, Info, None, &[],
        "Per category: the stores that list it and the share of its products offered by 2+ stores.";
    MRejectRate = "M.reject_rate", Metrics, Warning, Some(0.05), &[],
        "Per store, the share of its records rejected at ingest (each reject counted for its own store).";
    MVolumeAnomaly = "M.volume_anomaly", Metrics, Warning, Some(0.5), &[],
        "A store's offer count off its history by more than `threshold` (a share); not evaluated before 4 prior analyses.";
}

impl CheckId {
    pub fn parse(id: &str) -> Option<CheckId> {
        CheckId::ALL.iter().copied().find(|c| c.as_str() == id)
    }
}

impl Serialize for CheckId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for CheckId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let id = String::deserialize(d)?;
        CheckId::parse(&id).ok_or_else(|| serde::de::Error::custom(format!("unknown check {id:?}")))
    }
}

/// What a failing check means.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Reported, never a defect (coverage, completeness, a deliberate backfill).
    Info,
    Warning,
    Critical,
}

/// How a check came out.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pass,
    Warn,
    Fail,
    /// The check itself could not run (its reason says why).
    Error,
    /// Not enough data to judge (its reason says which).
    NotEvaluated,
}

/// An offer that tripped a check, and the values that did it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Example {
    pub store: String,
    pub sku: Option<String>,
    pub offer_id: String,
    pub values: BTreeMap<String, Value>,
}

/// A value an example shows: an amount of minor units, a measure, or text.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Int(i64),
    Num(f64),
    Text(String),
}

/// By hand rather than `untagged`: with serde_json's `arbitrary_precision` (which a
/// dependency turns on) numbers reach an untagged enum as a private map and match no variant.
impl<'de> serde::Deserialize<'de> for Value {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Value;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an integer, a number or a string")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
                Ok(Value::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
                i64::try_from(v).map(Value::Int).map_err(E::custom)
            }
            fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
                Ok(Value::Num(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Value, E> {
                Ok(Value::Text(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Value, A::Error> {
                // serde_json's arbitrary-precision number: one entry holding its digits.
                let Some((_, digits)) = map.next_entry::<String, String>()? else {
                    return Err(serde::de::Error::custom("an empty map is not a value"));
                };
                if let Ok(i) = digits.parse::<i64>() {
                    return Ok(Value::Int(i));
                }
                digits.parse::<f64>().map(Value::Num).map_err(serde::de::Error::custom)
            }
        }
        d.deserialize_any(Visit)
    }
}

/// At most `MAX_EXAMPLES` examples, the same ones whatever order the rows came in: those with
/// the smallest offer ids (so both backends report byte-identical samples).
#[derive(Debug, Clone, Default)]
pub struct Samples {
    kept: Vec<Example>,
}

/// Examples a check result carries at most.
pub const MAX_EXAMPLES: usize = 20;

impl Samples {
    /// Offers `example`; it is kept only if it is among the `MAX_EXAMPLES` smallest so far, by
    /// offer id and then by its values (one offer can trip a check more than once, e.g. at
    /// two levels of its category). `make` builds it only when it may be kept, so a check
    /// with many failures allocates for about 20.
    pub fn offer(&mut self, offer_id: &str, make: impl FnOnce() -> Example) {
        if self.kept.len() == MAX_EXAMPLES
            && self.kept.last().is_some_and(|e| e.offer_id.as_str() < offer_id)
        {
            return;
        }
        let example = make();
        let order = |e: &Example| (e.offer_id.clone(), format!("{:?}", e.values));
        let key = order(&example);
        let at = self.kept.partition_point(|e| order(e) <= key);
        self.kept.insert(at, example);
        self.kept.truncate(MAX_EXAMPLES);
    }

    pub fn into_vec(self) -> Vec<Example> {
        self.kept
    }
}

/// What one check reports.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct CheckResult {
    /// The check's stable id (`V.required`, `P.outlier`…).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: CheckId,
    pub phase: Phase,
    pub severity: Severity,
    pub outcome: Outcome,
    /// Why the outcome is `error` or `not_evaluated` (e.g. `insufficient_data`).
    pub reason: Option<String>,
    /// What the check looked at (offers, observations, categories, stores).
    pub element_count: u64,
    pub unexpected_count: u64,
    /// `unexpected_count / element_count` (0 when nothing was looked at).
    pub unexpected_ratio: f64,
    /// The check's own measure, when it has one (the largest z, the worst freshness…).
    pub observed_value: Option<f64>,
    pub threshold: Option<f64>,
    pub examples: Vec<Example>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(id: u32) -> Example {
        Example {
            store: "exito".into(),
            sku: None,
            offer_id: format!("{id:016x}"),
            values: BTreeMap::from([("price".to_string(), Value::Int(i64::from(id)))]),
        }
    }

    #[test]
    fn samples_keep_the_smallest_ids_whatever_the_order_and_build_only_those() {
        let mut forward = Samples::default();
        let mut backward = Samples::default();
        let mut built = 0;
        for id in 0..500u32 {
            forward.offer(&format!("{id:016x}"), || example(id));
            let back = 499 - id;
            backward.offer(&format!("{back:016x}"), || {
                built += 1;
                example(back)
            });
        }
        let (f, b) = (forward.into_vec(), backward.into_vec());
        assert_eq!(f.len(), MAX_EXAMPLES);
        assert_eq!(f, b);
        assert_eq!(f[0].offer_id, format!("{:016x}", 0));
        // Backwards every id is a new smallest: all built. Forwards only the first 20 would be.
        assert_eq!(built, 500);
        let mut lazily = Samples::default();
        let mut made = 0;
        for id in 0..500u32 {
            lazily.offer(&format!("{id:016x}"), || {
                made += 1;
                example(id)
            });
        }
        assert_eq!(made, MAX_EXAMPLES);
    }

    #[test]
    fn ids_are_unique_and_parse_back() {
        for id in CheckId::ALL {
            assert_eq!(CheckId::parse(id.as_str()), Some(*id));
            assert_eq!(CheckId::ALL.iter().filter(|c| c.as_str() == id.as_str()).count(), 1);
            let prefix = match id.phase() {
                Phase::Validation => "V.",
                Phase::Consistency => "C.",
                Phase::Patterns => "P.",
                Phase::Metrics => "M.",
            };
            assert!(id.as_str().starts_with(prefix), "{}", id.as_str());
        }
        assert_eq!(CheckId::parse("P.nope"), None);
    }
}
