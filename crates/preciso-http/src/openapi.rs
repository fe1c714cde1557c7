//! The OpenAPI 3.1 document, generated: each operation from the `#[utoipa::path]` of the
//! handler the router registers (`routes::api`), each schema from the typed bodies of `model`.
//! This module holds what is not any one handler's: the title and description, the tags, the
//! security scheme, and the answers every operation can give (a bad parameter, a bad or
//! missing key, the rate limit, an internal error, an unavailable database), added to each
//! operation here so they are declared once.

use crate::model::error::ErrorBody;
use std::sync::OnceLock;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    Content, HeaderBuilder, OpenApi as Document, Ref, RefOr, Response, ResponseBuilder,
};
use utoipa::{Modify, OpenApi};

const DESCRIPTION: &str = "Preciso's price-comparison API. Money is an integer of minor units plus an ISO 4217 code \
and a display string. Errors are `{\"error\": {\"code\", \"message\", \"details\"}}` with the stable codes of the `ErrorCode` schema. \
Catalog reads are open unless the operator requires a `read` key; writes need a `write` key in `X-API-Key`; \
users and `user_id` personalization (personal data) need a `users` key; job triggers and operational detail \
(paths, error texts) an `admin` key. \
Money is listed, filtered and aggregated in one currency: `currency=`, else the catalog's default, else the \
scope's most common; answers name it (`currency`) and list the scope's currencies (`currencies`). \
Unknown query parameters are a `400` naming the parameter. \
Rate limit: per key or client IP (default 100/min; failed keys count against the IP), `429` with `Retry-After`. \
An unreachable database is a `503` with `Retry-After`. Trailing slashes are accepted. \
\n\n**Value score** (ranked offers, 0–100) = 40 × price factor + 20 × drop factor + 20 × rating factor + 10 × reviews factor + 10 × availability factor, where \
price factor = clamp(1.5 − price / category median, 0, 1) (median of the category in the same currency; 0.5 when unknown); \
drop factor = min(1, 2 × (previous price − price) / previous price) when the latest change lowered the price, else 0; \
rating factor = rating / 5 (0.5 when unrated); reviews factor = 1 for ≥1000 reviews, 0.75 for ≥100, 0.5 for ≥10, 0.25 for ≥1, else 0; \
availability factor = 1 in stock, 0.5 unknown, 0 out of stock.";

/// The parts of the document that are not an operation's.
#[derive(OpenApi)]
#[openapi(
    info(title = "Preciso API", description = DESCRIPTION),
    components(schemas(ErrorBody)),
    modifiers(&Security),
    tags(
        (name = "offers", description = "Best prices, ranked offers, trending drops, one offer and its history."),
        (name = "compare", description = "One product across stores."),
        (name = "reports", description = "Store comparison and category price statistics."),
        (name = "catalog", description = "Brands, categories and stores."),
        (name = "users", description = "Users and their preferences (personal data: a users key)."),
        (name = "ingest", description = "Uploads and the ingest ledger."),
        (name = "operations", description = "Jobs, runs and the status document."),
        (name = "forensic", description = "Data-quality analysis runs, their reports and the store score history."),
        (name = "probes", description = "Liveness, readiness, metrics and this document."),
    )
)]
pub(crate) struct ApiDoc;

/// The `X-API-Key` scheme; every operation may be called with or without a key (the scopes
/// an operation needs are in its description and its 401/403 answers).
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "ApiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
        doc.security = Some(vec![
            SecurityRequirement::default(),
            SecurityRequirement::new("ApiKey", Vec::<String>::new()),
        ]);
    }
}

/// The document: the router's operations, finished with the answers they all share.
pub fn document() -> &'static Document {
    static DOC: OnceLock<Document> = OnceLock::new();
    DOC.get_or_init(|| finish(crate::routes::api().into_openapi()))
}

/// Response properties the server may leave out (`skip_serializing_if`). Every other property
/// of a response schema is always sent — `null` when empty — so it is required: a generated
/// client then types it "value or null", not "maybe unset".
const MAY_BE_ABSENT: &[(&str, &str)] = &[
    ("StepReport", "error"),
    ("StepReport", "planned"),
    ("StatusDoc", "backups"),
    ("StatusDoc", "archive"),
];

