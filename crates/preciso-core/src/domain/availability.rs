//! Offer availability and the scraped words that mean it (docs/INGEST.md).

use super::fold_for_matching;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    InStock,
    OutOfStock,
    #[default]
    Unknown,
}

impl Availability {
    pub fn as_str(self) -> &'static str {
        match self {
            Availability::InStock => "in_stock",
            Availability::OutOfStock => "out_of_stock",
            Availability::Unknown => "unknown",
        }
    }

    /// Maps scraped text (English or Spanish/Portuguese, any case or accents) to availability.
    /// Returns `None` for text that names no known state, so the caller can report it.
    pub fn parse(input: &str) -> Option<Self> {
        let folded = fold_for_matching(input);
        let key = folded.trim();
        const IN: &[&str] = &[
            "in_stock",
            "in stock",
            "instock",
            "available",
            "disponible",
            "en stock",
            "hay stock",
            "con stock",
            "si",
            "yes",
            "true",
            "1",
            "em estoque",
            "disponivel",
        ];
        const OUT: &[&str] = &[
            "out_of_stock",
            "out of stock",
            "outofstock",
            "sold out",
            "unavailable",
            "agotado",
            "sin stock",
            "no disponible",
            "sin existencias",
            "no",
            "false",
            "0",
            "esgotado",
            "indisponivel",
        ];
        const UNKNOWN: &[&str] = &["unknown", "desconocido", ""];
        if IN.contains(&key) || key.starts_with("http") && key.ends_with("instock") {
            Some(Availability::InStock)
        } else if OUT.contains(&key) || key.starts_with("http") && key.ends_with("outofstock") {
            Some(Availability::OutOfStock)
        } else if UNKNOWN.contains(&key) {
            Some(Availability::Unknown)
        } else {
            None
        }
    }

    pub fn from_db(s: &str) -> Self {
        match s {
            "in_stock" => Availability::InStock,
            "out_of_stock" => Availability::OutOfStock,
            _ => Availability::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spanish_and_english_words() {
        assert_eq!(Availability::parse("Disponible"), Some(Availability::InStock));
        assert_eq!(Availability::parse(" AGOTADO "), Some(Availability::OutOfStock));
        assert_eq!(Availability::parse("Sin stock"), Some(Availability::OutOfStock));
        assert_eq!(Availability::parse("https://schema.org/InStock"), Some(Availability::InStock));
        assert_eq!(Availability::parse("unknown"), Some(Availability::Unknown));
        assert_eq!(Availability::parse("quizás"), None);
    }
}
