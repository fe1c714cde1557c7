//! Text folding shared by matching (field names, availability words) and grouping keys.

use std::borrow::Cow;
use std::sync::OnceLock;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Lowercase, accents removed (NFKD minus combining marks). "Categoría" → "categoria".
pub fn fold_for_matching(input: &str) -> String {
    if input.is_ascii() {
        return input.to_ascii_lowercase();
    }
    if input.chars().all(is_latin1) {
        // Spanish and Portuguese text: each character's fold, looked up. Folding works
        // character by character (marks are dropped, not reordered into other characters),
        // so this equals the general path; a property test checks it.
        let table = latin1_folds();
        let mut out = String::with_capacity(input.len());
        for c in input.chars() {
            out.push_str(&table[c as usize]);
        }
        return out;
    }
    fold_general(input)
}

fn fold_general(input: &str) -> String {
    input.nfkd().filter(|c| !is_combining_mark(*c)).flat_map(char::to_lowercase).collect()
}

fn is_latin1(c: char) -> bool {
    (c as u32) < 256
}

/// `fold_general` of every character U+0000–U+00FF, computed once.
fn latin1_folds() -> &'static [String] {
    static TABLE: OnceLock<Vec<String>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0..256u32)
            .map(|n| fold_general(&char::from_u32(n).expect("Latin-1").to_string()))
            .collect()
    })
}

/// NFKC. Text whose every character is a Latin-1 one that NFKC leaves alone (letters with
/// accents are already composed; the few with compatibility forms, such as the no-break
/// space or `ª`, are not among them) is returned as it is, without the general pass.
pub fn nfkc(input: &str) -> Cow<'_, str> {
    static UNCHANGED: OnceLock<Vec<bool>> = OnceLock::new();
    let unchanged = UNCHANGED.get_or_init(|| {
        (0..256u32)
            .map(|n| {
                let c = char::from_u32(n).expect("Latin-1").to_string();
                c.nfkc().collect::<String>() == c
            })
            .collect()
    });
    if input.chars().all(|c| is_latin1(c) && unchanged[c as usize]) {
        Cow::Borrowed(input)
    } else {
        Cow::Owned(input.nfkc().collect())
    }
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

    const SAMPLES: &str = "aeiouAEIOU áéíóúÁÉÍÓÚñÑüÜçÇãõÂÊÔàèìòù ªº¹²³¼½¾µ´¸¨¯\u{a0}ÆæØøßÐðÞþ×÷ \u{301}\u{308}ﬁ①Ⅳ한글";

    proptest::proptest! {
        #[test]
        fn the_latin1_paths_equal_the_general_ones(
            picks in proptest::collection::vec(0..SAMPLES.chars().count(), 0..12)
        ) {
            let chars: Vec<char> = SAMPLES.chars().collect();
            let text: String = picks.iter().map(|&i| chars[i]).collect();
            proptest::prop_assert_eq!(fold_for_matching(&text), fold_general(&text));
            proptest::prop_assert_eq!(nfkc(&text).into_owned(), text.nfkc().collect::<String>());
        }
    }

    #[test]
    fn every_latin1_character_folds_and_normalizes_like_the_general_path() {
        for n in 0..256u32 {
            let c = char::from_u32(n).unwrap();
            let text = format!("a{c}b{c}");
            assert_eq!(fold_for_matching(&text), fold_general(&text), "U+{n:04X}");
            assert_eq!(nfkc(&text), text.nfkc().collect::<String>(), "U+{n:04X}");
        }
    }
}
