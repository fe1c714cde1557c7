//! docs/NORMALIZATION.md R1 pre-processing shared by every scraped value: decode HTML entities,
//! apply Unicode NFKC (which also turns no-break and thin spaces into plain spaces), trim.

use std::borrow::Cow;

/// Named entities scrapers leave in prices and ratings; unknown ones are kept verbatim.
const ENTITIES: &[(&str, char)] = &[
    ("nbsp", '\u{a0}'),
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("euro", '€'),
    ("cent", '¢'),
    ("pound", '£'),
    ("yen", '¥'),
    ("copy", '©'),
    ("reg", '®'),
    ("ndash", '–'),
    ("mdash", '—'),
    ("hellip", '…'),
    ("deg", '°'),
    ("laquo", '«'),
    ("raquo", '»'),
    ("ntilde", 'ñ'),
    ("Ntilde", 'Ñ'),
    ("aacute", 'á'),
    ("eacute", 'é'),
    ("iacute", 'í'),
    ("oacute", 'ó'),
    ("uacute", 'ú'),
    ("Aacute", 'Á'),
    ("Eacute", 'É'),
    ("Iacute", 'Í'),
    ("Oacute", 'Ó'),
    ("Uacute", 'Ú'),
    ("frac12", '½'),
    ("star", '☆'),
    ("starf", '★'),
    ("thinsp", '\u{2009}'),
    ("ensp", '\u{2002}'),
    ("emsp", '\u{2003}'),
    ("dollar", '$'),
];

/// Decodes `&name;`, `&#123;` and `&#x1F;` entities.
pub fn decode_entities(input: &str) -> Cow<'_, str> {
    if !input.contains('&') {
        return Cow::Borrowed(input);
    }
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        match decode_one(rest) {
            Some((ch, len)) => {
                out.push(ch);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The entity at the start of `s` (which begins with '&'): its char and byte length.
fn decode_one(s: &str) -> Option<(char, usize)> {
    let end = s.char_indices().take(12).find(|(_, c)| *c == ';')?.0;
    let body = &s[1..end];
    let ch = if let Some(num) = body.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse::<u32>().ok()?,
        };
        char::from_u32(code)?
    } else {
        ENTITIES.iter().find(|(n, _)| *n == body)?.1
    };
    Some((ch, end + 1))
}

/// docs/NORMALIZATION.md R1: entities decoded, NFKC, trimmed. Borrows when there is nothing to
/// change.
pub fn preprocess(input: &str) -> Cow<'_, str> {
    if input.is_ascii() && !input.contains('&') {
        return Cow::Borrowed(input.trim());
    }
    match decode_entities(input) {
        Cow::Borrowed(decoded) => match crate::domain::text::nfkc(decoded) {
            Cow::Borrowed(normalized) => Cow::Borrowed(normalized.trim()),
            Cow::Owned(normalized) => Cow::Owned(trimmed(normalized)),
        },
        Cow::Owned(decoded) => {
            Cow::Owned(trimmed(crate::domain::text::nfkc(&decoded).into_owned()))
        }
    }
}

/// `s` trimmed, reusing its buffer when there is nothing to trim.
fn trimmed(s: String) -> String {
    if s.trim().len() == s.len() { s } else { s.trim().to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_entities_and_normalizes_spaces() {
        assert_eq!(preprocess("&#36;&nbsp;2.349.900"), "$ 2.349.900");
        assert_eq!(preprocess("&#x24;1&amp;2 &bogus; &"), "$1&2 &bogus; &");
        assert_eq!(preprocess("\u{202f}1\u{2009}349\u{a0}900 "), "1 349 900");
        assert_eq!(preprocess("ＵＳ＄ 5"), "US$ 5");
        assert_eq!(preprocess("&#99999999;"), "&#99999999;");
    }
}
