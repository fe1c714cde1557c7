//! Rating parsing, docs/NORMALIZATION.md Q1–Q7: "4,2 de 5", "4.2/5", "8/10", "84%", "★★★★½", "4.6
//! (2.311 opiniones)" become hundredths on 0–5, computed exactly and rounded half up; texts that
//! say there is no rating are errors, never zero.

use super::prep::{decode_entities, preprocess};
use super::{ErrorCode, FieldError, Scraped};
use crate::domain::{Rating, fold_for_matching};

/// Words after a number that make it a review count, not a rating (docs/NORMALIZATION.md Q5).
const COUNT_WORDS: &[&str] = &[
    "opiniones",
    "opinion",
    "opinión",
    "reviews",
    "review",
    "ratings",
    "calificaciones",
    "valoraciones",
    "resenas",
    "reseñas",
    "resena",
    "reseña",
    "votos",
    "votes",
    "comentarios",
    "comments",
    "evaluaciones",
    "avaliacoes",
    "avaliações",
];

/// Whole texts that mean "no rating" (docs/NORMALIZATION.md Q7), compared folded (lowercase, no
/// accents).
const NO_RATING: &[&str] = &[
    "sin calificacion",
    "sin calificaciones",
    "sin opiniones",
    "sin resenas",
    "sin valoraciones",
    "sin evaluaciones",
    "sin comentarios",
    "n/a",
    "na",
    "-",
    "--",
    "no rating",
    "no ratings",
    "not rated",
    "no reviews",
    "unrated",
    "se el primero en opinar",
    "se el primero en calificar",
    "be the first to review",
    "sem avaliacoes",
    "ninguna",
    "none",
    "null",
];

fn err(code: ErrorCode, message: String) -> FieldError {
    FieldError::new(code, message)
}

pub fn parse_rating(input: Scraped<'_>) -> Result<Rating, FieldError> {
    match input {
        Scraped::Number(text) => {
            let value = number(text).ok_or_else(|| {
                err(ErrorCode::Malformed, format!("rating {text} is not a number"))
            })?;
            bare(value, text)
        }
        Scraped::Text(text) => parse_text(text),
    }
}

/// An exact non-negative decimal: `mantissa / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dec {
    mantissa: i128,
    scale: u32,
}

/// "4.2", "4,2", "84", "-1" (negative → None is avoided: the caller checks signs separately).
fn number(s: &str) -> Option<Dec> {
    let s = s.trim();
    let (int, frac) = s.split_once(['.', ',']).unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() || int.len() > 12 || frac.len() > 12 {
        return None;
    }
    if !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mantissa = format!("{int}{frac}").parse::<i128>().ok()?;
    Some(Dec { mantissa, scale: frac.len() as u32 })
}

/// `num / den * 5` in hundredths, rounded half up.
fn scaled(num: Dec, den: Dec) -> Option<i64> {
    // (n / 10^a) / (d / 10^b) * 500 = n * 10^b * 500 / (d * 10^a)
    let top = num.mantissa.checked_mul(10i128.checked_pow(den.scale)?)?.checked_mul(500)?;
    let bottom = den.mantissa.checked_mul(10i128.checked_pow(num.scale)?)?;
    if bottom == 0 {
        return None;
    }
    i64::try_from((top * 2 + bottom) / (bottom * 2)).ok()
}

fn hundredths(value: Dec) -> Option<i64> {
    // value * 100, rounded half up.
    scaled(value, Dec { mantissa: 5, scale: 0 })
}

fn in_range(h: Option<i64>, input: &str) -> Result<Rating, FieldError> {
    h.and_then(|h| Rating::from_hundredths(h).ok())
        .ok_or_else(|| err(ErrorCode::OutOfRange, format!("rating {input:?} is outside 0–5")))
}

/// docs/NORMALIZATION.md Q3: a bare number is already on 0–5.
fn bare(value: Dec, input: &str) -> Result<Rating, FieldError> {
    in_range(hundredths(value), input)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Dec),
    Word(String),
    Slash,
    Percent,
    Minus,
    Open,
    Close,
}

