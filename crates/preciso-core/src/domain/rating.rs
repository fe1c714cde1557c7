//! A rating on the 0–5 scale with at most two decimals, stored exactly as hundredths.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rating(u16);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rating {0} hundredths is outside 0–5")]
pub struct RatingError(pub i64);

impl Rating {
    pub const MAX_HUNDREDTHS: u16 = 500;

    pub fn from_hundredths(h: i64) -> Result<Self, RatingError> {
        if (0..=i64::from(Self::MAX_HUNDREDTHS)).contains(&h) {
            Ok(Rating(h as u16))
        } else {
            Err(RatingError(h))
        }
    }

    pub fn hundredths(self) -> u16 {
        self.0
    }

    /// For JSON output only; the value is exact in hundredths.
    pub fn as_f64(self) -> f64 {
        f64::from(self.0) / 100.0
    }
}

impl fmt::Display for Rating {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl serde::Serialize for Rating {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_f64())
    }
}
