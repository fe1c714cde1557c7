//! Price parsing, docs/NORMALIZATION.md R1–R9: scraped text or a JSON number becomes exact integer
//! minor units plus a currency, or a typed error. Never a float, never a rounded amount.

use super::amount::{Decimal, overflow, parse_json_number, split_number};
use super::prep::preprocess;
use super::{ErrorCode, FieldError, Scraped};
use crate::domain::{Currency, Money};

/// Explicit currency markers (docs/NORMALIZATION.md R3), longest first so `US$` wins over `$`.
/// `None` is the bare `$`, which means the store currency.
const MARKERS: &[(&str, Option<&str>)] = &[
    ("U$S", Some("USD")),
    ("US$", Some("USD")),
    ("MX$", Some("MXN")),
    ("COP$", Some("COP")),
    ("CLP$", Some("CLP")),
    ("AR$", Some("ARS")),
    ("R$", Some("BRL")),
    ("S/.", Some("PEN")),
    ("S/", Some("PEN")),
    ("€", Some("EUR")),
    ("$", None),
];

/// Words that multiply an amount: a price written with them is not an exact amount
/// (docs/NORMALIZATION.md R8).
const MAGNITUDES: &[&str] = &[
    "k", "m", "mm", "mil", "miles", "millon", "millón", "millones", "mill", "mills", "mln", "bn",
    "b", "million", "millions", "thousand", "billion", "lucas", "palos",
];

/// Words between two amounts that make a range "A - B" / "A a B" / "A hasta B"
/// (docs/NORMALIZATION.md R6).
const RANGE_WORDS: &[&str] = &["a", "hasta", "to", "al"];

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Number {
        raw: String,
        percent: bool,
    },
    Currency(Option<Currency>),
    /// A currency code we do not support, written as a code.
    UnknownCode(String),
    Minus,
    Dash,
    Word(String),
}

fn err(code: ErrorCode, message: String) -> FieldError {
    FieldError::new(code, message)
}

pub fn parse_price(input: Scraped<'_>, store_currency: Currency) -> Result<Money, FieldError> {
    let (Scraped::Number(text) | Scraped::Text(text)) = input;
    let money = match input {
        Scraped::Number(_) => parse_json(text, store_currency),
        Scraped::Text(_) => parse_text(text, store_currency),
    }?;
    if money.minor > Money::MAX_MINOR {
        return Err(err(
            ErrorCode::OutOfRange,
            format!(
                "price {text:?} is above the largest accepted amount ({} minor units)",
                Money::MAX_MINOR
            ),
        ));
    }
    Ok(money)
}

/// docs/NORMALIZATION.md R9: a JSON number is major units of the store currency, read from its
/// decimal text.
fn parse_json(text: &str, currency: Currency) -> Result<Money, FieldError> {
    let (negative, decimal) = parse_json_number(text).ok_or_else(|| {
        err(ErrorCode::Malformed, format!("price {text} is not a decimal number"))
    })?;
    if negative && decimal.int.bytes().chain(decimal.frac.bytes()).any(|b| b != b'0') {
        return Err(err(ErrorCode::Negative, format!("price {text} is negative")));
    }
    Ok(Money::new(decimal.to_minor(currency, text)?, currency))
}

fn is_sep(c: char) -> bool {
    matches!(c, '.' | ',' | '\'' | '’' | ' ')
}

/// Splits pre-processed text into numbers, currency markers, signs and words.
fn tokenize(s: &str) -> Vec<Token> {
    // Sized up front: `collect` would start from a quarter of the bytes and grow.
    let mut chars = Vec::with_capacity(s.len());
    chars.extend(s.chars());
    let mut tokens = Vec::with_capacity(4);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let digit_at = |j: usize| chars.get(j).is_some_and(|c| c.is_ascii_digit());
        if c.is_ascii_digit()
            || (matches!(c, '.' | ',') && digit_at(i + 1) && !digit_at(i.wrapping_sub(1)))
        {
            let start = i;
            i += 1;
            // A separator belongs to the number only between digits.
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (is_sep(chars[i]) && digit_at(i + 1) && digit_at(i - 1)))
            {
                i += 1;
            }
            let raw: String = chars[start..i].iter().collect();
            let percent = chars.get(i) == Some(&'%')
                || (chars.get(i) == Some(&' ') && chars.get(i + 1) == Some(&'%'));
            tokens.push(Token::Number { raw, percent });
            continue;
        }
        if let Some((len, marker)) = marker_at(&chars, i) {
            tokens.push(marker);
            i += len;
            continue;
        }
        if matches!(c, '-' | '–' | '—' | '−') {
            let after_number =
                tokens.iter().any(|t| matches!(t, Token::Number { percent: false, .. }));
            tokens.push(if after_number { Token::Dash } else { Token::Minus });
            i += 1;
            continue;
        }
        if c.is_alphabetic() {
            let start = i;
            while i < chars.len() && chars[i].is_alphabetic() {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            tokens.push(word_token(word));
            continue;
        }
        i += 1;
    }
    tokens
}