fn tokenize(s: &str) -> Vec<Tok> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_digit()
                    || (matches!(chars[i], '.' | ',')
                        && chars.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                i += 1;
            }
            let raw: String = chars[start..i].iter().collect();
            // "2.311" with two separators or a thousands shape is a count-like number; it still
            // parses (as 2.311) and is dropped later if a count word follows.
            out.push(number(&raw).map_or_else(|| Tok::Word(raw.clone()), Tok::Num));
            continue;
        }
        match c {
            '/' => out.push(Tok::Slash),
            '%' => out.push(Tok::Percent),
            '-' | '−' => out.push(Tok::Minus),
            '(' | '[' => out.push(Tok::Open),
            ')' | ']' => out.push(Tok::Close),
            _ if c.is_alphabetic() => {
                let start = i;
                while i < chars.len() && chars[i].is_alphabetic() {
                    i += 1;
                }
                out.push(Tok::Word(fold_for_matching(&chars[start..i].iter().collect::<String>())));
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// docs/NORMALIZATION.md Q4: ★ = 1, ½ = 0.5, ☆ = 0. The glyphs are the rating unless a number
/// stands before them ("4.5 ★★★★☆") or a rating with its scale follows them ("★★★★☆ 4/5"); any
/// other number after them counts reviews ("★★★★☆ (1.234)") and is never read as the rating. Read
/// before NFKC, which would turn ½ into digits.
fn stars(raw: &str) -> Option<i64> {
    let text = decode_entities(raw);
    let first = text.find(|c| star_halves(c).is_some())?;
    let (before, after) = text.split_at(first);
    if before.chars().any(|c| c.is_ascii_digit()) || has_scaled_number(after) {
        return None;
    }
    Some(text.chars().filter_map(star_halves).sum::<i64>() * 50)
}

/// Half-stars a glyph is worth; `None` for anything that is not a star glyph.
fn star_halves(c: char) -> Option<i64> {
    match c {
        '★' | '⭐' | '✭' | '✮' => Some(2),
        '½' | '⯪' | '⯨' => Some(1),
        '☆' | '✩' | '✰' => Some(0),
        _ => None,
    }
}

/// Whether the text holds "x/y", "x de y" or the like.
fn has_scaled_number(text: &str) -> bool {
    let toks = tokenize(&preprocess(text));
    toks.iter()
        .enumerate()
        .any(|(i, t)| matches!(t, Tok::Num(_)) && denominator(&toks[i + 1..]).is_some())
}

fn parse_text(raw: &str) -> Result<Rating, FieldError> {
    if let Some(h) = stars(raw) {
        return in_range(Some(h), raw);
    }
    let text = preprocess(raw);
    if text.is_empty() {
        return Err(err(ErrorCode::Empty, "rating is empty".into()));
    }
    let folded = fold_for_matching(&text);
    let folded = folded.trim().trim_end_matches('.');
    if NO_RATING.contains(&folded) || folded.starts_with("sin ") || folded.starts_with("no ") {
        return Err(err(ErrorCode::NoRating, format!("{raw:?} says there is no rating")));
    }
    let toks = without_counts(tokenize(&text));
    let nums: Vec<usize> =
        toks.iter().enumerate().filter(|(_, t)| matches!(t, Tok::Num(_))).map(|(i, _)| i).collect();
    let Some(&first) = nums.first() else {
        let had_digits = text.chars().any(|c| c.is_ascii_digit());
        return Err(if had_digits {
            err(ErrorCode::NoRating, format!("{raw:?} has only review counts, no rating"))
        } else {
            err(ErrorCode::NoDigits, format!("rating {raw:?} has no number"))
        });
    };
    if first > 0 && toks[first - 1] == Tok::Minus {
        return Err(err(ErrorCode::OutOfRange, format!("rating {raw:?} is negative")));
    }
    let Tok::Num(x) = toks[first] else { unreachable!("nums holds numbers") };
    // docs/NORMALIZATION.md Q2: "x/y", "x de y", "x sobre y", "x out of y", "x of y".
    if let Some(y) = denominator(&toks[first + 1..]) {
        if y.mantissa == 0 || x.mantissa * 10i128.pow(y.scale) > y.mantissa * 10i128.pow(x.scale) {
            return Err(err(ErrorCode::OutOfRange, format!("rating {raw:?} is above its scale")));
        }
        return in_range(scaled(x, y), raw);
    }
    if toks.get(first + 1) == Some(&Tok::Percent) {
        return in_range(scaled(x, Dec { mantissa: 100, scale: 0 }), raw);
    }
    if nums.len() > 1 {
        return Err(err(ErrorCode::Malformed, format!("rating {raw:?} has several numbers")));
    }
    bare(x, raw)
}

/// The `y` of "x/y", "x de y", "x sobre y", "x out of y", "x of y", if the tokens after x say so.
fn denominator(after: &[Tok]) -> Option<Dec> {
    let word = |t: &Tok, w: &str| matches!(t, Tok::Word(x) if x == w);
    match after {
        [Tok::Slash, Tok::Num(y), ..] => Some(*y),
        [t, Tok::Num(y), ..] if word(t, "de") || word(t, "sobre") || word(t, "of") => Some(*y),
        [a, b, Tok::Num(y), ..] if word(a, "out") && word(b, "of") => Some(*y),
        _ => None,
    }
}

/// docs/NORMALIZATION.md Q5: drops numbers that count reviews — followed by a count word, or in
/// parentheses after the rating.
fn without_counts(toks: Vec<Tok>) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::with_capacity(toks.len());
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate() {
        match t {
            Tok::Open => depth += 1,
            Tok::Close => depth = depth.saturating_sub(1),
            Tok::Num(_) => {
                let counted = matches!(toks.get(i + 1), Some(Tok::Word(w)) if COUNT_WORDS.contains(&w.as_str()));
                let parenthesized_after_rating =
                    depth > 0 && out.iter().any(|o| matches!(o, Tok::Num(_)));
                if counted || parenthesized_after_rating {
                    continue;
                }
            }
            _ => {}
        }
        out.push(t.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Result<u16, ErrorCode> {
        parse_rating(Scraped::Text(s)).map(|r| r.hundredths()).map_err(|e| e.code)
    }

    #[test]
    fn rules_beyond_the_public_sample() {
        assert_eq!(r("4.5 out of 5 stars"), Ok(450));
        assert_eq!(r("3 sobre 5"), Ok(300));
        assert_eq!(r("9.5 de 10"), Ok(475));
        assert_eq!(r("7/9"), Ok(389));
        assert_eq!(r("★★★★½"), Ok(450));
        assert_eq!(r("☆☆☆☆☆"), Ok(0));
        assert_eq!(r("4.5 ★★★★☆"), Ok(450));
        // A count after the stars is never the rating.
        assert_eq!(r("★★★★☆ (1.234)"), Ok(400));
        assert_eq!(r("★★★★☆ (12)"), Ok(400));
        assert_eq!(r("★★★½☆ 1.234 opiniones"), Ok(350));
        assert_eq!(r("★★★★☆ 87"), Ok(400));
        assert_eq!(r("&starf;&starf;&star; (3)"), Ok(200));
        assert_eq!(r("★★★★☆ 4/5"), Ok(400));
        assert_eq!(r("★★★☆☆ 4,5 de 5"), Ok(450));
        assert_eq!(r("4.5 (120)"), Ok(450));
        assert_eq!(r("Calificación: 4,25"), Ok(425));
        assert_eq!(r("4.256"), Ok(426));
        assert_eq!(r("0 opiniones"), Err(ErrorCode::NoRating));
        assert_eq!(r("N/A"), Err(ErrorCode::NoRating));
        assert_eq!(r("-"), Err(ErrorCode::NoRating));
        assert_eq!(r("6/5"), Err(ErrorCode::OutOfRange));
        assert_eq!(r("120%"), Err(ErrorCode::OutOfRange));
        assert_eq!(r("-1"), Err(ErrorCode::OutOfRange));
        assert_eq!(r("4/0"), Err(ErrorCode::OutOfRange));
        assert_eq!(r("excelente"), Err(ErrorCode::NoDigits));
        assert_eq!(r("4 5"), Err(ErrorCode::Malformed));
        assert_eq!(r(""), Err(ErrorCode::Empty));
        assert_eq!(parse_rating(Scraped::Number("3.8")).map(|r| r.hundredths()), Ok(380));
        assert_eq!(
            parse_rating(Scraped::Number("5.01")).map_err(|e| e.code),
            Err(ErrorCode::OutOfRange)
        );
    }
}
