//! GTIN (EAN-8, UPC-A/GTIN-12, EAN-13, GTIN-14) with the GS1 mod-10 check digit.

use std::fmt;

/// A validated GTIN, stored as its 14-digit form so that the same item written as UPC-A and
/// as EAN-13 compares equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gtin(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GtinError {
    #[error("GTIN must have 8, 12, 13 or 14 digits, found {0}")]
    Length(usize),
    #[error("GTIN contains a character that is not a digit")]
    NotDigits,
    #[error("GTIN check digit is wrong (expected {expected}, found {found})")]
    CheckDigit { expected: u8, found: u8 },
}

impl Gtin {
    /// Accepts digits with optional spaces or hyphens between them.
    pub fn parse(input: &str) -> Result<Self, GtinError> {
        let mut digits = Vec::with_capacity(14);
        for ch in input.trim().chars() {
            match ch {
                '0'..='9' => digits.push(ch as u8 - b'0'),
                ' ' | '-' => {}
                _ => return Err(GtinError::NotDigits),
            }
        }
        if !matches!(digits.len(), 8 | 12 | 13 | 14) {
            return Err(GtinError::Length(digits.len()));
        }
        let (body, check) = digits.split_at(digits.len() - 1);
        let expected = check_digit(body);
        if expected != check[0] {
            return Err(GtinError::CheckDigit { expected, found: check[0] });
        }
        let mut s = "0".repeat(14 - digits.len());
        s.extend(digits.iter().map(|d| char::from(b'0' + d)));
        Ok(Gtin(s))
    }

    /// The 14-digit form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// GS1 mod-10: weights 3,1,3,1… from the rightmost body digit.
fn check_digit(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| u32::from(d) * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

impl fmt::Display for Gtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_lengths_and_pads_to_14() {
        assert_eq!(Gtin::parse("4006381333931").unwrap().as_str(), "04006381333931");
        assert_eq!(Gtin::parse("73513537").unwrap().as_str(), "00000073513537");
        assert_eq!(Gtin::parse("036000291452").unwrap().as_str(), "00036000291452");
        assert_eq!(Gtin::parse("0 36000-29145 2").unwrap().as_str(), "00036000291452");
    }

    #[test]
    fn rejects_bad_check_digit_length_and_chars() {
        assert!(matches!(Gtin::parse("4006381333932"), Err(GtinError::CheckDigit { .. })));
        assert_eq!(Gtin::parse("12345"), Err(GtinError::Length(5)));
        assert_eq!(Gtin::parse("40063813339x1"), Err(GtinError::NotDigits));
    }
}