/// A currency marker starting at `i`, with its length in chars. Letter markers must stand
/// alone (not inside a longer word). Spaces may separate a marker's letters from its `$`
/// (`US $ 10` is `US$ 10`): a bare `$` after them would otherwise mean the store currency.
fn marker_at(chars: &[char], i: usize) -> Option<(usize, Token)> {
    let prev_is_letter = i > 0 && chars[i - 1].is_alphabetic();
    for marker in markers() {
        if marker.starts_with_letter && prev_is_letter {
            continue;
        }
        if let Some(len) = match_marker(chars, i, &marker.chars) {
            return Some((len, Token::Currency(marker.currency)));
        }
    }
    None
}

/// The chars `marker` spans at `i` (case-insensitive), allowing spaces between a letter and
/// a following `$`.
fn match_marker(chars: &[char], i: usize, marker: &[char]) -> Option<usize> {
    let mut at = i;
    for (k, want) in marker.iter().enumerate() {
        if *want == '$' && k > 0 && marker[k - 1].is_alphabetic() {
            while chars.get(at) == Some(&' ') {
                at += 1;
            }
        }
        if !chars.get(at)?.eq_ignore_ascii_case(want) {
            return None;
        }
        at += 1;
    }
    Some(at - i)
}

/// `MARKERS` as the tokenizer compares them, prepared once (this runs at every character of
/// every price).
struct Marker {
    chars: Vec<char>,
    starts_with_letter: bool,
    currency: Option<Currency>,
}

fn markers() -> &'static [Marker] {
    static PREPARED: std::sync::OnceLock<Vec<Marker>> = std::sync::OnceLock::new();
    PREPARED.get_or_init(|| {
        MARKERS
            .iter()
            .map(|(text, code)| Marker {
                chars: text.chars().collect(),
                starts_with_letter: text.starts_with(|c: char| c.is_alphabetic()),
                currency: code
                    .map(|c| Currency::parse(c).expect("marker table holds supported codes")),
            })
            .collect()
    })
}

/// A word is a currency code when it is three letters written in capitals or matches a
/// supported code; otherwise just a word.
fn word_token(word: String) -> Token {
    if word.len() == 3 && word.is_ascii() {
        if let Ok(c) = Currency::parse(&word) {
            return Token::Currency(Some(c));
        }
        if word.chars().all(|c| c.is_ascii_uppercase())
            && !matches!(word.as_str(), "IVA" | "UND" | "UNI" | "PCS" | "MAX" | "MIN")
        {
            return Token::UnknownCode(word);
        }
    }
    Token::Word(word.to_lowercase())
}

fn parse_text(text: &str, store_currency: Currency) -> Result<Money, FieldError> {
    let s = preprocess(text);
    if s.is_empty() {
        return Err(err(ErrorCode::Empty, "price is empty".into()));
    }
    // These words have at most 8 characters, and lowercasing never removes characters.
    if s.chars().nth(8).is_none()
        && matches!(s.to_lowercase().as_str(), "gratis" | "free" | "gratuito" | "grátis")
    {
        return Ok(Money::new(0, store_currency));
    }
    let tokens = tokenize(&s);
    let currency = currency_of(&tokens, store_currency, text)?;
    let amount_at = amount_index(&tokens, text)?;
    check_magnitude(&tokens, amount_at, text)?;
    check_sign(&tokens, amount_at, text)?;
    let Token::Number { raw, .. } = &tokens[amount_at] else {
        unreachable!("amount_index returns a number")
    };
    // Separators follow the store's locale (docs/NORMALIZATION.md R4); the exponent is the
    // resulting currency's (docs/NORMALIZATION.md R2).
    let decimal: Decimal = split_number(raw, store_currency.grouping(), text)?;
    let minor = decimal.to_minor(currency, text)?;
    if minor < 0 {
        return Err(overflow(text));
    }
    Ok(Money::new(minor, currency))
}

