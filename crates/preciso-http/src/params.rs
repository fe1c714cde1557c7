//! Query and path parameters: their declarations (the `IntoParams` structs at the end, which
//! the operations in `routes/` name and the OpenAPI document is generated from) and their
//! parsing, with errors that name the parameter. The parameters each operation knows are the
//! ones its generated description declares (one source for the document, the server and the
//! fuzzers that read it); any other is a 400 naming it — a typo is caught, and `?junk=N`
//! cannot mint new cache entries. Known ones are validated and bounded (docs/API.md).

use crate::error::{ApiError, ApiResult};
use axum::http::Method;
use preciso_core::domain::{StoreId, category_key};
use preciso_core::query::{Decimal, OfferFilter, PageRequest, Sort};
use std::collections::HashMap;
use std::sync::OnceLock;

/// (method, path template) → the query parameters the operation declares.
type Known = HashMap<(String, String), Vec<String>>;

fn known() -> &'static Known {
    static KNOWN: OnceLock<Known> = OnceLock::new();
    KNOWN.get_or_init(|| {
        let doc = serde_json::to_value(crate::openapi::document()).unwrap_or_default();
        let mut out = Known::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                let names = op["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| p["in"] == "query")
                    .filter_map(|p| p["name"].as_str().map(str::to_string))
                    .collect();
                out.insert((method.to_ascii_uppercase(), path.clone()), names);
            }
        }
        out
    })
}

/// The OpenAPI path of a route template: `{*rest}` is `{rest}`, no trailing slash.
pub fn openapi_path(route: &str) -> String {
    let path = route.replace("{*", "{");
    match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p.to_string(),
        _ => path,
    }
}

/// 400 for the first query parameter the operation does not declare. Routes the document
/// does not describe accept none; a method the path does not have is left to the router's
/// 405.
pub fn check_known(method: &Method, route: &str, query: Option<&str>) -> ApiResult<()> {
    let Some(query) = query.filter(|q| !q.is_empty()) else { return Ok(()) };
    let method = if method == Method::HEAD { "GET" } else { method.as_str() };
    let path = openapi_path(route);
    let allowed = known().get(&(method.to_string(), path.clone()));
    if allowed.is_none() && known().keys().any(|(_, p)| *p == path) {
        return Ok(());
    }
    for (name, _) in form_urlencoded::parse(query.as_bytes()) {
        if !allowed.is_some_and(|a| a.iter().any(|k| *k == name)) {
            let list = allowed.filter(|a| !a.is_empty()).map_or("none".into(), |a| a.join(", "));
            return Err(ApiError::bad(
                &name,
                format!("unknown query parameter {name:?}; this endpoint takes: {list}"),
            ));
        }
    }
    Ok(())
}

/// Whether the catalog has offers in the category `key` or below it (the market summary's
/// category counts): an empty listing of a known category is a 200, of an unknown one a 404.
pub fn category_known(c: &dyn preciso_core::ports::Catalog, key: &str) -> ApiResult<bool> {
    let below = format!("{key}/");
    Ok(c.categories()?.iter().any(|k| k.key == key || k.key.starts_with(&below)))
}

/// The category key a `{category}` path names; 404 when it names none (no letter or digit).
pub fn category_path(category: &str) -> ApiResult<String> {
    let key = category_key(category);
    if key.is_empty() {
        return Err(ApiError::NotFound(format!("no category {category:?} (see /api/categories)")));
    }
    Ok(key)
}

