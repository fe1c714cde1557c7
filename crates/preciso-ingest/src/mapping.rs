//! Field mapping: which key of a scraped record means which canonical field. The default
//! table accepts the English and Spanish names scrapers in this market write (docs/INGEST.md),
//! matched case- and accent-insensitively; a per-store mapping from the config file adds or
//! overrides names.

use preciso_core::domain::fold_for_matching;
use rustc_hash::FxHashMap;

/// The canonical fields of a record, in canonical-hash order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Store,
    Sku,
    Gtin,
    Title,
    Brand,
    Category,
    Price,
    ListPrice,
    Currency,
    Availability,
    Rating,
    Reviews,
    Url,
    ImageUrl,
    ScrapedAt,
}

impl Field {
    pub const COUNT: usize = 15;
    pub const ALL: [Field; Field::COUNT] = [
        Field::Store,
        Field::Sku,
        Field::Gtin,
        Field::Title,
        Field::Brand,
        Field::Category,
        Field::Price,
        Field::ListPrice,
        Field::Currency,
        Field::Availability,
        Field::Rating,
        Field::Reviews,
        Field::Url,
        Field::ImageUrl,
        Field::ScrapedAt,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// The canonical name, used in rejects and error messages.
    pub fn name(self) -> &'static str {
        DEFAULT_ALIASES[self.index()].1[0]
    }

    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Canonical name first, accepted aliases after (already folded: lowercase, no accents).
const DEFAULT_ALIASES: [(Field, &[&str]); Field::COUNT] = [
    (Field::Store, &["store", "tienda", "empresa", "retailer", "seller_store"]),
    (Field::Sku, &["sku", "id", "codigo", "product_id", "item_id"]),
    (Field::Gtin, &["gtin", "ean", "upc", "barcode", "ean13", "codigo_barras"]),
    (Field::Title, &["title", "name", "nombre", "titulo", "product_name", "producto"]),
    (Field::Brand, &["brand", "marca"]),
    (Field::Category, &["category", "categoria", "category_path"]),
    (Field::Price, &["price", "precio", "precio_actual", "sale_price", "precio_oferta"]),
    (
        Field::ListPrice,
        &["list_price", "precio_anterior", "precio_lista", "old_price", "precio_normal"],
    ),
    (Field::Currency, &["currency", "moneda", "divisa"]),
    (Field::Availability, &["availability", "disponibilidad", "stock", "in_stock"]),
    (Field::Rating, &["rating", "calificacion", "valoracion", "puntuacion", "stars"]),
    (Field::Reviews, &["reviews", "review_count", "resenas", "opiniones", "num_reviews"]),
    (Field::Url, &["url", "link", "enlace", "product_url"]),
    (Field::ImageUrl, &["image_url", "imagen", "image", "img", "image_link"]),
    (Field::ScrapedAt, &["scraped_at", "fecha", "fecha_extraccion", "timestamp", "scrape_date"]),
];

/// Resolves record keys to fields. Cheap to clone; built once per ingest run.
#[derive(Debug, Clone)]
pub struct FieldMap {
    by_key: FxHashMap<String, Field>,
}

impl Default for FieldMap {
    fn default() -> Self {
        let mut by_key = FxHashMap::default();
        for (field, names) in DEFAULT_ALIASES {
            for name in names {
                by_key.insert((*name).to_string(), field);
            }
        }
        FieldMap { by_key }
    }
}

impl FieldMap {
    /// The default table plus overrides: `canonical field name → the store's own key`.
    /// Returns the unknown canonical names so configuration errors are reported.
    pub fn with_overrides<'a>(
        overrides: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, String> {
        let mut map = FieldMap::default();
        for (canonical, key) in overrides {
            let field = Field::from_name(canonical).ok_or_else(|| {
                format!(
                    "mapping names unknown field {canonical:?}; known fields: {}",
                    field_names()
                )
            })?;
            map.by_key.insert(normalize_key(key), field);
        }
        Ok(map)
    }

    pub fn resolve(&self, key: &str) -> Option<Field> {
        // Fast path: most keys are already lowercase ASCII.
        if let Some(f) = self.by_key.get(key) {
            return Some(*f);
        }
        self.by_key.get(&normalize_key(key)).copied()
    }
}

/// Resolves a file's keys, remembering each spelling it has seen: a file repeats the same
/// few keys in every record, and resolving one that is not already canonical folds it.
pub(crate) struct KeyResolver<'a> {
    fields: &'a FieldMap,
    seen: FxHashMap<Box<str>, Option<Field>>,
}

impl<'a> KeyResolver<'a> {
    /// Distinct spellings remembered; a file with ever-new keys resolves the rest each time.
    const CAPACITY: usize = 1024;

    pub(crate) fn new(fields: &'a FieldMap) -> Self {
        KeyResolver { fields, seen: FxHashMap::default() }
    }

    pub(crate) fn resolve(&mut self, key: &str) -> Option<Field> {
        if let Some(field) = self.seen.get(key) {
            return *field;
        }
        let field = self.fields.resolve(key);
        if self.seen.len() < Self::CAPACITY {
            self.seen.insert(key.into(), field);
        }
        field
    }
}

fn normalize_key(key: &str) -> String {
    fold_for_matching(key.trim()).replace([' ', '-'], "_")
}

pub fn field_names() -> String {
    Field::ALL.map(Field::name).join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_aliases_case_and_accent_insensitively() {
        let m = FieldMap::default();
        assert_eq!(m.resolve("Precio"), Some(Field::Price));
        assert_eq!(m.resolve("CATEGORÍA"), Some(Field::Category));
        assert_eq!(m.resolve("Código"), Some(Field::Sku));
        assert_eq!(m.resolve("reseñas"), Some(Field::Reviews));
        assert_eq!(m.resolve("precio anterior"), Some(Field::ListPrice));
        assert_eq!(m.resolve("vendedor"), None);
    }

    #[test]
    fn the_resolver_agrees_with_the_map_and_stays_bounded() {
        let m = FieldMap::with_overrides([("title", "desc")]).unwrap();
        let mut r = KeyResolver::new(&m);
        for key in ["Precio", "CATEGORÍA", "desc", "vendedor", "Precio", "vendedor"] {
            assert_eq!(r.resolve(key), m.resolve(key), "{key}");
        }
        assert_eq!(r.seen.len(), 4);
        for n in 0..2 * KeyResolver::CAPACITY {
            assert_eq!(r.resolve(&format!("k{n}")), None);
        }
        assert_eq!(r.seen.len(), KeyResolver::CAPACITY);
        assert_eq!(r.resolve("precio"), Some(Field::Price));
    }

    #[test]
    fn overrides_add_store_specific_names() {
        let m = FieldMap::with_overrides([("price", "PrecioOferta"), ("title", "desc")]).unwrap();
        assert_eq!(m.resolve("precioOferta"), Some(Field::Price));
        assert_eq!(m.resolve("desc"), Some(Field::Title));
        assert!(FieldMap::with_overrides([("precio_x", "a")]).is_err());
    }
}
