//! The parser contract (docs/NORMALIZATION.md): the public samples in `testdata/` as a table, and
//! properties over arbitrary input (no panic, no overflow, exact round trips).

use preciso_core::domain::{Currency, Grouping, Money};
use preciso_core::normalize::{Scraped, parse_price, parse_rating, parse_review_count};
use proptest::prelude::*;

fn sample(name: &str) -> Vec<Vec<String>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/");
    let text =
        std::fs::read_to_string(format!("{path}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .skip(1)
        .map(|l| l.split('\t').map(String::from).collect())
        .collect()
}

/// A TSV input is a JSON literal: a string is scraped text, a bare number a feed value.
fn scraped(input: &str) -> (String, bool) {
    match serde_json_like_string(input) {
        Some(s) => (s, false),
        None => (input.to_string(), true),
    }
}

/// Decodes a JSON string literal (the samples use only `\"` and `\\` escapes).
fn serde_json_like_string(input: &str) -> Option<String> {
    let inner = input.strip_prefix('"')?.strip_suffix('"')?;
    Some(inner.replace("\\\"", "\"").replace("\\\\", "\\"))
}

#[test]
fn price_sample_table() {
    let rows = sample("prices-sample.tsv");
    assert!(rows.len() >= 25);
    for row in rows {
        let (input, currency, minor, expected_currency) = (&row[0], &row[1], &row[2], &row[3]);
        let (value, is_number) = scraped(input);
        let s = if is_number { Scraped::Number(&value) } else { Scraped::Text(&value) };
        let got = parse_price(s, Currency::parse(currency).unwrap());
        if minor == "ERROR" {
            assert!(got.is_err(), "{input} ({currency}) should be rejected, got {got:?}");
        } else {
            let m = got.unwrap_or_else(|e| panic!("{input} ({currency}): {e}"));
            assert_eq!(
                (m.minor.to_string(), m.currency.code()),
                (minor.clone(), expected_currency.as_str()),
                "{input}"
            );
        }
    }
}

#[test]
fn rating_sample_table() {
    for row in sample("ratings-sample.tsv") {
        let (value, is_number) = scraped(&row[0]);
        let s = if is_number { Scraped::Number(&value) } else { Scraped::Text(&value) };
        let got = parse_rating(s);
        if row[1] == "ERROR" {
            assert!(got.is_err(), "{} should be rejected, got {got:?}", row[0]);
        } else {
            let want = (row[1].parse::<f64>().unwrap() * 100.0).round() as u16;
            assert_eq!(
                got.map(|r| r.hundredths()).map_err(|e| e.to_string()),
                Ok(want),
                "{}",
                row[0]
            );
        }
    }
}

/// Writes an amount the way a store of `currency` shows it.
fn format_local(minor: i64, currency: Currency, grouped: bool) -> String {
    let exp = u32::from(currency.exponent());
    let scale = 10i64.pow(exp);
    let (major, frac) = (minor / scale, minor % scale);
    let (thousands, decimal) = match currency.grouping() {
        Grouping::DotThousands => ('.', ','),
        Grouping::CommaThousands => (',', '.'),
    };
    let digits = major.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if grouped && i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(thousands);
        }
        out.push(ch);
    }
    if exp > 0 {
        out.push(decimal);
        out.push_str(&format!("{frac:0width$}", width = exp as usize));
    }
    out
}

proptest! {
    #[test]
    fn never_panics_on_any_text(s in "\\PC{0,40}") {
        for c in Currency::all() {
            let _ = parse_price(Scraped::Text(&s), c);
        }
        let _ = parse_rating(Scraped::Text(&s));
        let _ = parse_review_count(Scraped::Text(&s));
    }

    #[test]
    fn never_panics_on_price_like_text(s in "[-$€SsUuRrCcOoPp/ .,'0-9]{0,30}(M|mil|k)?") {
        for c in Currency::all() {
            if let Ok(m) = parse_price(Scraped::Text(&s), c) {
                prop_assert!(m.minor >= 0);
            }
        }
    }

    #[test]
    fn never_panics_on_number_text(s in "-?[0-9]{0,25}(\\.[0-9]{0,25})?([eE]-?[0-9]{1,3})?") {
        let _ = parse_price(Scraped::Number(&s), Currency::USD);
        let _ = parse_rating(Scraped::Number(&s));
        let _ = parse_review_count(Scraped::Number(&s));
    }

    #[test]
    fn local_formats_round_trip(minor in 0i64..=Money::MAX_MINOR, idx in 0usize..8, grouped: bool, marker: bool) {
        let currency = Currency::all().nth(idx).unwrap();
        let text = format!("{}{}", if marker { "$ " } else { "" }, format_local(minor, currency, grouped));
        let got = parse_price(Scraped::Text(&text), currency);
        prop_assert_eq!(got, Ok(Money::new(minor, currency)), "{}", text);
    }

    #[test]
    fn ratings_stay_in_range(x in 0u32..=1000, y in 1u32..=1000) {
        if let Ok(r) = parse_rating(Scraped::Text(&format!("{x}/{y}"))) {
            prop_assert!(r.hundredths() <= 500);
            prop_assert!(x <= y);
        }
    }
}
