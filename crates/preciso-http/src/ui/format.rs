//! How the web UI writes numbers, money and times for people: each currency in its own
//! convention (`$ 2.349.900`, `R$ 1.234,50`, `US$ 19.99`), cents only when there are some,
//! counts grouped the way the page's language groups them.

use super::i18n::Lang;
use preciso_core::domain::{Currency, Grouping};

/// The sign a currency is written with in its own market.
pub fn symbol(c: Currency) -> &'static str {
    match c.code() {
        "BRL" => "R$",
        "PEN" => "S/",
        "USD" => "US$",
        "EUR" => "€",
        "UYU" => "$U",
        "PYG" => "₲",
        "BOB" => "Bs",
        "GTQ" => "Q",
        "CRC" => "₡",
        "DOP" => "RD$",
        // COP, MXN, ARS, CLP: the peso sign.
        _ => "$",
    }
}

fn group(digits: &str, sep: char) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(ch);
    }
    out
}

/// An amount of minor units in its currency's convention; the decimals only when not zero.
pub fn money(minor: i64, c: Currency) -> String {
    let (thousands, decimal) = match c.grouping() {
        Grouping::DotThousands => ('.', ','),
        Grouping::CommaThousands => (',', '.'),
    };
    let exp = u32::from(c.exponent());
    let unit = 10u64.pow(exp);
    let abs = minor.unsigned_abs();
    let (major, cents) = (abs / unit, abs % unit);
    let sign = if minor < 0 { "-" } else { "" };
    let mut out = format!("{sign}{} {}", symbol(c), group(&major.to_string(), thousands));
    if cents != 0 {
        out.push(decimal);
        out.push_str(&format!("{cents:0width$}", width = exp as usize));
    }
    out
}

/// A major-unit amount (a chart axis) in the currency's convention.
pub fn major(amount: f64, c: Currency) -> String {
    let minor = (amount * 10f64.powi(i32::from(c.exponent()))).round() as i64;
    money(minor, c)
}

/// A count, grouped as the language writes it.
pub fn count(n: u64, lang: Lang) -> String {
    group(&n.to_string(), if lang == Lang::Es { '.' } else { ',' })
}

/// A share 0–1 as a percentage with one decimal.
pub fn percent(share: f64, lang: Lang) -> String {
    let text = format!("{:.1} %", share * 100.0);
    if lang == Lang::Es { text.replace('.', ",") } else { text.replace(" %", "%") }
}

/// A Unix time as UTC, to the minute.
pub fn time(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map_or_else(|| secs.to_string(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

/// A Unix time as its UTC day.
pub fn day(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map_or_else(|| secs.to_string(), |t| t.format("%Y-%m-%d").to_string())
}

/// A Unix time as its UTC day and hour (`12-05 17:00`), for short chart spans.
pub fn hour(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map_or_else(|| secs.to_string(), |t| t.format("%m-%d %H:%M").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn money_follows_each_currency_and_drops_zero_cents() {
        assert_eq!(money(234_990_000, c("COP")), "$ 2.349.900");
        assert_eq!(money(234_990_050, c("COP")), "$ 2.349.900,50");
        assert_eq!(money(1_299_000, c("CLP")), "$ 1.299.000");
        assert_eq!(money(123_450, c("BRL")), "R$ 1.234,50");
        assert_eq!(money(1_999, c("USD")), "US$ 19.99");
        assert_eq!(money(123_456_789, c("MXN")), "$ 1,234,567.89");
        assert_eq!(money(5, c("PEN")), "S/ 0.05");
        assert_eq!(money(-100_000, c("ARS")), "-$ 1.000");
        assert_eq!(major(2_349_900.0, c("COP")), "$ 2.349.900");
    }

    #[test]
    fn counts_and_shares_follow_the_language() {
        assert_eq!(count(1_234_567, Lang::Es), "1.234.567");
        assert_eq!(count(1_234_567, Lang::En), "1,234,567");
        assert_eq!(count(12, Lang::En), "12");
        assert_eq!(percent(0.1234, Lang::Es), "12,3 %");
        assert_eq!(percent(0.1234, Lang::En), "12.3%");
        assert_eq!(time(0), "1970-01-01 00:00 UTC");
    }
}
