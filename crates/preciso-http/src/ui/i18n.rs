//! The web UI's words in Spanish (the default) and English. The language is `?lang=` when
//! given (and remembered in a cookie), else the cookie, else the first of `Accept-Language`
//! that is one of them. Every text is a field, so a missing translation does not compile.

use axum::http::HeaderMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Es,
    En,
}

pub const LANG_COOKIE: &str = "preciso_lang";

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Es => "es",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s.trim().get(..2).map(str::to_ascii_lowercase).as_deref() {
            Some("es") => Some(Lang::Es),
            Some("en") => Some(Lang::En),
            _ => None,
        }
    }

    /// The other one (the switch in the header).
    pub fn other(self) -> Lang {
        match self {
            Lang::Es => Lang::En,
            Lang::En => Lang::Es,
        }
    }

    /// `Accept-Language`: the listed languages by weight, the first known one.
    fn accepted(header: &str) -> Option<Lang> {
        let mut ranked: Vec<(f32, Lang)> = header
            .split(',')
            .take(16)
            .filter_map(|part| {
                let mut it = part.split(';');
                let lang = Lang::parse(it.next()?)?;
                let q = it
                    .find_map(|p| p.trim().strip_prefix("q=").and_then(|v| v.parse().ok()))
                    .unwrap_or(1.0);
                Some((q, lang))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.first().map(|r| r.1)
    }

    pub fn choose(query: Option<&str>, headers: &HeaderMap) -> Lang {
        let cookie = headers
            .get(axum::http::header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|c| super::session::cookie(c, LANG_COOKIE));
        let accept = headers.get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        query
            .and_then(Lang::parse)
            .or_else(|| cookie.and_then(Lang::parse))
            .or_else(|| accept.and_then(Lang::accepted))
            .unwrap_or(Lang::Es)
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Es => &ES,
            Lang::En => &EN,
        }
    }
}