/// Index of the amount: the only number, or the low end of a range (docs/NORMALIZATION.md R6).
fn amount_index(tokens: &[Token], input: &str) -> Result<usize, FieldError> {
    let numbers: Vec<usize> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| matches!(t, Token::Number { percent: false, .. }))
        .map(|(i, _)| i)
        .collect();
    match numbers.as_slice() {
        [] => Err(err(ErrorCode::NoDigits, format!("price {input:?} has no amount"))),
        [one] => Ok(*one),
        [a, b] if is_range(&tokens[a + 1..*b]) => Ok(*a),
        _ => Err(err(
            ErrorCode::Malformed,
            format!("price {input:?} has several amounts and is not a range \"A - B\""),
        )),
    }
}

/// Between two amounts of a range: a dash or range word, and currency markers.
fn is_range(between: &[Token]) -> bool {
    let mut separators = 0;
    for t in between {
        match t {
            Token::Dash => separators += 1,
            Token::Word(w) if RANGE_WORDS.contains(&w.as_str()) => separators += 1,
            Token::Currency(_) => {}
            _ => return false,
        }
    }
    separators == 1
}

fn check_magnitude(tokens: &[Token], amount_at: usize, input: &str) -> Result<(), FieldError> {
    if let Some(Token::Word(w)) = tokens.get(amount_at + 1)
        && MAGNITUDES.contains(&w.as_str())
    {
        return Err(err(
            ErrorCode::MagnitudeSuffix,
            format!("price {input:?} uses the magnitude word {w:?}; write the full amount"),
        ));
    }
    Ok(())
}

/// docs/NORMALIZATION.md R8: a minus sign before the amount (with or without a currency marker in
/// between).
fn check_sign(tokens: &[Token], amount_at: usize, input: &str) -> Result<(), FieldError> {
    let mut j = amount_at;
    while j > 0 {
        j -= 1;
        match &tokens[j] {
            Token::Minus => {
                return Err(err(ErrorCode::Negative, format!("price {input:?} is negative")));
            }
            Token::Currency(_) => continue,
            _ => break,
        }
    }
    Ok(())
}