/// The query string in a canonical form: pairs sorted by name, the last value of a repeated
/// name (what `Params` reads), blank values dropped (`Params` reads them as absent).
pub fn canonical_query(query: Option<&str>) -> String {
    let pairs: HashMap<String, String> =
        form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect();
    let mut pairs: Vec<(String, String)> =
        pairs.into_iter().filter(|(_, v)| !v.trim().is_empty()).collect();
    pairs.sort();
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// The query string as a map; the last value of a repeated key wins.
#[derive(Debug, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Params(pairs.into_iter().collect())
    }

    /// A non-blank value, trimmed.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    /// The value of a parameter with a format (a number, a code, a flag): absent when empty
    /// (`?limit=`, which the document allows), a 400 when it is only whitespace, which no
    /// format accepts; else trimmed.
    pub fn typed(&self, name: &str) -> ApiResult<Option<&str>> {
        match self.0.get(name) {
            None => Ok(None),
            Some(raw) if raw.is_empty() => Ok(None),
            Some(raw) if raw.trim().is_empty() => {
                Err(ApiError::bad(name, format!("{name} must not be blank")))
            }
            Some(raw) => Ok(Some(raw.trim())),
        }
    }

    pub fn int(&self, name: &str, min: i64, max: i64) -> ApiResult<Option<i64>> {
        let Some(raw) = self.typed(name)? else { return Ok(None) };
        let v: i64 = raw
            .parse()
            .map_err(|_| ApiError::bad(name, format!("{name} must be an integer, got {raw:?}")))?;
        if !(min..=max).contains(&v) {
            return Err(ApiError::bad(
                name,
                format!("{name} must be between {min} and {max}, got {v}"),
            ));
        }
        Ok(Some(v))
    }

    pub fn page(&self) -> ApiResult<PageRequest> {
        let limit = self.int("limit", 1, i64::from(PageRequest::MAX_LIMIT))?;
        let page = self.int("page", 1, 10_000)?;
        Ok(PageRequest {
            page: page.unwrap_or(1) as u32,
            limit: limit.map_or(PageRequest::DEFAULT_LIMIT, |l| l as u32),
        })
    }

    pub fn sort(&self, default: Sort) -> ApiResult<Sort> {
        match self.typed("sort")? {
            None => Ok(default),
            Some(s) => Sort::parse(s).ok_or_else(|| {
                ApiError::bad(
                    "sort",
                    format!("sort must be one of {}, got {s:?}", Sort::NAMES.join(", ")),
                )
            }),
        }
    }

    fn price(&self, name: &str) -> ApiResult<Option<Decimal>> {
        let Some(raw) = self.typed(name)? else { return Ok(None) };
        Decimal::parse(raw).map(Some).ok_or_else(|| {
            ApiError::bad(
                name,
                format!("{name} must be a non-negative decimal number of major units, got {raw:?}"),
            )
        })
    }

    pub fn user_id(&self) -> ApiResult<Option<i64>> {
        self.int("user_id", 1, i64::MAX)
    }

    /// The shared listing filters: category, brand, store, min_price, max_price.
    pub fn filter(&self) -> ApiResult<OfferFilter> {
        // A store or category spelled with no letter or digit names nothing: an empty answer,
        // as for a store that does not exist.
        let store = self.str("store").map(StoreId::parse);
        let category = self.str("category").map(category_key);
        let unmatched =
            matches!(store, Some(Err(_))) || category.as_ref().is_some_and(String::is_empty);
        let (min_price, max_price) = (self.price("min_price")?, self.price("max_price")?);
        if let (Some(lo), Some(hi)) = (min_price, max_price)
            && lo.mantissa as f64 / 10f64.powi(lo.scale as i32)
                > hi.mantissa as f64 / 10f64.powi(hi.scale as i32)
        {
            return Err(ApiError::bad("min_price", "min_price must not exceed max_price"));
        }
        Ok(OfferFilter {
            currency: crate::currency::requested(self)?,
            category: category.filter(|k| !k.is_empty()),
            brand: self.str("brand").map(str::to_string),
            store: store.and_then(Result::ok),
            min_price,
            max_price,
            product: None,
            unmatched,
        })
    }

    /// A boolean flag: `true`/`1` or `false`/`0`; absent is false.
    pub fn flag(&self, name: &str) -> ApiResult<bool> {
        match self.typed(name)? {
            None | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(v) => Err(ApiError::bad(name, format!("{name} must be true or false, got {v:?}"))),
        }
    }
}

