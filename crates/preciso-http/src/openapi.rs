//! The OpenAPI 3.1 document of the API, written out by hand so every status code and body a
//! client can receive is declared. A test checks that it lists exactly the router's routes.

use serde_json::{Value, json};

fn param(name: &str, location: &str, required: bool, schema: Value, description: &str) -> Value {
    json!({ "name": name, "in": location, "required": required, "schema": schema, "description": description })
}

/// An optional query parameter. A blank value counts as absent (forms send `?brand=`), which
/// `allowEmptyValue` declares.
fn q(name: &str, schema: Value, description: &str) -> Value {
    let mut p = param(name, "query", false, schema, description);
    p["allowEmptyValue"] = json!(true);
    p
}

/// A database id: a positive 64-bit integer.
fn id_schema() -> Value {
    json!({"type": "integer", "format": "int64", "minimum": 1, "maximum": i64::MAX})
}

/// A decimal amount of major units, as `Decimal::parse` reads it.
fn amount_schema() -> Value {
    json!({"type": "string", "pattern": "^([0-9]{1,12}(\\.[0-9]{0,6})?|\\.[0-9]{1,6})$"})
}

/// `currency`: the one currency a listing, filter or aggregate of money runs in.
fn currency_param() -> Value {
    let codes: Vec<&str> = preciso_core::domain::Currency::all().map(|c| c.code()).collect();
    q(
        "currency",
        json!({"type": "string", "enum": codes}),
        "The currency listed, filtered and aggregated (ISO 4217). Default: the catalog's \
         (`catalog.currency`), else the one with the most offers in the scope. The answer says \
         which it used (`currency`) and lists the scope's currencies (`currencies`).",
    )
}

fn listing_params() -> Vec<Value> {
    vec![
        currency_param(),
        q(
            "user_id",
            id_schema(),
            "Personalize with this user's preferences (404 if unknown; a key with the users scope).",
        ),
        q(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
            "Page size.",
        ),
        q(
            "page",
            json!({"type": "integer", "minimum": 1, "maximum": 10000, "default": 1}),
            "1-based page.",
        ),
        q(
            "category",
            json!({"type": "string"}),
            "Category name or key; matches the category and its subcategories.",
        ),
        q("brand", json!({"type": "string"}), "Brand, case-insensitive."),
        q("store", json!({"type": "string"}), "Store slug."),
        q("min_price", amount_schema(), "Minimum price in major units of the listing's currency."),
        q("max_price", amount_schema(), "Maximum price in major units of the listing's currency."),
    ]
}

fn sort_param() -> Value {
    q(
        "sort",
        json!({"type": "string", "enum": ["price", "-price", "rating", "date", "discount", "value"]}),
        "Sort order.",
    )
}

fn r(schema: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{schema}") })
}

fn ok(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

fn err(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": r("Error") } } })
}

/// Responses every API endpoint can give, plus the endpoint's own.
fn responses(own: Value, extra: &[(&str, &str)]) -> Value {
    let mut m = serde_json::Map::new();
    if let Value::Object(o) = own {
        m.extend(o);
    }
    for (code, d) in extra {
        m.insert((*code).to_string(), err(d));
    }
    m.entry("400").or_insert_with(|| {
        err("A query or path parameter is unknown or invalid; `details.parameter` names it.")
    });
    m.insert(
        "401".into(),
        err("Missing or invalid API key (invalid keys are refused even on open endpoints)."),
    );
    m.insert(
        "429".into(),
        retry_later("Rate limit exceeded (failed keys count against the client's address)."),
    );
    m.insert("500".into(), err("Internal error (details are logged, not returned)."));
    m.insert("503".into(), retry_later("The database is unreachable or busy (`unavailable`), or the request outlived its time budget (`timeout`)."));
    Value::Object(m)
}

/// An error answer with a `Retry-After` header.
fn retry_later(description: &str) -> Value {
    json!({
        "description": description,
        "headers": { "Retry-After": { "schema": { "type": "integer" }, "description": "Seconds to wait (absent on timeouts)." } },
        "content": { "application/json": { "schema": r("Error") } }
    })
}

/// What any endpoint, probes included, may also answer: a query parameter it does not take, a
/// request that outlived its time budget.
fn probe_responses(own: Value) -> Value {
    let mut m = match own {
        Value::Object(o) => o,
        _ => serde_json::Map::new(),
    };
    m.insert(
        "400".into(),
        err("A query parameter this endpoint does not take; `details.parameter` names it."),
    );
    m.insert("503".into(), retry_later("The request outlived its time budget (`timeout`)."));
    Value::Object(m)
}

fn get(summary: &str, params: Vec<Value>, own: Value, extra: &[(&str, &str)]) -> Value {
    json!({ "summary": summary, "parameters": params, "responses": responses(own, extra) })
}

fn user_body() -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": r("UserInput") } } })
}

