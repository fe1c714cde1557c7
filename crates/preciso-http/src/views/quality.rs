//! The data-quality report (docs/QUALITY.md) as one self-contained HTML page — its style is
//! inline, it runs no script and names no other origin, so it can be mailed or archived — and
//! as CSV, one row per example. `preciso analyze --format html|csv` writes these.

use chrono::DateTime;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use preciso_core::quality::engine::Report;
use preciso_core::quality::{CheckResult, Outcome, Severity, Value};
use std::io::Write;

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:70rem;\
padding:0 1rem;color:#1a1a1a;line-height:1.4}table{border-collapse:collapse;margin:.5rem 0 1rem}\
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}\
th{background:#f0f0f0}.pass{color:#116611}.warn{color:#8a5a00}.fail{color:#b00020}\
.not_evaluated,.error{color:#555}section{margin-bottom:1.5rem}code{font-size:.9em}";

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "pass",
        Outcome::Warn => "warn",
        Outcome::Fail => "fail",
        Outcome::Error => "error",
        Outcome::NotEvaluated => "not_evaluated",
    }
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        Value::Num(n) => n.to_string(),
        Value::Text(t) => t.clone(),
    }
}

fn check(c: &CheckResult) -> Markup {
    let outcome = outcome_name(c.outcome);
    html! {
        section id=(c.id.as_str()) {
            h3 { code { (c.id.as_str()) } " — " span class=(outcome) { (outcome) }
                @if let Some(r) = &c.reason { " (" (r) ")" } }
            p { (c.id.description()) }
            p {
                (c.unexpected_count) " of " (c.element_count) " unexpected ("
                (format!("{:.2}", c.unexpected_ratio * 100.0)) "%)"
                @if let Some(v) = c.observed_value { "; observed " (format!("{v:.2}")) }
                @if let Some(t) = c.threshold { "; threshold " (t) }
            }
            @if !c.examples.is_empty() {
                table {
                    thead { tr { th { "Store" } th { "SKU" } th { "Offer" } th { "Values" } } }
                    tbody {
                        @for e in &c.examples {
                            tr {
                                td { (e.store) }
                                td { (e.sku.as_deref().unwrap_or("")) }
                                td { code { (e.offer_id) } }
                                td { @for (k, v) in &e.values { (k) " = " (value_text(v)) br; } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The report as one page.
pub fn report_html(r: &Report) -> String {
    let at = DateTime::from_timestamp(r.as_of, 0)
        .map_or_else(|| r.as_of.to_string(), |t| t.to_rfc3339());
    let overall = r.overall_score.map_or("—".to_string(), |s| format!("{s:.1}"));
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Preciso data-quality report" }
                style { (PreEscaped(CSS)) }
            }
            body {
                h1 { "Data-quality report" }
                p { "Analysis time " (at) ". Overall score " strong { (overall) } " of 100." }
                h2 { "Stores" }
                table {
                    thead { tr { th { "Store" } th { "Offers" } th { "Live" } th { "Hours since newest" } th { "Volume vs usual" } th { "Rejected at ingest" } th { "Score" } } }
                    tbody {
                        @for s in &r.stores {
                            tr {
                                td { (s.store) } td { (s.offers) } td { (s.live_offers) }
                                td { (format!("{:.1}", s.freshness_hours)) }
                                td { (s.volume_change.map_or("—".to_string(), |v| format!("{:+.0}%", v * 100.0))) }
                                td { (s.reject_rate.map_or("—".to_string(), |v| format!("{:.1}%", v * 100.0))) }
                                td { (format!("{:.1}", s.score)) }
                            }
                        }
                    }
                }
                @if !r.coverage.is_empty() {
                    h2 { "Coverage" }
                    table {
                        thead { tr { th { "Category" } th { "Currency" } th { "Stores" } th { "Products" } th { "In 2+ stores" } } }
                        tbody {
                            @for c in &r.coverage {
                                tr {
                                    td { (c.category) } td { (c.currency.code()) } td { (c.stores) }
                                    td { (c.products) } td { (format!("{:.1}%", c.multi_store_share * 100.0)) }
                                }
                            }
                        }
                    }
                }
                @for severity in [Severity::Critical, Severity::Warning, Severity::Info] {
                    h2 { "Checks of severity " (severity_name(severity)) }
                    @for c in r.checks.iter().filter(|c| c.severity == severity) { (check(c)) }
                }
            }
        }
    }
    .into_string()
}

/// One row per example: the check, its outcome and severity, the offer, and its values as
/// `name=value` pairs.
pub fn report_csv(r: &Report, out: &mut dyn Write) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["check", "outcome", "severity", "store", "sku", "offer_id", "values"])?;
    for c in &r.checks {
        for e in &c.examples {
            let values: Vec<String> =
                e.values.iter().map(|(k, v)| format!("{k}={}", value_text(v))).collect();
            w.write_record([
                c.id.as_str(),
                outcome_name(c.outcome),
                severity_name(c.severity),
                e.store.as_str(),
                e.sku.as_deref().unwrap_or_default(),
                e.offer_id.as_str(),
                values.join("; ").as_str(),
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use preciso_core::quality::{CheckId, Example, Phase};
    use std::collections::BTreeMap;

    fn report() -> Report {
        let example = Example {
            store: "exito".into(),
            sku: Some("A<1>".into()),
            offer_id: "00000000000000aa".into(),
            values: BTreeMap::from([("lowest_30_days".to_string(), Value::Int(10_000))]),
        };
        Report {
            as_of: 1_770_336_000,
            overall_score: Some(81.5),
            stores: vec![preciso_core::quality::engine::StoreScore {
                store: "exito".into(),
                offers: 10,
                live_offers: 9,
                freshness_hours: 20.0,
                volume_change: Some(-0.1),
                reject_rate: Some(0.02),
                score: 81.5,
            }],
            coverage: Vec::new(),
            checks: vec![CheckResult {
                id: CheckId::PFakeDiscount,
                phase: Phase::Patterns,
                severity: Severity::Critical,
                outcome: Outcome::Fail,
                reason: None,
                element_count: 2,
                unexpected_count: 1,
                unexpected_ratio: 0.5,
                observed_value: None,
                threshold: None,
                examples: vec![example],
            }],
        }
    }

    #[test]
    fn the_page_is_self_contained_and_shows_scores_findings_and_examples() {
        let page = report_html(&report());
        for needed in
            ["81.5", "P.fake_discount", "class=\"fail\"", "lowest_30_days = 10000", "A&lt;1&gt;"]
        {
            assert!(page.contains(needed), "{needed} missing:\n{page}");
        }
        // Nothing it could fetch: no URL of another origin, no script, no external style.
        for forbidden in ["http://", "https://", "//", "<script", "<link", "src="] {
            assert!(!page.contains(forbidden), "{forbidden} in the page");
        }
    }

    #[test]
    fn csv_has_a_row_per_example() {
        let mut out = Vec::new();
        report_csv(&report(), &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.contains(
            "P.fake_discount,fail,critical,exito,A<1>,00000000000000aa,lowest_30_days=10000"
        ));
    }
}
