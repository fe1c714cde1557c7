//! Exact decimal amounts: the digits of a number split into integer and fraction
//! (docs/NORMALIZATION.md R4), and their conversion to integer minor units
//! (docs/NORMALIZATION.md R2, R8) with checked arithmetic.

use super::{ErrorCode, FieldError};
use crate::domain::{Currency, Grouping};

/// A non-negative decimal as digit strings: `int.frac`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decimal {
    pub int: String,
    pub frac: String,
}

impl Decimal {
    /// Integer minor units of `currency`: extra decimals must be zeros (never rounded).
    pub fn to_minor(&self, currency: Currency, input: &str) -> Result<i64, FieldError> {
        let exp = usize::from(currency.exponent());
        let (kept, extra) =
            if self.frac.len() > exp { self.frac.split_at(exp) } else { (self.frac.as_str(), "") };
        if extra.bytes().any(|b| b != b'0') {
            return Err(FieldError::new(
                ErrorCode::InexactMinorUnits,
                format!(
                    "{input:?} has more decimals than {currency} allows ({exp}); amounts are never rounded"
                ),
            ));
        }
        let mut digits = String::with_capacity(self.int.len() + exp);
        digits.push_str(&self.int);
        digits.push_str(kept);
        digits.extend(std::iter::repeat_n('0', exp - kept.len()));
        let digits = digits.trim_start_matches('0');
        if digits.is_empty() {
            return Ok(0);
        }
        digits.parse::<i64>().map_err(|_| overflow(input))
    }
}

pub(crate) fn overflow(input: &str) -> FieldError {
    FieldError::new(ErrorCode::Overflow, format!("{input:?} is too large to store"))
}

fn grouping_error(input: &str) -> FieldError {
    FieldError::new(
        ErrorCode::MalformedGrouping,
        format!("{input:?} has malformed digit grouping (thousands groups must have 3 digits)"),
    )
}

/// Checks thousands groups: the first 1–3 digits, every later one exactly 3.
fn join_groups(groups: &[&str], input: &str) -> Result<String, FieldError> {
    let Some((first, rest)) = groups.split_first() else { return Err(grouping_error(input)) };
    if first.is_empty() || first.len() > 3 || rest.iter().any(|g| g.len() != 3) {
        return Err(grouping_error(input));
    }
    Ok(groups.concat())
}

/// docs/NORMALIZATION.md R4: splits a scraped number (digits with `.`, `,`, `'` and spaces) into
/// integer and fraction. Spaces and apostrophes always group thousands; with both `.` and `,` the
/// rightmost is the decimal; a repeated separator groups thousands; a single separator not
/// followed by exactly three digits is the decimal; only "one separator then three digits" is
/// decided by the locale of `grouping`.
///
/// An apostrophe left of every `.` and `,` is the Colombian millions mark (`1'299.900` is
/// 1.299.900): the separators right of it are read as if it were not there. Anywhere else
/// it is a plain thousands mark, as a space is.
pub(crate) fn split_number(
    raw: &str,
    grouping: Grouping,
    input: &str,
) -> Result<Decimal, FieldError> {
    let millions_mark = millions_apostrophe(raw);
    // Spaces and apostrophes first become a neutral thousands mark (`'` when it marks
    // millions, `_` otherwise).
    let text: String = raw
        .chars()
        .map(|c| match c {
            '\'' | '’' if millions_mark => '\'',
            ' ' | '\'' | '’' => '_',
            c => c,
        })
        .collect();
    let dots = text.matches('.').count();
    let commas = text.matches(',').count();
    let other_thousands = text.contains('_');
    let decimal_sep = match (dots, commas) {
        (0, 0) => None,
        (_, 0) | (0, _) => {
            let (sep, count) = if dots > 0 { ('.', dots) } else { (',', commas) };
            let after = text.rsplit(sep).next().unwrap_or("");
            if count > 1 {
                None
            } else if after.len() != 3 || other_thousands {
                Some(sep)
            } else {
                match (grouping, sep) {
                    (Grouping::DotThousands, ',') | (Grouping::CommaThousands, '.') => Some(sep),
                    _ => None,
                }
            }
        }
        _ => {
            let last_dot = text.rfind('.').unwrap_or(0);
            let last_comma = text.rfind(',').unwrap_or(0);
            Some(if last_dot > last_comma { '.' } else { ',' })
        }
    };
    let (int_part, frac) = match decimal_sep {
        Some(sep) => {
            let (i, f) = text.rsplit_once(sep).unwrap_or((&text, ""));
            if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                return Err(grouping_error(input));
            }
            (i.to_string(), f.to_string())
        }
        None => (text.clone(), String::new()),
    };
    let int = if int_part.is_empty() {
        String::from("0")
    } else if int_part.bytes().all(|b| b.is_ascii_digit()) {
        int_part
    } else {
        let groups: Vec<&str> = int_part.split(['.', ',', '_', '\'']).collect();
        // One kind of thousands mark per number (spaces/apostrophes may not mix with . or ,),
        // besides the millions apostrophe.
        let marks: std::collections::BTreeSet<char> =
            int_part.chars().filter(|c| !c.is_ascii_digit() && *c != '\'').collect();
        if marks.len() > 1 {
            return Err(grouping_error(input));
        }
        join_groups(&groups, input)?
    };
    Ok(Decimal { int, frac })
}