fn write_errors() -> Vec<(&'static str, &'static str)> {
    vec![
        ("400", "Body is not JSON, or a parameter is invalid."),
        ("403", "The API key lacks the users scope."),
        ("409", "A user with this e-mail already exists."),
        ("413", "Body too large."),
        ("415", "Content-Type is not application/json."),
        ("422", "Body does not match the schema or fails validation."),
    ]
}

fn paths() -> Value {
    let bad = ("400", "A query parameter is invalid; `details.parameter` names it.");
    let users_scope =
        ("403", "The API key lacks the users scope (users and personalization are personal data).");
    let id_param = |d: &str| {
        param("id", "path", true, json!({"type": "string", "pattern": "^[0-9a-f]{16}$"}), d)
    };
    let user_id = param("id", "path", true, id_schema(), "User id.");
    let category = param(
        "category",
        "path",
        true,
        json!({"type": "string"}),
        "Category name (`Tecnología > Celulares`) or key (`tecnologia/celulares`).",
    );
    let mut best = listing_params();
    best.retain(|p| p["name"] != "category");
    let mut analysis = vec![category.clone(), currency_param()];
    analysis.push(q(
        "bins",
        json!({"type": "integer", "minimum": 1, "maximum": 100, "default": 10}),
        "Histogram bins.",
    ));
    let mut ranked = listing_params();
    ranked.push(sort_param());
    let mut trending = listing_params();
    trending.retain(|p| p["name"] != "user_id");
    trending.push(q(
        "days",
        json!({"type": "integer", "minimum": 1, "maximum": 90, "default": 7}),
        "Window in days.",
    ));
    let paging = vec![
        q(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": 100, "default": 20}),
            "Page size.",
        ),
        q(
            "page",
            json!({"type": "integer", "minimum": 1, "maximum": 10000, "default": 1}),
            "1-based page.",
        ),
    ];
    let upload_params = vec![
        q(
            "name",
            json!({"type": "string"}),
            "File name for a raw body (decides the format by extension).",
        ),
        q("format", json!({"type": "string", "enum": ["json", "jsonl", "csv"]}), "Input format."),
        q("store", json!({"type": "string"}), "Store for records without one."),
        q(
            "currency",
            json!({"type": "string"}),
            "Currency for stores without a known one (ISO 4217).",
        ),
        q("dry_run", json!({"type": "boolean", "default": false}), "Report only; write nothing."),
        q(
            "force",
            json!({"type": "boolean", "default": false}),
            "Ingest even if the same content was ingested.",
        ),
    ];
    let mut best_with_path = vec![category];
    best_with_path.extend(best);
    json!({
        "/api/best-prices/{category}": { "get": get("Cheapest current offer per product in a category, personalized by user_id", best_with_path, json!({"200": ok("A page of best offers.", r("BestOfferPage"))}), &[bad, users_scope, ("404", "Unknown category or user.")]) },
        "/api/price-comparison": { "get": get("One product across stores (exactly one of product_id, gtin, q)", vec![
            q("product_id", json!({"type": "string", "pattern": "^[0-9a-f]{16}$"}), "Product id."),
            q("gtin", json!({"type": "string"}), "GTIN/EAN/UPC."),
            q("q", json!({"type": "string", "maxLength": 200}), "Words of the title or brand."),
            currency_param(),
        ], json!({"200": ok("The product, its offers in one currency cheapest first, their spread, and the currencies it is sold in.", r("Comparison"))}), &[bad, ("404", "No product matches.")]) },
        "/api/ranked-offers": { "get": get("Offers ranked by value score (see description)", ranked, json!({"200": ok("A page of scored offers.", r("ScoredOfferPage"))}), &[bad, users_scope, ("404", "Unknown user.")]) },
        "/api/trending-offers": { "get": get("Largest real price drops over `days`", trending, json!({"200": ok("A page of drops.", r("TrendingPage"))}), &[bad]) },
        "/api/reports/store-comparison": { "get": get("Per-store report in one currency: offers, categories, price index, cheapest share, freshness", vec![currency_param()], json!({"200": ok("The report.", r("StoreComparison"))}), &[bad]) },
        "/api/reports/price-analysis/{category}": { "get": get("Price statistics of a category in one currency", analysis, json!({"200": ok("Statistics, histogram, per-brand and per-store breakdown.", r("PriceAnalysis"))}), &[bad, ("404", "No offers in the category.")]) },
        "/api/users": {
            "get": get("List users (a key with the users or admin scope)", paging.clone(), json!({"200": ok("A page of users.", r("UserPage"))}), &[bad, users_scope]),
            "post": { "summary": "Create a user", "requestBody": user_body(), "responses": responses(json!({"201": ok("The user.", r("User"))}), &write_errors()) }
        },
        "/api/users/create": { "post": { "summary": "Create a user (legacy path)", "requestBody": user_body(), "responses": responses(json!({"201": ok("The user.", r("User"))}), &write_errors()) } },
        "/api/users/{id}": {
            "get": get("A user", vec![user_id.clone()], json!({"200": ok("The user.", r("User"))}), &[("400", "Bad id."), users_scope, ("404", "No such user.")]),
            "put": { "summary": "Replace a user's name, e-mail and preferences", "parameters": [user_id.clone()], "requestBody": user_body(),
                     "responses": responses(json!({"200": ok("The user.", r("User"))}), &[write_errors(), vec![("404", "No such user.")]].concat()) },
            "delete": { "summary": "Delete a user", "parameters": [user_id], "responses": responses(json!({"204": {"description": "Deleted."}}), &[("400", "Bad id."), users_scope, ("404", "No such user.")]) }
        },
        "/api/brands": { "get": get("Brands with offer and product counts", vec![q("limit", json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}), "Number of brands.")], json!({"200": ok("Brands, most offers first.", r("ItemList"))}), &[bad]) },
        "/api/categories": { "get": get("Categories with their keys and offer counts", vec![], json!({"200": ok("Categories.", r("ItemList"))}), &[]) },
        "/api/stores": { "get": get("Stores with offer counts", vec![], json!({"200": ok("Stores.", r("ItemList"))}), &[]) },
        "/api/offers/{id}": { "get": get("One offer", vec![id_param("Offer id.")], json!({"200": ok("The offer.", r("Offer"))}), &[("400", "Bad id."), ("404", "No such offer.")]) },
        "/api/offers/{id}/history": { "get": get("An offer's price history", vec![id_param("Offer id.")], json!({"200": ok("The offer and its history, oldest first.", r("OfferHistory"))}), &[("400", "Bad id."), ("404", "No such offer.")]) },
        "/api/archivos": {
            "get": get("The ingest ledger, newest first", paging.clone(), json!({"200": ok("Ledger rows.", r("ItemList"))}), &[bad]),
            "post": {
                "summary": "Upload a data file (multipart field `file`, or the raw body) and ingest it",
                "parameters": upload_params,
                "requestBody": { "required": true, "content": {
                    "multipart/form-data": { "schema": { "type": "object", "properties": { "file": { "type": "string", "format": "binary" } }, "required": ["file"] } },
                    "application/octet-stream": { "schema": { "description": "The file's bytes; the format from `format`, `name` or sniffing." } },
                    "application/json": { "schema": { "description": "A JSON array of records, or JSON Lines. Bad records are rejected one by one (see the summary); a body with no record of offer data is a 422." } },
                    "application/x-ndjson": { "schema": { "description": "JSON Lines." } },
                    "text/csv": { "schema": { "description": "CSV with a header row." } }
                } },
                "responses": responses(json!({
                    "201": ok("Ingested: the summary.", r("IngestReport")),
                    "200": ok("Skipped (same content) or dry run: the summary.", r("IngestReport"))
                }), &[("400", "Bad parameter or empty/malformed body."), ("403", "The API key lacks the write scope."), ("413", "Upload too large."),
                      ("422", "The body is not a data file of offers (`details.reason`: `not_offer_data`).")])
            }
        },
        "/api/jobs": { "get": get("Scheduled jobs with their policies and next 3 fire times", vec![], json!({"200": ok("Jobs.", r("JobList"))}), &[("503", "No scheduler in this process.")]) },
        "/api/jobs/{name}/run": { "post": {
            "summary": "Run a job now (admin key); same overlap rule as scheduled fires",
            "parameters": [
                param("name", "path", true, json!({"type": "string"}), "Job name: ingest, ingest-full, status."),
                q("dry_run", json!({"type": "boolean", "default": false}), "Run the read steps only, report the planned writes, record nothing.")
            ],
            "responses": responses(json!({
                "202": ok("Started: the run id.", r("Triggered")),
                "200": ok("Dry run: what it would do.", r("Triggered"))
            }), &[("400", "Bad parameter."), ("403", "The API key lacks the admin scope."), ("404", "No such job."),
                  ("409", "The job has an active run; `details.run_id` is the skipped_overlap record."), ("503", "No scheduler in this process.")])
        } },
        "/api/runs": { "get": get("Job runs, newest first", {
            let mut p = paging.clone();
            p.push(q("job", json!({"type": "string"}), "Only this job."));
            p.push(q("status", json!({"type": "string", "enum": ["running", "retry_wait", "succeeded", "failed", "timed_out", "skipped_overlap", "abandoned", "cancelled", "replaced"]}), "Only runs in this status."));
            p
        }, json!({"200": ok("Runs.", r("RunPage"))}), &[bad, ("503", "No scheduler in this process.")]) },
        "/api/runs/{id}": { "get": get("One run with every attempt and step",
            vec![param("id", "path", true, id_schema(), "Run id.")],
            json!({"200": ok("The run.", r("Run"))}), &[bad, ("404", "No such run."), ("503", "No scheduler in this process.")]) },
        "/api/status": { "get": get("The status document (as status.json; schema docs/status.schema.json)", vec![],
            json!({"200": ok("Status.", r("Status"))}), &[("503", "No scheduler in this process.")]) },
        "/api/openapi.json": { "get": { "summary": "This document", "responses": probe_responses(json!({ "200": { "description": "OpenAPI document.", "content": { "application/json": { "schema": { "type": "object" } } } } })) } },
        "/health": { "get": { "summary": "Liveness (touches nothing external)", "responses": probe_responses(json!({ "200": { "description": "Alive.", "content": { "application/health+json": { "schema": r("Health") } } } })) } },
        "/ready": { "get": { "summary": "Readiness: the database answers within 1 s (Redis, when used, is a degraded check: `warn`, still 200); error texts for admin keys only", "responses": {
            "200": { "description": "Ready (status pass or warn).", "content": { "application/health+json": { "schema": r("Health") } } },
            "400": err("A query parameter this endpoint does not take."),
            "401": err("An invalid API key."),
            "429": retry_later("Too many invalid API keys from this address."),
            "503": { "description": "Not ready, or the request outlived its time budget.", "content": {
                "application/health+json": { "schema": r("Health") }, "application/json": { "schema": r("Error") } } } } } },
        "/metrics": { "get": { "summary": "Prometheus metrics", "responses": probe_responses(json!({ "200": { "description": "Text exposition format.", "content": { "text/plain": { "schema": { "type": "string" } } } } })) } }
    })
}

