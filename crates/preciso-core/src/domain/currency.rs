//! ISO 4217 currencies Preciso knows, with the two facts the parser needs about each: the
//! minor-unit exponent (docs/NORMALIZATION.md R2) and how stores of that currency group digits
//! (docs/NORMALIZATION.md R4). Extending the market is one row in `TABLE`.

use std::fmt;

/// How a currency's stores write `1.234,56` versus `1,234.56` (docs/NORMALIZATION.md R4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// `.` groups thousands, `,` marks decimals (COP, CLP, ARS, BRL, EUR).
    DotThousands,
    /// `,` groups thousands, `.` marks decimals (USD, MXN, PEN).
    CommaThousands,
}

/// (code, minor-unit exponent, grouping)
const TABLE: &[(&str, u8, Grouping)] = &[
    ("COP", 2, Grouping::DotThousands),
    ("MXN", 2, Grouping::CommaThousands),
    ("ARS", 2, Grouping::DotThousands),
    ("CLP", 0, Grouping::DotThousands),
    ("PEN", 2, Grouping::CommaThousands),
    ("BRL", 2, Grouping::DotThousands),
    ("USD", 2, Grouping::CommaThousands),
    ("EUR", 2, Grouping::DotThousands),
    ("UYU", 2, Grouping::DotThousands),
    ("PYG", 0, Grouping::DotThousands),
    ("BOB", 2, Grouping::DotThousands),
    ("GTQ", 2, Grouping::CommaThousands),
    ("CRC", 2, Grouping::DotThousands),
    ("DOP", 2, Grouping::CommaThousands),
];

/// A currency from the supported table. `Copy`, three ASCII letters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(&'static str);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown or unsupported currency code {0:?}")]
pub struct CurrencyError(pub String);

impl Currency {
    pub const COP: Currency = Currency("COP");
    pub const USD: Currency = Currency("USD");

    /// Parses an ISO 4217 code, case-insensitively.
    pub fn parse(code: &str) -> Result<Self, CurrencyError> {
        let code = code.trim();
        TABLE
            .iter()
            .find(|(c, _, _)| c.eq_ignore_ascii_case(code))
            .map(|(c, _, _)| Currency(c))
            .ok_or_else(|| CurrencyError(code.to_string()))
    }

    pub fn code(self) -> &'static str {
        self.0
    }

    fn row(self) -> &'static (&'static str, u8, Grouping) {
        TABLE.iter().find(|(c, _, _)| *c == self.0).expect("Currency is only built from TABLE")
    }

    /// Number of decimal digits of the minor unit (2 for cents, 0 for CLP).
    pub fn exponent(self) -> u8 {
        self.row().1
    }

    pub fn grouping(self) -> Grouping {
        self.row().2
    }

    /// All supported currencies, for documentation and validation messages.
    pub fn all() -> impl Iterator<Item = Currency> {
        TABLE.iter().map(|(c, _, _)| Currency(c))
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl serde::Serialize for Currency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponents_follow_r2() {
        assert_eq!(Currency::parse("clp").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("COP").unwrap().exponent(), 2);
        assert!(Currency::parse("XYZ").is_err());
    }

    #[test]
    fn grouping_follows_r4() {
        assert_eq!(Currency::parse("BRL").unwrap().grouping(), Grouping::DotThousands);
        assert_eq!(Currency::parse("MXN").unwrap().grouping(), Grouping::CommaThousands);
    }
}
