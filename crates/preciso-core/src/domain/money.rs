//! Exact money: an integer count of the currency's minor units. Never a float
//! (docs/NORMALIZATION.md).

use super::{Currency, Grouping};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    /// The largest amount accepted, in minor units (10^11: a billion in a currency with
    /// cents). Ten million such amounts still add up within `i64`, so sums, means and the
    /// SQL that compares or subtracts prices never overflow.
    pub const MAX_MINOR: i64 = 100_000_000_000;

    pub fn new(minor: i64, currency: Currency) -> Self {
        Money { minor, currency }
    }

    /// The mean of two amounts, rounded half up, without overflowing whatever they are.
    pub fn midpoint(a: i64, b: i64) -> i64 {
        ((i128::from(a) + i128::from(b) + 1).div_euclid(2)) as i64
    }

    /// A human display string in the currency's own convention, e.g. `COP 2.349.900,00`,
    /// `USD 1,349.50`, `CLP 12.490`.
    pub fn display(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exp = u32::from(self.currency.exponent());
        let scale = 10u64.pow(exp);
        let abs = self.minor.unsigned_abs();
        let (major, minor) = (abs / scale, abs % scale);
        let (thousands, decimal) = match self.currency.grouping() {
            Grouping::DotThousands => ('.', ','),
            Grouping::CommaThousands => (',', '.'),
        };
        let digits = major.to_string();
        let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(thousands);
            }
            grouped.push(ch);
        }
        let sign = if self.minor < 0 { "-" } else { "" };
        write!(f, "{} {sign}{grouped}", self.currency)?;
        if exp > 0 {
            write!(f, "{decimal}{minor:0width$}", width = exp as usize)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_in_local_convention() {
        let cop = Currency::parse("COP").unwrap();
        assert_eq!(Money::new(234_990_000, cop).display(), "COP 2.349.900,00");
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(Money::new(134_950, usd).display(), "USD 1,349.50");
        let clp = Currency::parse("CLP").unwrap();
        assert_eq!(Money::new(12_490, clp).display(), "CLP 12.490");
        assert_eq!(Money::new(5, usd).display(), "USD 0.05");
    }

    #[test]
    fn midpoints_round_half_up_and_never_overflow() {
        assert_eq!(Money::midpoint(1, 2), 2);
        assert_eq!(Money::midpoint(4, 4), 4);
        assert_eq!(Money::midpoint(i64::MAX, i64::MAX), i64::MAX);
        assert_eq!(Money::midpoint(i64::MAX - 1, i64::MAX), i64::MAX);
    }
}
