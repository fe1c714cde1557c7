//! Normalization errors with stable machine codes (they appear in `preciso normalize`
//! output, rejects files and the API).

/// Stable codes; never rename one, only add.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Empty or whitespace-only text.
    Empty,
    /// JSON null where a value is required.
    Null,
    /// No digits at all ("Agotado", "Consultar precio").
    NoDigits,
    Negative,
    /// "$1.2M", "50 mil", "2k".
    MagnitudeSuffix,
    /// Thousands groups that are not well formed ("12.34.567").
    MalformedGrouping,
    /// More decimals than the currency's minor unit allows, and they are not zero.
    InexactMinorUnits,
    Overflow,
    /// Two different explicit currencies in one value.
    CurrencyConflict,
    /// A currency code Preciso does not support.
    UnknownCurrency,
    /// Text that has digits but does not read as one amount ("1 2 3 x 4").
    Malformed,
    /// A rating text that says there is no rating ("Sin calificación", "N/A").
    NoRating,
    OutOfRange,
    /// A JSON type that cannot carry the value (bool, array, object).
    InvalidType,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Empty => "empty",
            ErrorCode::Null => "null",
            ErrorCode::NoDigits => "no_digits",
            ErrorCode::Negative => "negative",
            ErrorCode::MagnitudeSuffix => "magnitude_suffix",
            ErrorCode::MalformedGrouping => "malformed_grouping",
            ErrorCode::InexactMinorUnits => "inexact_minor_units",
            ErrorCode::Overflow => "overflow",
            ErrorCode::CurrencyConflict => "currency_conflict",
            ErrorCode::UnknownCurrency => "unknown_currency",
            ErrorCode::Malformed => "malformed",
            ErrorCode::NoRating => "no_rating",
            ErrorCode::OutOfRange => "out_of_range",
            ErrorCode::InvalidType => "invalid_type",
        }
    }
}

/// Why one field could not be normalized: a stable code and a message for humans that
/// quotes the offending input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FieldError {
    pub code: ErrorCode,
    pub message: String,
}

impl FieldError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        FieldError { code, message: message.into() }
    }
}