/// Schemas whose properties keep utoipa's own `required` (only non-`Option`, non-default
/// fields): request bodies, where leaving a field out is the client's choice, and the error
/// details, whose fields each come with some errors only.
const OWN_REQUIRED: &[&str] = &[
    "UserInput",
    "PreferencesInput",
    "UploadForm",
    "RawFile",
    "ErrorDetails",
    "AnalysisRequest",
    "BatchRequest",
];

/// Marks every property of `schema` (and of the inline objects it composes) required but
/// those `MAY_BE_ABSENT` in `name`.
fn require_all(name: &str, schema: &mut serde_json::Value) {
    if let Some(props) = schema.get("properties").and_then(serde_json::Value::as_object) {
        let required: Vec<serde_json::Value> = props
            .keys()
            .filter(|p| !MAY_BE_ABSENT.contains(&(name, p.as_str())))
            .map(|p| serde_json::Value::String(p.clone()))
            .collect();
        schema["required"] = serde_json::Value::Array(required);
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(parts) = schema.get_mut(key).and_then(serde_json::Value::as_array_mut) {
            parts.iter_mut().for_each(|part| require_all(name, part));
        }
    }
}

/// The document as served: JSON, with `allowEmptyValue` on query parameters (a blank value
/// is read as absent, which forms send as `?brand=`; utoipa has no field for it) and response
/// properties required as `MAY_BE_ABSENT` says.
pub fn document_json() -> &'static serde_json::Value {
    static JSON: OnceLock<serde_json::Value> = OnceLock::new();
    JSON.get_or_init(|| {
        let mut doc = serde_json::to_value(document()).unwrap_or_default();
        let schemas =
            doc.pointer_mut("/components/schemas").and_then(serde_json::Value::as_object_mut);
        for (name, schema) in schemas.into_iter().flatten() {
            if !OWN_REQUIRED.contains(&name.as_str()) {
                require_all(name, schema);
            }
        }
        for item in doc["paths"].as_object_mut().into_iter().flat_map(|p| p.values_mut()) {
            for op in item.as_object_mut().into_iter().flat_map(|i| i.values_mut()) {
                // `get_mut`: indexing would insert `"parameters": null` where there are none.
                let params = op.get_mut("parameters").and_then(serde_json::Value::as_array_mut);
                for p in params.into_iter().flatten() {
                    if p["in"] == "query" {
                        p["allowEmptyValue"] = serde_json::Value::Bool(true);
                    }
                }
            }
        }
        doc
    })
}

/// `document_json` serialized once.
pub fn document_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| serde_json::to_vec(document_json()).unwrap_or_default())
}

fn error(description: &str) -> RefOr<Response> {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(Ref::from_schema_name("ErrorBody"))))
        .into()
}

/// An error answer with a `Retry-After` header.
fn retry_later(description: &str) -> RefOr<Response> {
    let seconds = HeaderBuilder::new()
        .schema(Some(
            utoipa::openapi::schema::ObjectBuilder::new()
                .schema_type(utoipa::openapi::Type::Integer),
        ))
        .description(Some("Seconds to wait (absent on timeouts)."))
        .build();
    ResponseBuilder::new()
        .description(description)
        .header("Retry-After", seconds)
        .content("application/json", Content::new(Some(Ref::from_schema_name("ErrorBody"))))
        .into()
}

/// Route templates name a catch-all `{*category}`; the document names it `{category}`. Then
/// each operation gets the shared answers it does not declare itself.
fn finish(mut doc: Document) -> Document {
    let paths = std::mem::take(&mut doc.paths.paths);
    for (path, mut item) in paths {
        let probe = !path.starts_with("/api/") || path == "/api/openapi.json";
        for op in [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch]
            .into_iter()
            .flatten()
        {
            shared_answers(op, probe);
        }
        doc.paths.paths.insert(path.replace("{*", "{"), item);
    }
    doc
}

