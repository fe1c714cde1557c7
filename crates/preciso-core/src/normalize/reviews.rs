//! Review counts: "(1.234 opiniones)", "1,234 ratings", "1234" or a JSON integer. Counts are
//! integers, so `.` and `,` (and spaces) can only group thousands.

use super::amount::parse_json_number;
use super::prep::preprocess;
use super::{ErrorCode, FieldError, Scraped};

fn err(code: ErrorCode, message: String) -> FieldError {
    FieldError::new(code, message)
}

pub fn parse_review_count(input: Scraped<'_>) -> Result<u32, FieldError> {
    match input {
        Scraped::Number(text) => {
            let (negative, d) = parse_json_number(text).ok_or_else(|| {
                err(ErrorCode::Malformed, format!("review count {text} is not a number"))
            })?;
            if negative && d.int.bytes().any(|b| b != b'0') {
                return Err(err(ErrorCode::Negative, format!("review count {text} is negative")));
            }
            if d.frac.bytes().any(|b| b != b'0') {
                return Err(err(
                    ErrorCode::Malformed,
                    format!("review count {text} is not a whole number"),
                ));
            }
            d.int
                .parse()
                .map_err(|_| err(ErrorCode::Overflow, format!("review count {text} is too large")))
        }
        Scraped::Text(text) => parse_text(text),
    }
}

fn parse_text(raw: &str) -> Result<u32, FieldError> {
    let text = preprocess(raw);
    if text.is_empty() {
        return Err(err(ErrorCode::Empty, "review count is empty".into()));
    }
    let chars: Vec<char> = text.chars().collect();
    let mut numbers: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (matches!(chars[i], '.' | ',' | ' ' | '\'')
                        && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            numbers.push((start, chars[start..i].iter().collect()));
        } else {
            i += 1;
        }
    }
    let Some((start, raw_number)) = pick(&numbers, &chars) else {
        return Err(err(ErrorCode::NoDigits, format!("review count {raw:?} has no number")));
    };
    if start > 0 && matches!(chars[start - 1], '-' | '−') {
        return Err(err(ErrorCode::Negative, format!("review count {raw:?} is negative")));
    }
    let after: String = chars[start + raw_number.chars().count()..].iter().collect();
    let next_word =
        after.trim_start().split(|c: char| !c.is_alphabetic()).next().unwrap_or("").to_lowercase();
    if matches!(next_word.as_str(), "k" | "m" | "mil" | "millones") {
        return Err(err(
            ErrorCode::MagnitudeSuffix,
            format!("review count {raw:?} uses a magnitude word; give the full number"),
        ));
    }
    let groups: Vec<&str> = raw_number.split(['.', ',', ' ', '\'']).collect();
    if groups.len() > 1 && (groups[0].len() > 3 || groups[1..].iter().any(|g| g.len() != 3)) {
        return Err(err(
            ErrorCode::Malformed,
            format!("review count {raw:?} is not a whole number"),
        ));
    }
    groups
        .concat()
        .parse()
        .map_err(|_| err(ErrorCode::Overflow, format!("review count {raw:?} is too large")))
}

/// The number followed by a count word if there is one, else the only number.
fn pick<'a>(numbers: &'a [(usize, String)], chars: &[char]) -> Option<(usize, &'a str)> {
    let followed_by_word = numbers.iter().find(|(start, n)| {
        let rest: String = chars[start + n.chars().count()..].iter().collect();
        rest.trim_start().starts_with(|c: char| c.is_alphabetic())
    });
    match (followed_by_word, numbers) {
        (Some((s, n)), _) => Some((*s, n.as_str())),
        (None, [(s, n)]) => Some((*s, n.as_str())),
        (None, [.., (s, n)]) => Some((*s, n.as_str())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Result<u32, ErrorCode> {
        parse_review_count(Scraped::Text(s)).map_err(|e| e.code)
    }

    #[test]
    fn counts() {
        assert_eq!(c("(1.234 opiniones)"), Ok(1234));
        assert_eq!(c("1,234 ratings"), Ok(1234));
        assert_eq!(c("1234"), Ok(1234));
        assert_eq!(c("4.6 (2.311 opiniones)"), Ok(2311));
        assert_eq!(c("Sin opiniones"), Err(ErrorCode::NoDigits));
        assert_eq!(c("-3"), Err(ErrorCode::Negative));
        assert_eq!(c("1.2k reviews"), Err(ErrorCode::MagnitudeSuffix));
        assert_eq!(c("12k"), Err(ErrorCode::MagnitudeSuffix));
        assert_eq!(c("99999999999"), Err(ErrorCode::Overflow));
        assert_eq!(parse_review_count(Scraped::Number("1234")), Ok(1234));
        assert_eq!(
            parse_review_count(Scraped::Number("12.5")).map_err(|e| e.code),
            Err(ErrorCode::Malformed)
        );
    }
}
