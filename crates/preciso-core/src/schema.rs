//! OpenAPI schemas of the core's value types whose JSON form is not their Rust shape: ids are
//! hex or slug strings, a currency is an ISO 4217 code, a rating a number. Compiled with the
//! `openapi` feature (the HTTP crate's); the structs and enums derive theirs where they are
//! defined.

use crate::domain::{Currency, OfferId, ProductId, Rating, StoreId};
use std::borrow::Cow;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{RefOr, SchemaFormat};
use utoipa::{PartialSchema, ToSchema};

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).description(Some(description))
}

/// The 16 hexadecimal digits of an offer or product id.
const HEX_ID: &str = "^[0-9a-f]{16}$";

macro_rules! string_schema {
    ($ty:ty, $name:literal, $build:expr) => {
        impl PartialSchema for $ty {
            fn schema() -> RefOr<Schema> {
                let builder: ObjectBuilder = $build;
                RefOr::T(Schema::Object(builder.build()))
            }
        }
        impl ToSchema for $ty {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed($name)
            }
        }
    };
}

string_schema!(
    OfferId,
    "OfferId",
    string("One store's listing: 16 hexadecimal digits.").pattern(Some(HEX_ID))
);
string_schema!(
    ProductId,
    "ProductId",
    string("The same item across stores: 16 hexadecimal digits.").pattern(Some(HEX_ID))
);
string_schema!(
    StoreId,
    "StoreId",
    string("A store's slug: its name folded to ASCII letters, digits and hyphens.")
        .min_length(Some(1))
        .max_length(Some(64))
);
string_schema!(
    Currency,
    "Currency",
    string("ISO 4217 code.").enum_values(Some(Currency::all().map(Currency::code)))
);

impl PartialSchema for Rating {
    fn schema() -> RefOr<Schema> {
        let b = ObjectBuilder::new()
            .schema_type(Type::Number)
            .format(Some(SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Double)))
            .minimum(Some(0.0))
            .maximum(Some(5.0))
            .description(Some("Stars from 0 to 5, two decimals."));
        RefOr::T(Schema::Object(b.build()))
    }
}

impl ToSchema for Rating {}
