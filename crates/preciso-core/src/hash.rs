//! Identity and content hashing. Offer and product ids are the first 64 bits of a SHA-256 of
//! a canonical key, so they are stable across runs, machines and backends without a lookup;
//! the content hash is the full SHA-256 of the canonical normalized record and decides
//! "unchanged" and "duplicate" at ingest. API keys are stored as the SHA-256 of the key
//! (`api_key_hash`), never the key.

use crate::domain::{Gtin, OfferId, ProductId, StoreId, fold_for_matching};
use sha2::{Digest, Sha256};

/// Field separator in canonical encodings: a control character no scraped field keeps.
const SEP: u8 = 0x1f;

fn id64(parts: &[&[u8]]) -> u64 {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
        h.update([SEP]);
    }
    let d = h.finalize();
    u64::from_be_bytes(d[..8].try_into().expect("SHA-256 has 32 bytes"))
}

/// URL as identity: trimmed, scheme and host lowercased, fragment and trailing slash removed.
pub fn canonical_url(url: &str) -> String {
    let url = url.trim();
    let url = url.split_once('#').map_or(url, |(u, _)| u);
    let (scheme_host, rest) = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            let host_end = after.find('/').map_or(url.len(), |j| i + 3 + j);
            (url[..host_end].to_ascii_lowercase(), &url[host_end..])
        }
        None => (String::new(), url),
    };
    let mut out = scheme_host + rest;
    while out.ends_with('/') && out.len() > 1 {
        out.pop();
    }
    out
}

/// Offer identity: (store, SKU), else (store, canonical URL), else (store, brand + title).
pub fn offer_id(store: &StoreId, sku: Option<&str>, url: Option<&str>, title_key: &str) -> OfferId {
    let s = store.as_str().as_bytes();
    let v = match (sku, url) {
        (Some(sku), _) => id64(&[b"sku", s, sku.trim().as_bytes()]),
        (None, Some(url)) => id64(&[b"url", s, canonical_url(url).as_bytes()]),
        (None, None) => id64(&[b"title", s, title_key.as_bytes()]),
    };
    OfferId(v)
}

/// Brand + title folded for grouping: lowercase, no accents, words of letters and digits.
/// Built in one buffer: it runs once per ingested record.
pub fn title_key(brand: Option<&str>, title: &str) -> String {
    let mut key = String::with_capacity(brand.map_or(0, str::len) + title.len() + 1);
    push_words(&mut key, brand.unwrap_or_default());
    let brand_len = key.len();
    key.push('|');
    let title_start = key.len();
    push_words(&mut key, title);
    // A title that repeats the brand ("Samsung Galaxy…" by Samsung) groups with one that doesn't.
    if brand_len > 0 && key[title_start..].starts_with(&key[..brand_len]) {
        let rest = &key[title_start + brand_len..];
        let repeat_end = title_start + brand_len + (rest.len() - rest.trim_start().len());
        key.replace_range(title_start..repeat_end, "");
    }
    key
}

/// Appends the folded words of `s`, separated by one space.
fn push_words(out: &mut String, s: &str) {
    let start = out.len();
    for word in fold_for_matching(s).split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
    {
        if out.len() > start {
            out.push(' ');
        }
        out.push_str(word);
    }
}

/// Product grouping key (docs/DATA-MODEL.md): by GTIN, else by normalized brand + title.
pub fn product_key(gtin: Option<&Gtin>, title_key: &str) -> String {
    match gtin {
        Some(g) => format!("gtin:{g}"),
        None => format!("bt:{title_key}"),
    }
}

pub fn product_id(product_key: &str) -> ProductId {
    ProductId(id64(&[b"product", product_key.as_bytes()]))
}

/// Incremental builder of the canonical record encoding; fields must be fed in one fixed
/// order (the pipeline's `canonical_fields`), absent ones as `None`.
#[derive(Default)]
pub struct ContentHasher(Sha256);

impl ContentHasher {
    pub fn field(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            // A leading tag byte keeps `None` distinct from `Some("")`.
            Some(v) => {
                self.0.update([1]);
                self.0.update(v.as_bytes());
            }
            None => self.0.update([0]),
        }
        self.0.update([SEP]);
        self
    }

    pub fn int(&mut self, value: Option<i64>) -> &mut Self {
        match value {
            Some(v) => {
                self.0.update([1]);
                self.0.update(v.to_be_bytes());
            }
            None => self.0.update([0]),
        }
        self.0.update([SEP]);
        self
    }

    pub fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

