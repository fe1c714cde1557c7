//! Users and their preferences: the body a client sends, and the pages it gets back.

use preciso_core::query::User;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};

/// A visible character somewhere, no control characters anywhere (`char::is_control`): what
/// `routes::users::validate` checks of names and preference entries (the name's attribute
/// spells it out: a derive takes a literal).
const TEXT_PATTERN: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$";

/// A user as sent: name, e-mail and optional preferences.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: String,
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[serde(default)]
    pub preferences: PreferencesInput,
}

/// Preferences as sent: store names or slugs, brands, category names or keys, a budget.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PreferencesInput {
    #[schema(schema_with = entries)]
    pub stores: Vec<String>,
    #[schema(schema_with = entries)]
    pub brands: Vec<String>,
    #[schema(schema_with = entries)]
    pub categories: Vec<String>,
    /// Maximum price in whole major units. Read as a JSON number so `270.0`, which JSON Schema
    /// calls an integer, is one here too; validation checks it is whole and in range.
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 100_000_000_000_i64)]
    pub budget: Option<f64>,
}

/// At most 50 entries of 1–100 characters with something visible.
fn entries() -> ArrayBuilder {
    let text = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(100))
        .pattern(Some(TEXT_PATTERN));
    ArrayBuilder::new().items(text).max_items(Some(50))
}

/// A page of users.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<User>,
    pub page: u32,
    pub limit: u32,
    pub total: u64,
}