/// A visible character somewhere, no control characters anywhere (`char::is_control`).
const TEXT_PATTERN: &str = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$";

fn schemas() -> Value {
    let money = json!({ "type": "object", "required": ["minor", "currency", "display"], "properties": {
        "minor": { "type": "integer", "description": "Integer amount in the currency's minor unit." },
        "currency": { "type": "string", "description": "ISO 4217 code." },
        "display": { "type": "string", "description": "Formatted in the currency's convention, e.g. `COP 2.349.900,00`." } } });
    let nullable_money = json!({ "oneOf": [r("Money"), { "type": "null" }] });
    let offer = json!({ "type": "object", "required": ["id", "store", "product_id", "title", "price", "availability"], "properties": {
        "id": { "type": "string" }, "store": { "type": "string" }, "product_id": { "type": "string" },
        "sku": { "type": ["string", "null"] }, "title": { "type": "string" }, "brand": { "type": ["string", "null"] },
        "category": { "type": ["string", "null"] }, "gtin": { "type": ["string", "null"] }, "url": { "type": ["string", "null"] },
        "image_url": { "type": ["string", "null"] }, "price": r("Money"), "list_price": nullable_money.clone(), "previous_price": nullable_money,
        "availability": { "type": "string", "enum": ["in_stock", "out_of_stock", "unknown"] },
        "rating": { "type": ["number", "null"] }, "review_count": { "type": ["integer", "null"] },
        "first_seen": { "type": "integer" }, "last_seen": { "type": "integer" }, "price_changed_at": { "type": "integer" },
        "discount_pct": { "type": "number" } } });
    let page = |item: Value| {
        json!({ "type": "object", "required": ["items", "page", "limit", "total", "currency", "currencies"], "properties": {
        "items": { "type": "array", "items": item }, "page": { "type": "integer" }, "limit": { "type": "integer" }, "total": { "type": "integer" },
        "currency": r("ListingCurrency"), "currencies": r("ScopeCurrencies") } })
    };
    // Text with a visible character and no control characters (what `users::validate` checks).
    let text = |max: u32| json!({ "type": "string", "minLength": 1, "maxLength": max, "pattern": TEXT_PATTERN });
    let entries = json!({ "type": "array", "items": text(100), "maxItems": 50 });
    let prefs = json!({ "type": "object", "additionalProperties": false, "properties": {
        "stores": entries.clone(), "brands": entries.clone(), "categories": entries,
        "budget": { "type": ["integer", "null"], "minimum": 0, "maximum": preciso_core::domain::Money::MAX_MINOR, "description": "Maximum price in whole major units." } } });
    json!({
        "Error": { "type": "object", "required": ["error"], "properties": { "error": { "type": "object", "required": ["code", "message", "details"], "properties": {
            "code": { "type": "string", "enum": ["bad_parameter", "not_found", "conflict", "payload_too_large", "unsupported_media_type", "unprocessable", "unauthorized", "forbidden", "rate_limited", "method_not_allowed", "unavailable", "timeout", "internal"] },
            "message": { "type": "string" }, "details": {} } } } },
        "Money": money,
        "Offer": offer,
        "BestOfferPage": page(json!({ "allOf": [r("Offer"), { "type": "object", "properties": { "offers_for_product": { "type": "integer" }, "preferred": { "type": "boolean" } } }] })),
        "ScoredOfferPage": page(json!({ "allOf": [r("Offer"), { "type": "object", "properties": { "value_score": { "type": "number" }, "category_median": { "oneOf": [r("Money"), { "type": "null" }] } } }] })),
        "TrendingPage": page(json!({ "allOf": [r("Offer"), { "type": "object", "properties": { "reference_price": r("Money"), "drop_pct": { "type": "number" }, "dropped_at": { "type": "integer" } } }] })),
        "ListingCurrency": { "type": ["string", "null"], "description": "The one currency the answer lists, filters and aggregates (null: none in scope, or trending drops across currencies)." },
        "ScopeCurrencies": { "type": "array", "description": "The currencies of the scope, most offers first.", "items": { "type": "object", "required": ["currency", "offers", "products"], "properties": {
            "currency": { "type": "string" }, "offers": { "type": "integer", "description": "Offers in stock or of unknown stock." }, "products": { "type": "integer" } } } },
        "Comparison": { "type": "object", "required": ["product", "offers", "spread", "stores", "currency", "currencies"], "properties": {
            "currency": r("ListingCurrency"), "currencies": r("ScopeCurrencies"),
            "product": { "type": "object" }, "stores": { "type": "integer" }, "spread": { "type": "array", "items": { "type": "object" } },
            "offers": { "type": "array", "items": r("Offer") }, "matches": { "type": "array", "items": { "type": "object" } } } },
        "StoreComparison": { "type": "object", "required": ["stores", "currency", "currencies"], "properties": { "currency": r("ListingCurrency"), "currencies": r("ScopeCurrencies"), "generated_at": { "type": "integer" }, "price_index_definition": { "type": "string" }, "stores": { "type": "array", "items": { "type": "object" } } } },
        "PriceAnalysis": { "type": "object", "required": ["category", "offers", "currency", "currencies"], "properties": { "category": { "type": "string" },
            "currency": r("ListingCurrency"), "currencies": r("ScopeCurrencies"), "offers": { "type": "integer", "description": "Offers of the category in `currency`." },
            "stats": { "type": ["object", "null"], "description": "null when the category has no offers in `currency`." }, "histogram": { "type": "array", "items": { "type": "object" } },
            "by_brand": { "type": "array", "items": { "type": "object" } }, "by_store": { "type": "array", "items": { "type": "object" } } } },
        "Preferences": prefs,
        "StoredPreferences": { "type": "object", "description": "Preferences as kept: store slugs, brands, category keys.", "properties": {
            "stores": { "type": "array", "items": { "type": "string" } }, "brands": { "type": "array", "items": { "type": "string" } },
            "categories": { "type": "array", "items": { "type": "string" } }, "budget": { "type": ["integer", "null"] } } },
        "UserInput": { "type": "object", "required": ["name", "email"], "additionalProperties": false, "properties": {
            "name": text(200), "email": { "type": "string", "format": "email", "maxLength": 254 }, "preferences": r("Preferences") } },
    "User": { "type": "object", "required": ["id", "name", "email", "preferences"], "properties": {
            "id": { "type": "integer" }, "name": { "type": "string" }, "email": { "type": "string" }, "preferences": r("StoredPreferences"),
            "created_at": { "type": "integer" }, "updated_at": { "type": "integer" } } },
        "UserPage": { "type": "object", "required": ["items", "page", "limit", "total"], "properties": {
            "items": { "type": "array", "items": r("User") }, "page": { "type": "integer" }, "limit": { "type": "integer" }, "total": { "type": "integer" } } },
        "OfferHistory": { "type": "object", "required": ["offer", "history"], "properties": { "offer": r("Offer"), "history": { "type": "array", "items": { "type": "object" } } } },
        "ItemList": { "type": "object", "required": ["items"], "properties": { "items": { "type": "array", "items": { "type": "object" } } } },
        "IngestReport": { "type": "object", "required": ["file", "status", "counts"], "properties": {
            "file": { "type": "string" }, "sha256": { "type": "string" }, "status": { "type": "string", "enum": ["done", "skipped", "dry_run", "failed"] },
            "ledger_id": { "type": ["integer", "null"] }, "counts": { "type": "object" }, "warnings": { "type": "object" }, "reject_samples": { "type": "array" } } },
        "JobList": { "type": "object", "required": ["items", "leader"], "properties": { "leader": { "type": "boolean" }, "items": { "type": "array", "items": { "type": "object", "required": ["name", "enabled", "next_runs"], "properties": {
            "name": { "type": "string" }, "description": { "type": "string" }, "enabled": { "type": "boolean" }, "cron": { "type": ["string", "null"] }, "timezone": { "type": ["string", "null"] },
            "misfire": { "type": "string", "enum": ["coalesce", "skip"] }, "overlap": { "type": "string", "enum": ["forbid", "replace", "allow"] }, "grace_secs": { "type": "integer" }, "timeout_secs": { "type": "integer" }, "retry_attempts": { "type": "integer" },
            "next_runs": { "type": "array", "items": { "type": "object", "properties": { "utc": { "type": "string", "format": "date-time" }, "local": { "type": "string" } } } } } } } } },
        "Triggered": { "type": "object", "required": ["outcome"], "properties": { "outcome": { "type": "string", "enum": ["started", "skipped_overlap", "dry_run"] },
            "run_id": { "type": "integer" }, "status": { "type": "string" }, "error": { "type": ["string", "null"] }, "steps": { "type": "array", "items": { "type": "object" } } } },
        "Run": { "type": "object", "required": ["id", "job", "trigger", "scheduled_for", "status", "attempt", "started_at"], "properties": {
            "id": { "type": "integer" }, "job": { "type": "string" }, "trigger": { "type": "string", "enum": ["schedule", "catch_up", "manual", "api"] },
            "scheduled_for": { "type": "string", "format": "date-time" }, "status": { "type": "string" }, "attempt": { "type": "integer" }, "dry_run": { "type": "boolean" },
            "owner": { "type": "string" }, "started_at": { "type": "string", "format": "date-time" }, "finished_at": { "type": ["string", "null"] }, "duration_ms": { "type": ["integer", "null"] },
            "error": { "type": ["string", "null"] }, "steps": { "type": "array", "items": { "type": "object" } }, "attempts": { "type": "array", "items": { "type": "object" } } } },
        "RunPage": { "type": "object", "required": ["items", "page", "limit"], "properties": { "items": { "type": "array", "items": r("Run") }, "page": { "type": "integer" }, "limit": { "type": "integer" } } },
        "Status": { "type": "object", "required": ["schema_version", "version", "backend", "counts", "jobs", "disk"], "properties": {
            "schema_version": { "type": "integer" }, "generated_at": { "type": "string" }, "version": { "type": "string" }, "uptime_seconds": { "type": "number" },
            "backend": { "type": "string" }, "scheduler": { "type": "string" }, "counts": { "type": "object" }, "last_ingest": { "type": ["object", "null"] },
            "jobs": { "type": "array", "items": { "type": "object" } }, "disk": { "type": "object" },
            "backups": { "type": "object", "description": "Backup count, newest and newest verified (docs/status.schema.json)." },
            "archive": { "type": "object", "description": "Latest archive reconciliation: missing, orphan, size mismatch." } } },
        "Health": { "type": "object", "required": ["status"], "properties": { "status": { "type": "string", "enum": ["pass", "warn", "fail"] } } }
    })
}

const DESCRIPTION: &str = "Preciso's price-comparison API. Money is an integer of minor units plus an ISO 4217 code \
and a display string. Errors are `{\"error\": {\"code\", \"message\", \"details\"}}` with the stable codes of the `Error` schema. \
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

pub fn document() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Preciso API", "version": env!("CARGO_PKG_VERSION"), "description": DESCRIPTION },
        "paths": paths(),
        "components": {
            "schemas": schemas(),
            "securitySchemes": { "ApiKey": { "type": "apiKey", "in": "header", "name": "X-API-Key" } }
        },
        "security": [{}, { "ApiKey": [] }]
    })
}