// The declarations. They describe what `Params` reads (the structs are never built: a query
// string is parsed by `Params`, whose errors name the parameter); the bounds here are the
// ones its methods check.

/// `limit` and `page`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct Paging {
    /// Page size.
    #[param(minimum = 1, maximum = 100, default = 20)]
    limit: Option<u32>,
    /// 1-based page.
    #[param(minimum = 1, maximum = 10000, default = 1)]
    page: Option<u32>,
}

/// `currency`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CurrencyParam {
    /// The currency listed, filtered and aggregated (ISO 4217). Default: the catalog's
    /// (`catalog.currency`), else the one with the most offers in the scope. The answer says
    /// which it used (`currency`) and lists the scope's currencies (`currencies`).
    currency: Option<preciso_core::domain::Currency>,
}

/// `user_id`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct UserParam {
    /// Personalize with this user's preferences (404 if unknown; a key with the users scope).
    #[param(minimum = 1, format = Int64)]
    user_id: Option<i64>,
}

/// The listing filters besides the category. Prices are decimal amounts of major units, as
/// `Decimal::parse` reads them.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct Filters {
    /// Brand, case-insensitive.
    brand: Option<String>,
    /// Store slug or name.
    store: Option<String>,
    /// Minimum price in major units of the listing's currency.
    #[param(pattern = "^([0-9]{1,12}(\\.[0-9]{0,6})?|\\.[0-9]{1,6})$")]
    min_price: Option<String>,
    /// Maximum price in major units of the listing's currency.
    #[param(pattern = "^([0-9]{1,12}(\\.[0-9]{0,6})?|\\.[0-9]{1,6})$")]
    max_price: Option<String>,
}

/// `category` as a query parameter.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CategoryParam {
    /// Category name or key; matches the category and its subcategories.
    category: Option<String>,
}

/// `{category}` in the path.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct CategoryPath {
    /// Category name (`Tecnología > Celulares`) or key (`tecnologia/celulares`).
    category: String,
}

/// `sort`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SortParam {
    /// Sort order (default `value`).
    #[param(schema_with = sort_schema)]
    sort: Option<String>,
}

fn sort_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(Sort::NAMES.iter().copied()))
        .build()
}

/// `q` and `sort` of a product search.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SearchQuery {
    /// Words the product's brand or title must all hold, each as a word prefix (case and
    /// accents ignored); a word of one character as a whole word. Empty or absent: every
    /// product.
    #[param(max_length = 200)]
    q: Option<String>,
    /// `price` (cheapest first, the default) or `-price` (dearest first; needs `q`).
    #[param(pattern = "^-?price$")]
    sort: Option<String>,
}

/// `days`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DaysParam {
    /// Window in days.
    #[param(minimum = 1, maximum = 90, default = 7)]
    days: Option<u32>,
}

/// `bins`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct BinsParam {
    /// Histogram bins.
    #[param(minimum = 1, maximum = 100, default = 10)]
    bins: Option<u32>,
}

/// `limit` of the brand list.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct BrandLimit {
    /// Number of brands.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u32>,
}

/// What names the product of a comparison (exactly one).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ProductLookup {
    /// Product id.
    #[param(pattern = "^[0-9a-f]{16}$")]
    product_id: Option<String>,
    /// GTIN/EAN/UPC.
    gtin: Option<String>,
    /// Words of the title or brand.
    #[param(max_length = 200)]
    q: Option<String>,
}

/// `{id}` of an offer.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct OfferIdPath {
    /// Offer id.
    #[param(pattern = "^[0-9a-f]{16}$")]
    id: String,
}

/// `{id}` of a user or a run.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct IdPath {
    /// The id.
    #[param(minimum = 1, format = Int64)]
    id: i64,
}

/// `{name}` of a job.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct JobPath {
    /// Job name (see `GET /api/jobs`).
    name: String,
}

/// `dry_run`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DryRun {
    /// Run the read steps only, report the planned writes, record nothing.
    #[param(default = false)]
    dry_run: Option<bool>,
}

