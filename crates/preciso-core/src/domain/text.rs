//! Text folding shared by matching (field names, availability words) and grouping keys.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Lowercase, accents removed (NFKD minus combining marks). "Categoría" → "categoria".
pub fn fold_for_matching(input: &str) -> String {
    if input.is_ascii() {
        return input.to_ascii_lowercase();
    }
    input.nfkd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase).collect()
}

/// A URL-safe identifier: folded, every run of non-alphanumerics becomes one `-`.
/// "Éxito Colombia" → "exito-colombia".
pub fn slugify(input: &str) -> String {
    let folded = fold_for_matching(input);
    let mut out = String::with_capacity(folded.len());
    for ch in folded.chars() {
        if ch.is_ascii_alphanumeric() {
            out.push(ch);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// The match key of a category path: each segment slugified, joined by `/`.
/// "Tecnología > Celulares", "tecnologia/celulares" and "Tecnologia/ Celulares" all give
/// "tecnologia/celulares", so API callers can use either the name or the key.
pub fn category_key(path: &str) -> String {
    let sep = if path.contains('>') { '>' } else { '/' };
    path.split(sep).map(slugify).filter(|s| !s.is_empty()).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_and_slugifies() {
        assert_eq!(fold_for_matching("Categoría"), "categoria");
        assert_eq!(slugify("  Éxito Colombia!! "), "exito-colombia");
        assert_eq!(slugify("falabella_co"), "falabella-co");
        assert_eq!(category_key("Tecnología > Celulares"), "tecnologia/celulares");
        assert_eq!(category_key("tecnologia/celulares/"), "tecnologia/celulares");
        assert_eq!(category_key("Hogar y Cocina"), "hogar-y-cocina");
    }
}