fn shared_answers(op: &mut Operation, probe: bool) {
    let answers = &mut op.responses.responses;
    let mut add = |code: &str, response: RefOr<Response>| {
        answers.entry(code.to_string()).or_insert(response);
    };
    let unavailable = if probe {
        add(
            "400",
            error("A query parameter this endpoint does not take; `details.parameter` names it."),
        );
        "The request outlived its time budget (`timeout`)."
    } else {
        add(
            "400",
            error("A query or path parameter is unknown or invalid; `details.parameter` names it."),
        );
        add(
            "401",
            error("Missing or invalid API key (invalid keys are refused even on open endpoints)."),
        );
        add(
            "429",
            retry_later("Rate limit exceeded (failed keys count against the client's address)."),
        );
        add("500", error("Internal error (details are logged, not returned)."));
        "The database is unreachable or busy (`unavailable`), or the request outlived its time budget (`timeout`)."
    };
    // Any operation can time out: a 503 it declares for its own reason gains the shared one.
    match answers.get_mut("503") {
        Some(RefOr::T(own)) => {
            own.description = format!("{} Or: {unavailable}", own.description);
            if let RefOr::T(shared) = retry_later(unavailable) {
                own.headers.extend(shared.headers);
                for (media, content) in shared.content {
                    own.content.entry(media).or_insert(content);
                }
            }
        }
        _ => {
            answers.insert("503".into(), retry_later(unavailable));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// Responses whose schema is free-form on purpose: the document itself.
    const FREE_FORM: &[&str] = &["/api/openapi.json"];

    /// Every schema under `v` names its properties (or its values' schema) and its items.
    fn assert_typed(v: &Value, at: &str) {
        match v {
            Value::Object(m) => {
                let is = |t: &str| {
                    m.get("type").is_some_and(|x| {
                        x == t || x.as_array().is_some_and(|a| a.iter().any(|y| y == t))
                    })
                };
                if is("object") {
                    let named = m
                        .get("properties")
                        .is_some_and(|p| p.as_object().is_some_and(|p| !p.is_empty()))
                        || m.get("additionalProperties").is_some_and(Value::is_object);
                    assert!(named, "bare object schema at {at}: {v}");
                }
                if is("array") {
                    assert!(m.contains_key("items"), "array without items at {at}");
                }
                for (k, child) in m {
                    assert_typed(child, &format!("{at}/{k}"));
                }
            }
            Value::Array(a) => {
                a.iter().enumerate().for_each(|(i, c)| assert_typed(c, &format!("{at}/{i}")))
            }
            _ => {}
        }
    }

    #[test]
    fn every_operation_is_named_tagged_and_fully_typed() {
        let doc = super::document_json();
        let tags: Vec<&str> =
            doc["tags"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        let mut ids = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
                assert!(!id.contains('/') && !id.starts_with("get_api"), "{id}: not a chosen name");
                ids.push(id.to_string());
                let tag = op["tags"][0].as_str().unwrap_or_else(|| panic!("{id}: no tag"));
                assert!(tags.contains(&tag), "{id}: tag {tag} is not declared");
                for (code, response) in op["responses"].as_object().unwrap() {
                    if code == "204" {
                        continue;
                    }
                    let content = response["content"]
                        .as_object()
                        .unwrap_or_else(|| panic!("{id} {code}: no body"));
                    for (media, c) in content {
                        let schema = &c["schema"];
                        assert!(schema.is_object(), "{id} {code} {media}: no schema");
                        if !FREE_FORM.contains(&path.as_str()) {
                            assert_typed(schema, &format!("{id} {code} {media}"));
                        }
                    }
                }
            }
        }
        let count = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), count, "operationIds repeat");
        assert_typed(&doc["components"], "#/components");
        // Every reference resolves.
        let text = doc.to_string();
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            assert!(doc["components"]["schemas"].get(name).is_some(), "dangling $ref {name}");
        }
    }

    /// The schemas that keep their own `required` are exactly those of request bodies (and the
    /// error details): a new request type must be added to `OWN_REQUIRED`, a response type must
    /// not be.
    #[test]
    fn only_request_bodies_keep_optional_properties() {
        let doc = super::document_json();
        let mut requests = std::collections::BTreeSet::new();
        let mut pending: Vec<String> = Vec::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                let text = op["requestBody"].to_string();
                for part in text.split("#/components/schemas/").skip(1) {
                    pending.push(part[..part.find('"').unwrap()].to_string());
                }
            }
        }
        while let Some(name) = pending.pop() {
            if requests.insert(name.clone()) {
                let text = doc["components"]["schemas"][&name].to_string();
                for part in text.split("#/components/schemas/").skip(1) {
                    pending.push(part[..part.find('"').unwrap()].to_string());
                }
            }
        }
        let mut own: Vec<&str> = super::OWN_REQUIRED.to_vec();
        own.retain(|n| *n != "ErrorDetails");
        own.sort();
        assert_eq!(requests.iter().map(String::as_str).collect::<Vec<_>>(), own);
        let offer = &doc["components"]["schemas"]["Offer"]["required"];
        assert!(offer.as_array().unwrap().iter().any(|p| p == "brand"), "{offer}");
        let step = &doc["components"]["schemas"]["StepReport"]["required"];
        assert!(!step.as_array().unwrap().iter().any(|p| p == "error"), "{step}");
    }

    /// docs/status.schema.json (what `status.json` readers validate against) names the same
    /// properties as the `StatusDoc` schema generated from the type, at both levels.
    #[test]
    fn the_status_schema_file_matches_the_status_type() {
        let file: Value =
            serde_json::from_str(include_str!("../../../docs/status.schema.json")).unwrap();
        let schemas = &super::document_json()["components"]["schemas"];
        let names = |v: &Value| -> Vec<String> {
            let mut n: Vec<String> = v["properties"]
                .as_object()
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            n.sort();
            n
        };
        // The generated side of a property: its `$ref`d schema, through arrays and nullability.
        let resolve = |v: &Value| -> Value {
            let text = v.to_string();
            match text.split("#/components/schemas/").nth(1) {
                Some(rest) => schemas[&rest[..rest.find('"').unwrap()]].clone(),
                None => Value::Null,
            }
        };
        let doc = &schemas["StatusDoc"];
        assert_eq!(names(&file), names(doc));
        for (name, prop) in file["properties"].as_object().unwrap() {
            let nested = prop
                .get("properties")
                .map(|_| prop.clone())
                .or_else(|| prop["items"].get("properties").map(|_| prop["items"].clone()))
                .or_else(|| {
                    prop["oneOf"]
                        .as_array()?
                        .iter()
                        .find(|p| p.get("properties").is_some())
                        .cloned()
                });
            if let Some(nested) = nested {
                assert_eq!(names(&nested), names(&resolve(&doc["properties"][name])), "{name}");
            }
        }
    }

    #[test]
    fn item_schemas_name_their_fields_with_types_and_nullability() {
        let s = &super::document_json()["components"]["schemas"];
        let offer = &s["Offer"]["properties"];
        assert_eq!(offer["price"]["$ref"], "#/components/schemas/Money");
        assert_eq!(offer["brand"]["type"], serde_json::json!(["string", "null"]));
        assert_eq!(offer["availability"]["$ref"], "#/components/schemas/Availability");
        assert_eq!(
            s["Availability"]["enum"],
            serde_json::json!(["in_stock", "out_of_stock", "unknown"])
        );
        assert_eq!(s["OfferId"]["pattern"], "^[0-9a-f]{16}$");
        assert!(s["Currency"]["enum"].as_array().unwrap().iter().any(|c| c == "COP"));
        let report = &s["IngestReport"]["properties"];
        assert_eq!(report["status"]["$ref"], "#/components/schemas/ReportStatus");
        assert_eq!(report["counts"]["$ref"], "#/components/schemas/IngestCounts");
        assert_eq!(s["ErrorInfo"]["properties"]["code"]["$ref"], "#/components/schemas/ErrorCode");
    }
}