macro_rules! texts {
    ($($key:ident: $es:literal, $en:literal;)*) => {
        /// Every text of the UI.
        pub struct Texts { $(pub $key: &'static str,)* }
        static ES: Texts = Texts { $($key: $es,)* };
        static EN: Texts = Texts { $($key: $en,)* };
    };
}

texts! {
    skip: "Saltar al contenido", "Skip to content";
    nav_home: "Resumen", "Overview";
    nav_search: "Buscar", "Search";
    nav_stores: "Tiendas", "Stores";
    nav_quality: "Calidad de datos", "Data quality";
    nav_ops: "Operaciones", "Operations";
    nav_api: "API", "API";
    login: "Entrar", "Sign in";
    logout: "Salir", "Sign out";
    signed_in: "Sesión iniciada", "Signed in";
    admin: "administrador", "admin";
    language: "Idioma", "Language";
    other_language: "English", "Español";
    search_placeholder: "Producto, marca…", "Product, brand…";
    home_title: "Resumen del catálogo", "Catalog overview";
    offers: "Ofertas", "Offers";
    products: "Productos", "Products";
    stores: "Tiendas", "Stores";
    categories: "Categorías", "Categories";
    price_points: "Puntos de precio", "Price points";
    last_ingest: "Última ingesta", "Last ingest";
    never: "nunca", "never";
    jobs: "Tareas programadas", "Scheduled jobs";
    job: "Tarea", "Job";
    status: "Estado", "Status";
    next_run: "Próxima ejecución", "Next run";
    last_run: "Última ejecución", "Last run";
    last_success: "Último éxito", "Last success";
    no_scheduler: "Este proceso no ejecuta el programador.", "This process runs no scheduler.";
    quality_scores: "Calidad de los datos por tienda", "Data quality by store";
    worst_store: "Los datos más débiles", "Weakest data";
    no_analysis: "Aún no hay un análisis de calidad. Corre `preciso analyze` o la tarea analyze.", "No quality analysis yet. Run `preciso analyze` or the analyze job.";
    score: "Puntaje", "Score";
    store: "Tienda", "Store";
    category: "Categoría", "Category";
    brand: "Marca", "Brand";
    any: "Todas", "Any";
    search_title: "Buscar productos", "Search products";
    query: "Producto o marca", "Product or brand";
    min_price: "Precio mínimo", "Minimum price";
    max_price: "Precio máximo", "Maximum price";
    sort: "Orden", "Sort";
    sort_price: "Menor precio", "Lowest price";
    sort_price_desc: "Mayor precio", "Highest price";
    apply: "Aplicar", "Apply";
    currency: "Moneda", "Currency";
    switch_currency: "Cambiar moneda", "Switch currency";
    currency_note: "Los precios se comparan en una sola moneda; las demás se listan con su cantidad de ofertas.", "Prices are compared in one currency; the others are listed with their offer counts.";
    results: "resultados", "results";
    no_results: "Ningún producto coincide.", "No product matches.";
    previous: "Anterior", "Previous";
    next: "Siguiente", "Next";
    page: "Página", "Page";
    of: "de", "of";
    at_least: "al menos", "at least";
    pagination: "Paginación", "Pagination";
    best_price: "Mejor precio", "Best price";
    offers_count: "ofertas", "offers";
    product: "Producto", "Product";
    ranked_offers: "Ofertas, de la más barata a la más cara", "Offers, cheapest first";
    price: "Precio", "Price";
    list_price: "Precio \"antes\"", "\"Was\" price";
    lowest_30: "Mínimo de 30 días", "30-day low";
    availability: "Disponibilidad", "Availability";
    last_seen: "Visto por última vez", "Last seen";
    spread: "Diferencia entre tiendas", "Spread across stores";
    cheapest: "Más barata", "Cheapest";
    dearest: "Más cara", "Dearest";
    history: "Historial de precios", "Price history";
    history_desc: "Precio de cada tienda en el tiempo, como líneas escalonadas", "Each store's price over time, as step lines";
    chart_data: "Datos del gráfico", "Chart data";
    date: "Fecha", "Date";
    fake_discount: "Descuento falso", "Fake discount";
    fake_discount_why: "El precio \"antes\" supera el mínimo de los 30 días previos a la rebaja (regla Omnibus, como en el análisis).", "The \"was\" price exceeds the lowest price of the 30 days before the cut (Omnibus rule, as in the analysis).";
    honest_discount: "Descuento real", "Real discount";
    see_in_store: "Ver en la tienda", "See in store";
    other_currencies: "También se vende en", "Also sold in";
    best_prices: "Mejores precios", "Best prices";
    distribution: "Distribución de precios", "Price distribution";
    distribution_desc: "Cantidad de ofertas por rango de precio", "Offers per price range";
    by_brand: "Por marca", "By brand";
    by_store: "Por tienda", "By store";
    count: "Cantidad", "Count";
    minimum: "Mínimo", "Minimum";
    median: "Mediana", "Median";
    maximum: "Máximo", "Maximum";
    from: "Desde", "From";
    to: "Hasta", "To";
    stores_title: "Comparación de tiendas", "Store comparison";
    price_index: "Índice de precio", "Price index";
    cheapest_share: "Más barata en", "Cheapest in";
    compared: "Productos comparados", "Compared products";
    in_stock: "Con stock", "In stock";
    score_trend: "Puntaje de calidad en el tiempo", "Quality score over time";
    score_trend_desc: "Puntaje 0–100 de cada tienda en cada análisis", "Each store's 0–100 score at each analysis";
    quality_title: "Calidad de datos", "Data quality";
    latest_analysis: "Último análisis", "Latest analysis";
    overall: "Puntaje general", "Overall score";
    findings: "Hallazgos por severidad", "Findings by severity";
    critical: "Crítico", "Critical";
    warning: "Advertencia", "Warning";
    info: "Información", "Info";
    check: "Verificación", "Check";
    outcome: "Resultado", "Outcome";
    unexpected: "Inesperados", "Unexpected";
    examples: "Ejemplos", "Examples";
    values: "Valores", "Values";
    export: "Exportar", "Export";
    freshness: "Horas desde el último dato", "Hours since newest data";
    reject_rate: "Tasa de rechazo", "Reject rate";
    live_offers: "Ofertas vigentes", "Live offers";
    all_passed: "Todas las verificaciones pasaron.", "Every check passed.";
    ops_title: "Operaciones", "Operations";
    run_now: "Ejecutar ahora", "Run now";
    admin_only: "Inicia sesión con una clave de administrador para ejecutar tareas y ver rutas y errores.", "Sign in with an admin key to run jobs and see paths and errors.";
    recent_runs: "Ejecuciones recientes", "Recent runs";
    trigger: "Origen", "Trigger";
    started: "Inicio", "Started";
    duration: "Duración", "Duration";
    steps: "Pasos", "Steps";
    error: "Error", "Error";
    backups: "Respaldos", "Backups";
    archive: "Archivo de datos crudos", "Raw-file archive";
    newest: "Más reciente", "Newest";
    verified: "Verificado", "Verified";
    missing_in_archive: "Faltan en el archivo", "Missing in archive";
    orphans: "Huérfanos", "Orphans";
    not_configured: "No configurado", "Not configured";
    run_started: "Ejecución iniciada", "Run started";
    run_skipped: "La tarea ya tenía una ejecución activa; se registró como omitida.", "The job already had an active run; this one was recorded as skipped.";
    disk: "Disco", "Disk";
    login_title: "Entrar con una clave de API", "Sign in with an API key";
    api_key: "Clave de API", "API key";
    login_help: "La clave se verifica una vez; el navegador guarda una sesión firmada de 8 horas, no la clave.", "The key is checked once; the browser keeps a signed 8-hour session, not the key.";
    login_failed: "Clave no válida.", "Invalid key.";
    login_expired: "El formulario expiró; inténtalo de nuevo.", "The form expired; try again.";
    too_many: "Demasiados intentos; espera un momento.", "Too many attempts; wait a moment.";
    not_found: "No encontrado", "Not found";
    bad_request: "Solicitud no válida", "Bad request";
    failed: "Algo falló", "Something failed";
    forbidden: "No permitido: se necesita una sesión de administrador y el formulario de esta página.", "Not allowed: this needs an admin session and this page's own form.";
    home_link: "Volver al resumen", "Back to the overview";
    in_stock_word: "Disponible", "In stock";
    out_of_stock_word: "Agotado", "Out of stock";
    unknown_stock_word: "Sin dato", "Unknown";
    yes: "sí", "yes";
    no: "no", "no";
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(accept: Option<&str>, cookie: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = accept {
            h.insert("accept-language", HeaderValue::from_str(a).unwrap());
        }
        if let Some(c) = cookie {
            h.insert("cookie", HeaderValue::from_str(c).unwrap());
        }
        h
    }

    #[test]
    fn the_query_then_the_cookie_then_accept_language_then_spanish() {
        assert_eq!(Lang::choose(None, &headers(None, None)), Lang::Es);
        assert_eq!(Lang::choose(None, &headers(Some("en-US,en;q=0.9"), None)), Lang::En);
        assert_eq!(
            Lang::choose(None, &headers(Some("fr;q=1, es;q=0.4, en;q=0.8"), None)),
            Lang::En
        );
        assert_eq!(Lang::choose(None, &headers(Some("de"), None)), Lang::Es);
        assert_eq!(Lang::choose(None, &headers(Some("en"), Some("preciso_lang=es"))), Lang::Es);
        assert_eq!(Lang::choose(Some("en"), &headers(None, Some("preciso_lang=es"))), Lang::En);
        assert_eq!(Lang::choose(Some("xx"), &headers(Some("en"), None)), Lang::En);
    }
}