/// Whether the number's apostrophes (one or more) all stand left of a `.` or `,`: the
/// Colombian way of marking millions, `1'299.900`.
fn millions_apostrophe(raw: &str) -> bool {
    let last_apostrophe = raw.rfind(['\'', '’']);
    let first_other = raw.find(['.', ',']);
    matches!((last_apostrophe, first_other), (Some(a), Some(o)) if a < o)
}

/// A JSON number's decimal text (docs/NORMALIZATION.md R9), e.g. `19.99`, `2349900`, `1e3`, `-5`:
/// sign and exact decimal, never through a float.
pub(crate) fn parse_json_number(text: &str) -> Option<(bool, Decimal)> {
    let text = text.trim();
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        || exponent.abs() > 40
    {
        return None;
    }
    let mut digits = format!("{int}{frac}");
    let mut point = int.len() as i32 + exponent;
    if point < 0 {
        digits = format!("{}{digits}", "0".repeat((-point) as usize));
        point = 0;
    }
    let point = point as usize;
    if digits.len() < point {
        digits.extend(std::iter::repeat_n('0', point - digits.len()));
    }
    let (i, f) = digits.split_at(point);
    let int = if i.is_empty() { "0".to_string() } else { i.to_string() };
    Some((negative, Decimal { int, frac: f.to_string() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(raw: &str, g: Grouping) -> Result<(String, String), ErrorCode> {
        split_number(raw, g, raw).map(|d| (d.int, d.frac)).map_err(|e| e.code)
    }

    #[test]
    fn r4_shapes() {
        use Grouping::*;
        let ok = |i: &str, f: &str| Ok((i.to_string(), f.to_string()));
        assert_eq!(split("2.349.900", DotThousands), ok("2349900", ""));
        assert_eq!(split("2,349.99", DotThousands), ok("2349", "99"));
        assert_eq!(split("1.349,90", CommaThousands), ok("1349", "90"));
        assert_eq!(split("1.349", CommaThousands), ok("1", "349"));
        assert_eq!(split("1.349", DotThousands), ok("1349", ""));
        assert_eq!(split("1,349", CommaThousands), ok("1349", ""));
        assert_eq!(split("1,5", CommaThousands), ok("1", "5"));
        assert_eq!(split("12.34.567", DotThousands), Err(ErrorCode::MalformedGrouping));
        assert_eq!(split("1 349 900", CommaThousands), ok("1349900", ""));
        assert_eq!(split("1'349.50", DotThousands), ok("1349", "50"));
        assert_eq!(split("1.234,5.6", DotThousands), Err(ErrorCode::MalformedGrouping));
        assert_eq!(split("1.234 567", DotThousands), Err(ErrorCode::MalformedGrouping));
        assert_eq!(split("12345,6", DotThousands), ok("12345", "6"));
        // The Colombian millions apostrophe; the locale still decides the last separator.
        assert_eq!(split("1'299.900", DotThousands), ok("1299900", ""));
        assert_eq!(split("1’299.900", DotThousands), ok("1299900", ""));
        assert_eq!(split("1'299.900,50", DotThousands), ok("1299900", "50"));
        assert_eq!(split("12'345.678", DotThousands), ok("12345678", ""));
        assert_eq!(split("1'299.90", DotThousands), ok("1299", "90"));
        assert_eq!(split("1'29.900", DotThousands), Err(ErrorCode::MalformedGrouping));
        assert_eq!(split("1.299'900", DotThousands), Err(ErrorCode::MalformedGrouping));
    }

    #[test]
    fn json_numbers_are_exact() {
        let d = |s: &str| parse_json_number(s).map(|(n, d)| (n, d.int, d.frac));
        assert_eq!(d("19.99"), Some((false, "19".into(), "99".into())));
        assert_eq!(d("1e3"), Some((false, "1000".into(), "".into())));
        assert_eq!(d("1.5E-2"), Some((false, "0".into(), "015".into())));
        assert_eq!(d("-5"), Some((true, "5".into(), "".into())));
        assert_eq!(d("abc"), None);
        assert_eq!(d("1e999"), None);
    }
}
