//! `preciso normalize --currency ISO`: the scraper author's self-check and the parser's
//! acceptance interface. One JSON line in, one JSON line out, in order; a field that fails is
//! `null` with an entry in `errors`.

use crate::cli::NormalizeArgs;
use anyhow::{Context, Result};
use preciso_core::domain::Currency;
use preciso_core::normalize::{FieldError, Scraped, parse_price, parse_rating, parse_review_count};
use serde_json::{Map, Value, json};
use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

pub fn run(args: &NormalizeArgs) -> Result<ExitCode> {
    let currency = Currency::parse(&args.currency).context("--currency")?;
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in stdin.split(b'\n') {
        let line = line.context("reading stdin")?;
        let text = String::from_utf8_lossy(&line);
        if text.trim().is_empty() {
            continue;
        }
        serde_json::to_writer(&mut out, &normalize_line(text.trim(), currency))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub fn normalize_line(line: &str, currency: Currency) -> Value {
    let obj: Map<String, Value> = match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(o)) => o,
        Ok(_) => return invalid_json("the line is JSON but not an object"),
        Err(e) => return invalid_json(&format!("the line is not valid JSON: {e}")),
    };
    let mut errors = Vec::new();
    // The price is required: present as `null` it is missing, not silently absent.
    if obj.get("price") == Some(&Value::Null) {
        errors.push(json!({"field": "price", "code": "missing", "message": "price is null"}));
    }
    let mut field = |name: &'static str| -> Option<Scraped<'_>> {
        match obj.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Scraped::Text(s)),
            Some(Value::Number(n)) => Some(Scraped::Number(n.as_str())),
            Some(_) => {
                errors.push(json!({"field": name, "code": "invalid_type",
                    "message": format!("{name} must be a string or a number")}));
                None
            }
        }
    };
    let (price_in, list_in, rating_in, reviews_in) =
        (field("price"), field("list_price"), field("rating"), field("reviews"));
    let mut record = |name: &str, e: FieldError| {
        errors.push(json!({"field": name, "code": e.code.as_str(), "message": e.message}));
    };
    let price =
        price_in.and_then(|s| parse_price(s, currency).map_err(|e| record("price", e)).ok());
    let list =
        list_in.and_then(|s| parse_price(s, currency).map_err(|e| record("list_price", e)).ok());
    let rating = rating_in.and_then(|s| parse_rating(s).map_err(|e| record("rating", e)).ok());
    let reviews =
        reviews_in.and_then(|s| parse_review_count(s).map_err(|e| record("reviews", e)).ok());
    json!({
        "price_minor": price.map(|m| m.minor),
        "price_currency": price.map(|m| m.currency.code()),
        "list_price_minor": list.map(|m| m.minor),
        "list_price_currency": list.map(|m| m.currency.code()),
        "rating": rating.map(|r| r.as_f64()),
        "review_count": reviews,
        "errors": errors,
    })
}

fn invalid_json(message: &str) -> Value {
    json!({"errors": [{"field": null, "code": "invalid_json", "message": message}]})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_output_as_documented() {
        let cop = Currency::parse("COP").unwrap();
        let v = normalize_line(
            r#"{"price": "$ 2.349.900", "rating": "4,2 de 5", "reviews": "(1.234 opiniones)"}"#,
            cop,
        );
        assert_eq!(v["price_minor"], json!(234990000));
        assert_eq!(v["price_currency"], json!("COP"));
        assert_eq!(v["list_price_minor"], Value::Null);
        assert_eq!(v["rating"], json!(4.2));
        assert_eq!(v["review_count"], json!(1234));
        assert_eq!(v["errors"], json!([]));
        let v = normalize_line(r#"{"price": "Agotado", "list_price": true}"#, cop);
        assert_eq!(v["price_minor"], Value::Null);
        let codes: Vec<_> =
            v["errors"].as_array().unwrap().iter().map(|e| e["code"].clone()).collect();
        assert!(codes.contains(&json!("no_digits")) && codes.contains(&json!("invalid_type")));
        let v = normalize_line(r#"{"price": null, "rating": null}"#, cop);
        assert_eq!(v["price_minor"], Value::Null);
        assert_eq!(
            v["errors"],
            json!([{"field": "price", "code": "missing", "message": "price is null"}])
        );
        let v = normalize_line(r#"{"rating": "4,2 de 5"}"#, cop);
        assert_eq!(v["errors"], json!([]));
        let v = normalize_line("{nope", cop);
        assert_eq!(v["errors"][0]["code"], json!("invalid_json"));
        assert_eq!(v["errors"][0]["field"], Value::Null);
    }
}
