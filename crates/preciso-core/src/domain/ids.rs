//! Identifiers. Store ids are human slugs; offer and product ids are 64-bit values derived
//! from content (see `crate::hash`), shown as 16 hex digits so that JavaScript clients never
//! round them.

use super::slugify;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("store id is empty after normalization")]
    EmptyStore,
    #[error("store id is longer than 64 characters")]
    LongStore,
    #[error("id {0:?} is not 16 hexadecimal digits")]
    BadHex(String),
}

/// A store slug: lowercase ASCII letters, digits and `-`, 1–64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct StoreId(String);

impl StoreId {
    /// Slugifies a scraped store name or id ("Éxito" → "exito").
    pub fn parse(input: &str) -> Result<Self, IdError> {
        let slug = slugify(input);
        if slug.is_empty() {
            Err(IdError::EmptyStore)
        } else if slug.len() > 64 {
            Err(IdError::LongStore)
        } else {
            Ok(StoreId(slug))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which store a scraped store name means. A store is known by its slug, its name and its
/// aliases; each is compared as a slug, so case, accents, spaces and punctuation do not
/// matter ("Falabella Colombia", "falabella_colombia", "FALABELLA COLOMBIA" are one name).
/// Only exact matches resolve: a name that is no store's stays its own slug.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreAliases(rustc_hash::FxHashMap<String, StoreId>);

/// A name claimed by two stores.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the name {name:?} is claimed by both {first} and {second}")]
pub struct AliasConflict {
    pub name: String,
    pub first: StoreId,
    pub second: StoreId,
}

impl StoreAliases {
    /// Makes `name` mean `store`. A name that is empty as a slug is ignored; one that already
    /// means another store is a conflict.
    pub fn insert(&mut self, name: &str, store: &StoreId) -> Result<(), AliasConflict> {
        let Ok(slug) = StoreId::parse(name) else { return Ok(()) };
        match self.0.get(slug.as_str()) {
            Some(known) if known != store => Err(AliasConflict {
                name: name.to_string(),
                first: known.clone(),
                second: store.clone(),
            }),
            _ => {
                self.0.insert(slug.0, store.clone());
                Ok(())
            }
        }
    }

    /// Makes `name` mean `store`, whatever it meant before.
    pub fn set(&mut self, name: &str, store: &StoreId) {
        if let Ok(slug) = StoreId::parse(name) {
            self.0.insert(slug.0, store.clone());
        }
    }

    /// These aliases, with `over` winning where both name a store.
    pub fn overridden_by(&self, over: &StoreAliases) -> StoreAliases {
        let mut merged = self.clone();
        merged.0.extend(over.0.iter().map(|(k, v)| (k.clone(), v.clone())));
        merged
    }

    /// The store a parsed store id names: its alias target, else itself.
    pub fn resolve(&self, id: StoreId) -> StoreId {
        match self.0.get(id.as_str()) {
            Some(store) => store.clone(),
            None => id,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Parses each distinct stored store id once. Category-wide reads decode a store id per row
/// from a handful of distinct values; slugifying every one of them was a measurable part of
/// a price analysis.
#[derive(Default)]
pub struct StoreIdCache(rustc_hash::FxHashMap<String, StoreId>);

impl StoreIdCache {
    pub fn get(&mut self, raw: &str) -> Result<StoreId, IdError> {
        if let Some(id) = self.0.get(raw) {
            return Ok(id.clone());
        }
        let id = StoreId::parse(raw)?;
        self.0.insert(raw.to_string(), id.clone());
        Ok(id)
    }
}

impl fmt::Display for StoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! hex_id {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u64);

        impl $name {
            pub fn parse(input: &str) -> Result<Self, IdError> {
                if input.len() != 16 {
                    return Err(IdError::BadHex(input.to_string()));
                }
                u64::from_str_radix(input, 16)
                    .map($name)
                    .map_err(|_| IdError::BadHex(input.to_string()))
            }

            /// The value as SQL stores it (a signed 64-bit integer, same bits).
            pub fn as_i64(self) -> i64 {
                self.0 as i64
            }

            pub fn from_i64(v: i64) -> Self {
                $name(v as u64)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{:016x}", self.0)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}

hex_id!(OfferId, "One store's listing, derived from (store, SKU) or (store, canonical URL).");
hex_id!(ProductId, "The same item across stores, derived from its GTIN or brand + title.");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_ids_round_trip() {
        let id = OfferId(0xdead_beef_0000_0001);
        assert_eq!(id.to_string(), "deadbeef00000001");
        assert_eq!(OfferId::parse("deadbeef00000001").unwrap(), id);
        assert_eq!(OfferId::from_i64(id.as_i64()), id);
        assert!(OfferId::parse("xyz").is_err());
    }

    #[test]
    fn store_ids_are_slugs() {
        assert_eq!(StoreId::parse("Éxito").unwrap().as_str(), "exito");
        assert!(StoreId::parse("  !! ").is_err());
    }

    #[test]
    fn aliases_resolve_exact_names_in_any_case_or_accent() {
        let co = StoreId::parse("falabella-co").unwrap();
        let mut a = StoreAliases::default();
        a.insert("Falabella Colombia", &co).unwrap();
        a.insert("falabella-co", &co).unwrap();
        for name in ["Falabella Colombia", "FALABELLA  colombia", "falabella_colombia"] {
            assert_eq!(a.resolve(StoreId::parse(name).unwrap()), co, "{name}");
        }
        // No fuzzy guessing: a near name stays its own store.
        let near = StoreId::parse("Falabella Col").unwrap();
        assert_eq!(a.resolve(near.clone()), near);
        let other = StoreId::parse("jumbo-cl").unwrap();
        assert!(a.insert("Falabella Colombia", &other).is_err());
        assert!(a.insert("  !! ", &other).is_ok(), "an empty slug names nothing");
    }

    #[test]
    fn the_cache_answers_like_parse() {
        let mut cache = StoreIdCache::default();
        for raw in ["exito", "Éxito", "exito", "  !! ", "alkosto"] {
            assert_eq!(cache.get(raw), StoreId::parse(raw), "{raw:?}");
        }
    }
}