/// The run filters.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RunQuery {
    /// Only this job.
    job: Option<String>,
    /// Only runs in this status.
    status: Option<preciso_core::runs::RunStatus>,
}

/// An upload's options.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct UploadQuery {
    /// File name for a raw body (decides the format by extension).
    name: Option<String>,
    /// Input format.
    format: Option<preciso_ingest::Format>,
    /// Store for records without one.
    store: Option<String>,
    /// Currency for stores without a known one (ISO 4217).
    currency: Option<String>,
    /// Report only; write nothing.
    #[param(default = false)]
    dry_run: Option<bool>,
    /// Ingest even if the same content was ingested.
    #[param(default = false)]
    force: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Params {
        Params::from_pairs(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect())
    }

    #[test]
    fn limits_are_bounded_and_errors_name_the_parameter() {
        assert_eq!(p(&[]).page().unwrap(), PageRequest { page: 1, limit: 20 });
        let e = p(&[("limit", "101")]).page().unwrap_err();
        assert!(matches!(e, ApiError::BadParameter { ref parameter, .. } if parameter == "limit"));
        assert!(p(&[("page", "0")]).page().is_err());
        assert!(p(&[("limit", "x")]).page().is_err());
        assert!(p(&[("sort", "best")]).sort(Sort::Price).is_err());
        assert_eq!(p(&[("sort", "-price")]).sort(Sort::Price).unwrap(), Sort::PriceDesc);
    }

    #[test]
    fn filters_parse_and_validate() {
        let f =
            p(&[("category", "Tecnología > Celulares"), ("min_price", "10.5"), ("store", "Éxito")])
                .filter()
                .unwrap();
        assert_eq!(f.category.as_deref(), Some("tecnologia/celulares"));
        assert_eq!(f.store.as_ref().unwrap().as_str(), "exito");
        assert!(p(&[("min_price", "-1")]).filter().is_err());
        assert!(p(&[("min_price", "10"), ("max_price", "5")]).filter().is_err());
        assert!(!f.unmatched);
        // Spellings that name no store or category match nothing rather than everything.
        assert!(p(&[("store", "***")]).filter().unwrap().unmatched);
        assert!(p(&[("category", " > / ")]).filter().unwrap().unmatched);
        assert!(!p(&[("store", " ")]).filter().unwrap().unmatched, "blank is absent");
    }

    #[test]
    fn flags_are_true_or_false() {
        assert!(p(&[("force", "true")]).flag("force").unwrap());
        assert!(!p(&[("force", "")]).flag("force").unwrap());
        // Empty is absent; whitespace is no boolean, number or code (the schema refuses it).
        assert!(p(&[("force", " ")]).flag("force").is_err());
        assert!(p(&[("limit", "\u{c}")]).page().is_err());
        assert_eq!(p(&[("limit", "")]).page().unwrap(), PageRequest { page: 1, limit: 20 });
        assert!(!p(&[]).flag("force").unwrap());
        assert!(p(&[("force", "-58800")]).flag("force").is_err());
    }
}

/// `{job_id}` of an analysis run.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct JobIdPath {
    /// The run's id (from `POST /api/forensic/analyze`).
    #[param(minimum = 1, format = Int64)]
    job_id: i64,
}

/// The export format.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ExportQuery {
    /// `json` (canonical, the default), `csv` (one row per example) or `html` (one
    /// self-contained page).
    #[param(pattern = "^(json|csv|html)$")]
    format: Option<String>,
}

/// The analysis-run filters.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AnalysisListQuery {
    /// Only runs in this status.
    status: Option<preciso_core::quality::runs::AnalysisStatus>,
}

/// The score-history filters.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ScoreQuery {
    /// Only this store (slug or name).
    store: Option<String>,
    /// Only analyses at or after this time (RFC 3339 or YYYY-MM-DD).
    since: Option<String>,
    /// The newest points at most.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<u32>,
}