/// docs/NORMALIZATION.md R3: explicit markers beat the store currency; a code next to `$` wins over
/// the bare `$`; two different explicit currencies are an error.
fn currency_of(tokens: &[Token], store: Currency, input: &str) -> Result<Currency, FieldError> {
    if let Some(Token::UnknownCode(code)) =
        tokens.iter().find(|t| matches!(t, Token::UnknownCode(_)))
    {
        return Err(err(
            ErrorCode::UnknownCurrency,
            format!("price {input:?} names the unsupported currency {code}"),
        ));
    }
    let mut explicit: Vec<Currency> = tokens
        .iter()
        .filter_map(|t| match t {
            Token::Currency(Some(c)) => Some(*c),
            _ => None,
        })
        .collect();
    explicit.dedup();
    explicit.sort_unstable();
    explicit.dedup();
    match explicit.as_slice() {
        [] => Ok(store),
        [one] => Ok(*one),
        _ => Err(err(
            ErrorCode::CurrencyConflict,
            format!(
                "price {input:?} names two currencies ({})",
                explicit.iter().map(|c| c.code()).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str, store: &str) -> Result<(i64, &'static str), ErrorCode> {
        parse_price(Scraped::Text(s), Currency::parse(store).unwrap())
            .map(|m| (m.minor, m.currency.code()))
            .map_err(|e| e.code)
    }

    #[test]
    fn rules_beyond_the_public_sample() {
        assert_eq!(p("Precio: $ 1.299.900 c/u", "COP"), Ok((129_990_000, "COP")));
        assert_eq!(p("$ 35.000 a $ 48.000", "COP"), Ok((3_500_000, "COP")));
        assert_eq!(p("$35.000–$48.000", "COP"), Ok((3_500_000, "COP")));
        assert_eq!(p("USD 10", "COP"), Ok((1000, "USD")));
        assert_eq!(p("$ USD 10", "COP"), Ok((1000, "USD")));
        assert_eq!(p("US$ 10 / € 9", "COP"), Err(ErrorCode::CurrencyConflict));
        // Separators follow the store's locale (docs/NORMALIZATION.md R4), even for a foreign
        // currency.
        assert_eq!(p("COP$ 5.000 COP", "USD"), Ok((500, "COP")));
        assert_eq!(p("COP$ 5.000 COP", "CLP"), Ok((500_000, "COP")));
        assert_eq!(p("50 mil", "COP"), Err(ErrorCode::MagnitudeSuffix));
        assert_eq!(p("$2k", "USD"), Err(ErrorCode::MagnitudeSuffix));
        assert_eq!(p("$ -5.000", "COP"), Err(ErrorCode::Negative));
        assert_eq!(p("Consultar precio", "COP"), Err(ErrorCode::NoDigits));
        assert_eq!(p("   ", "COP"), Err(ErrorCode::Empty));
        assert_eq!(p("FREE", "USD"), Ok((0, "USD")));
        assert_eq!(p("$ 1.349.900 IVA incluido", "COP"), Ok((134_990_000, "COP")));
        assert_eq!(p("$ 99.999.999.999.999.999", "COP"), Err(ErrorCode::Overflow));
        // The documented bound: 10^11 minor units, inclusive.
        assert_eq!(p("$ 1.000.000.000,00", "COP"), Ok((100_000_000_000, "COP")));
        assert_eq!(p("$ 1.000.000.000,01", "COP"), Err(ErrorCode::OutOfRange));
        assert_eq!(p("$ 100.000.000.001", "CLP"), Err(ErrorCode::OutOfRange));
        assert_eq!(p("2 x $ 10.000", "COP"), Err(ErrorCode::Malformed));
        assert_eq!(p("-20% $ 80.000", "COP"), Ok((8_000_000, "COP")));
        assert_eq!(p("$ 1.349,999", "ARS"), Err(ErrorCode::InexactMinorUnits));
        assert_eq!(p("$ 1.349,900", "ARS"), Ok((134_990, "ARS")));
        assert_eq!(p("$.99", "USD"), Ok((99, "USD")));
        assert_eq!(p("XYZ 100", "USD"), Err(ErrorCode::UnknownCurrency));
        assert_eq!(p("1 349 900 COP", "COP"), Ok((134_990_000, "COP")));
        assert_eq!(p("&#36;&nbsp;89.900", "COP"), Ok((8_990_000, "COP")));
        assert_eq!(p("R$ 1.349,90", "COP"), Ok((134_990, "BRL")));
        assert_eq!(p("S/. 20.50", "PEN"), Ok((2050, "PEN")));
        // The Colombian millions apostrophe.
        assert_eq!(p("$ 1'299.900", "COP"), Ok((129_990_000, "COP")));
        assert_eq!(p("$1’299.900,00", "COP"), Ok((129_990_000, "COP")));
        assert_eq!(p("$ 12'500.000", "COP"), Ok((1_250_000_000, "COP")));
        // A marker's letters and its `$` may stand apart.
        assert_eq!(p("US $ 2,349.99", "COP"), Ok((234_999, "USD")));
        assert_eq!(p("US  $2,349.99", "COP"), Ok((234_999, "USD")));
        assert_eq!(p("us $ 10", "COP"), Ok((1000, "USD")));
        assert_eq!(p("MX $ 1,349.00", "COP"), Ok((134_900, "MXN")));
        assert_eq!(p("Plus $ 10", "USD"), Ok((1000, "USD")));
    }

    #[test]
    fn json_numbers() {
        let n = |s: &str, c: &str| {
            parse_price(Scraped::Number(s), Currency::parse(c).unwrap())
                .map(|m| m.minor)
                .map_err(|e| e.code)
        };
        assert_eq!(n("19.99", "USD"), Ok(1999));
        assert_eq!(n("19.999", "USD"), Err(ErrorCode::InexactMinorUnits));
        assert_eq!(n("12490.0", "CLP"), Ok(12490));
        assert_eq!(n("-1", "USD"), Err(ErrorCode::Negative));
        assert_eq!(n("0", "USD"), Ok(0));
        assert_eq!(n("1e25", "USD"), Err(ErrorCode::Overflow));
        assert_eq!(n("9223372036854775807", "CLP"), Err(ErrorCode::OutOfRange));
        assert_eq!(n("1000000000", "USD"), Ok(100_000_000_000));
    }
}