/// What an offer's content hash covers, in its stored form. Everything the record says except
/// when it was observed: two records with the same content are the same observation.
#[derive(Debug, Clone, Copy)]
pub struct OfferContent<'a> {
    pub store: &'a str,
    pub sku: Option<&'a str>,
    /// The GTIN as stored (14 digits).
    pub gtin: Option<&'a str>,
    pub title: &'a str,
    pub brand: Option<&'a str>,
    /// The category path as stored (`A > B`).
    pub category: Option<&'a str>,
    pub price_minor: i64,
    pub currency: &'a str,
    pub list_price_minor: Option<i64>,
    pub availability: &'a str,
    pub rating_hundredths: Option<i64>,
    pub review_count: Option<i64>,
    pub url: Option<&'a str>,
    pub image_url: Option<&'a str>,
}

/// The content hash of an offer (SHA-256 of the fields above in this fixed order). Ingest
/// and a store merge, which re-keys offers under another store, compute it here alike.
pub fn content_hash(c: &OfferContent<'_>) -> [u8; 32] {
    let mut h = ContentHasher::default();
    h.field(Some(c.store))
        .field(c.sku)
        .field(c.gtin)
        .field(Some(c.title))
        .field(c.brand)
        .field(c.category)
        .int(Some(c.price_minor))
        .field(Some(c.currency))
        .int(c.list_price_minor)
        .field(Some(c.availability))
        .int(c.rating_hundredths)
        .int(c.review_count)
        .field(c.url)
        .field(c.image_url);
    h.finish()
}

/// Lowercase hex of a SHA-256 digest.
pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

/// What is stored of an API key: the hex SHA-256 of its text. Keys are long random strings,
/// so a fast hash cannot be reversed by guessing; the CLI that creates keys and the server
/// that checks them both call this.
pub fn api_key_hash(key: &str) -> String {
    to_hex(&Sha256::digest(key.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_url_ignores_case_of_host_fragment_and_trailing_slash() {
        assert_eq!(
            canonical_url(" HTTPS://Tienda.COM/Prod/ABC/#reviews "),
            "https://tienda.com/Prod/ABC"
        );
    }

    #[test]
    fn offer_id_prefers_sku_then_url() {
        let s = StoreId::parse("exito").unwrap();
        let a = offer_id(&s, Some("SKU1"), Some("https://a/1"), "");
        let b = offer_id(&s, Some("SKU1"), Some("https://a/2"), "");
        assert_eq!(a, b);
        let c = offer_id(&s, None, Some("https://A/1/"), "");
        let d = offer_id(&s, None, Some("https://a/1"), "");
        assert_eq!(c, d);
        assert_ne!(a, c);
        let other = StoreId::parse("jumbo").unwrap();
        assert_ne!(a, offer_id(&other, Some("SKU1"), None, ""));
    }

    #[test]
    fn title_key_folds_and_drops_repeated_brand() {
        assert_eq!(
            title_key(Some("Samsung"), "SAMSUNG Galaxy  A15, 128GB"),
            "samsung|galaxy a15 128gb"
        );
        assert_eq!(title_key(Some("samsung"), "Galaxy A15 128GB"), "samsung|galaxy a15 128gb");
        assert_eq!(title_key(None, "Café Sello Rojo"), "|cafe sello rojo");
    }

    /// The definition `title_key` implements in one buffer; ids depend on it not changing.
    fn title_key_as_defined(brand: Option<&str>, title: &str) -> String {
        let words = |s: &str| -> String {
            fold_for_matching(s)
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        };
        let brand = brand.map(words).unwrap_or_default();
        let mut title = words(title);
        if !brand.is_empty() && title.starts_with(&brand) {
            title = title[brand.len()..].trim_start().to_string();
        }
        format!("{brand}|{title}")
    }

    proptest::proptest! {
        #[test]
        fn title_key_matches_its_definition(
            brand in proptest::option::of("[A-Za-zÁÉíñü0-9 .-]{0,12}"),
            title in "[A-Za-zÁÉíñü0-9 .,-]{0,30}",
            repeat in proptest::bool::ANY,
        ) {
            let title = match (&brand, repeat) {
                (Some(b), true) => format!("{b}{title}"),
                _ => title,
            };
            proptest::prop_assert_eq!(
                title_key(brand.as_deref(), &title),
                title_key_as_defined(brand.as_deref(), &title)
            );
        }
    }

    #[test]
    fn content_hash_distinguishes_none_from_empty_and_order() {
        let h = |a: Option<&str>, b: Option<&str>| {
            let mut c = ContentHasher::default();
            c.field(a).field(b);
            c.finish()
        };
        assert_ne!(h(None, Some("")), h(Some(""), None));
        assert_ne!(h(Some("ab"), Some("c")), h(Some("a"), Some("bc")));
        assert_eq!(h(Some("x"), None), h(Some("x"), None));
    }
}
