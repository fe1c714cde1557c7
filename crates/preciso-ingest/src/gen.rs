//! `preciso gen`: a deterministic generator of realistic, messy scraped offers — LatAm price
//! formats in each store's locale, Spanish and English field names, ratings and review counts
//! in many shapes, GTINs (some with bad check digits), ~1% invalid records and ~1% exact
//! duplicates. Same options give the same bytes on any machine (own PRNG, no `rand`). Run
//! R > 0 is the same catalog R days later with ~5% of prices changed per run, so re-ingests
//! find most records unchanged and history grows. Streams: memory does not grow with N.

use serde_json::{Map, Number, Value};
use std::io::{self, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GenFormat {
    #[default]
    Jsonl,
    Json,
    Csv,
}

#[derive(Debug, Clone)]
pub struct GenOptions {
    /// Records written, invalid and duplicates included.
    pub offers: u64,
    pub stores: u32,
    pub seed: u64,
    pub format: GenFormat,
    pub run: u32,
    pub invalid_ratio_permille: u32,
    pub duplicate_ratio_permille: u32,
    /// Every offer its own product (no GTIN; the SKU in the title), as marketplaces and
    /// scrapers without GTINs give: the catalog shape that stresses per-product state.
    pub unique_products: bool,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            offers: 1000,
            stores: 5,
            seed: 42,
            format: GenFormat::Jsonl,
            run: 0,
            invalid_ratio_permille: 10,
            duplicate_ratio_permille: 10,
            unique_products: false,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenStats {
    pub records: u64,
    pub invalid: u64,
    pub duplicates: u64,
}

/// (slug, name, currency)
const STORES: &[(&str, &str, &str)] = &[
    ("exito", "Éxito", "COP"),
    ("falabella-co", "Falabella Colombia", "COP"),
    ("alkosto", "Alkosto", "COP"),
    ("mercadolibre-mx", "Mercado Libre México", "MXN"),
    ("liverpool", "Liverpool", "MXN"),
    ("coppel", "Coppel", "MXN"),
    ("jumbo-cl", "Jumbo Chile", "CLP"),
    ("paris", "Paris", "CLP"),
    ("lider", "Líder", "CLP"),
    ("fravega", "Frávega", "ARS"),
    ("garbarino", "Garbarino", "ARS"),
    ("plaza-vea", "Plaza Vea", "PEN"),
    ("ripley-pe", "Ripley Perú", "PEN"),
    ("magalu", "Magazine Luiza", "BRL"),
    ("americanas", "Americanas", "BRL"),
    ("casas-bahia", "Casas Bahia", "BRL"),
    ("amazon-us", "Amazon US", "USD"),
    ("olimpica", "Olímpica", "COP"),
    ("sodimac", "Sodimac", "COP"),
    ("el-corte-ingles", "El Corte Inglés", "EUR"),
];

/// The store of index `i`: the list above, then numbered copies of it.
pub fn store_for(index: u32) -> (String, String, &'static str) {
    let (slug, name, currency) = STORES[index as usize % STORES.len()];
    match index as usize / STORES.len() {
        0 => (slug.to_string(), name.to_string(), currency),
        n => (format!("{slug}-{}", n + 1), format!("{name} {}", n + 1), currency),
    }
}

/// Minor units per US cent, roughly (COP ~4000/USD, both with cents).
fn rate(currency: &str) -> f64 {
    match currency {
        "COP" => 4000.0,
        "MXN" => 17.0,
        "CLP" => 9.3, // CLP has no minor unit: 930 CLP per USD = 9.3 per cent
        "ARS" => 900.0,
        "PEN" => 3.7,
        "BRL" => 5.0,
        "EUR" => 0.92,
        _ => 1.0,
    }
}

const BRANDS: &[&str] = &[
    "Samsung", "LG", "Xiaomi", "Apple", "Motorola", "Lenovo", "HP", "Sony", "Mabe", "Oster",
    "Nestlé", "Colgate", "Haceb", "Imusa", "Philips",
];
const CATEGORIES: &[(&str, &[&str], u64)] = &[
    ("Tecnología > Celulares", &["Galaxy", "Moto", "Redmi", "iPhone", "Note"], 90_000),
    ("Tecnología > Televisores", &["Smart TV", "QLED", "OLED", "UHD"], 60_000),
    ("Tecnología > Computadores", &["Portátil", "IdeaPad", "Pavilion", "ThinkPad"], 80_000),
    ("Electrodomésticos > Neveras", &["Nevera", "Refrigerador No Frost"], 70_000),
    ("Electrodomésticos > Lavadoras", &["Lavadora", "Lavaseca"], 55_000),
    ("Hogar > Cocina", &["Licuadora", "Olla a presión", "Sartén", "Cafetera"], 6_000),
    ("Mercado > Café", &["Café molido", "Café en grano"], 900),
    ("Cuidado personal", &["Crema dental", "Afeitadora", "Secador"], 1_500),
];
const VARIANTS: &[&str] = &[
    "128GB", "256GB", "Negro", "Blanco", "Gris", "55\"", "65\"", "300L", "12kg", "500g", "1.5L",
    "Pro", "Max",
];

/// SplitMix64: small, fast, and its output is fixed forever (unlike `rand`'s algorithms).
struct Rng(u64);

impl Rng {
    fn new(parts: &[u64]) -> Rng {
        let mut r = Rng(0x9e37_79b9_7f4a_7c15);
        for p in parts {
            r.0 ^= p.wrapping_mul(0xbf58_476d_1ce4_e5b9);
            r.next();
        }
        r
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, permille: u64) -> bool {
        self.below(1000) < permille
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

fn gtin13(body: u64) -> String {
    let digits = format!("{:012}", body % 1_000_000_000_000);
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    format!("{digits}{}", (10 - sum % 10) % 10)
}

struct Product {
    title: String,
    brand: &'static str,
    category: &'static str,
    gtin: Option<String>,
    usd_cents: u64,
}

fn product(seed: u64, p: u64) -> Product {
    let mut r = Rng::new(&[seed, 1, p]);
    let (category, models, base) = *r.pick(CATEGORIES);
    let brand = *r.pick(BRANDS);
    let title = format!(
        "{} {brand} {}{} {}",
        r.pick(models),
        (b'A' + r.below(26) as u8) as char,
        10 + r.below(90),
        r.pick(VARIANTS)
    );
    let gtin = r.chance(700).then(|| {
        gtin13(770_000_000_000 + seed.wrapping_mul(7919).wrapping_add(p) % 10_000_000_000)
    });
    let usd_cents = base / 2 + r.below(base) + 99;
    Product { title, brand, category, gtin, usd_cents }
}

/// Price in minor units for (product, store) in run `run`: a store-specific level plus the
/// changes of each run so far (~5% of offers change per run, by 3–30% either way).
fn price_minor(seed: u64, p: &Product, store: u32, currency: &str, offer: u64, run: u32) -> i64 {
    let mut r = Rng::new(&[seed, 2, offer]);
    let level = 0.85 + r.below(300) as f64 / 1000.0;
    let mut value =
        p.usd_cents as f64 * rate(currency) * level * (1.0 + f64::from(store % 7) / 100.0);
    for run in 1..=run {
        let mut c = Rng::new(&[seed, 3, offer, u64::from(run)]);
        if c.chance(50) {
            let pct = 3 + c.below(28) as i64;
            let sign = if c.chance(600) { -1.0 } else { 1.0 };
            value *= 1.0 + sign * pct as f64 / 100.0;
        }
    }
    round_like_a_store(value as i64, currency)
}

/// Big-number currencies end in …900 (COP, ARS) or …990 (CLP); cent currencies in .x0/.x9.
fn round_like_a_store(minor: i64, currency: &str) -> i64 {
    match currency {
        "COP" | "ARS" => {
            let major = (minor / 100).max(1);
            let major =
                if major >= 1000 { major / 1000 * 1000 + 900 } else { major / 100 * 100 + 90 };
            major * 100
        }
        "CLP" => {
            if minor >= 1000 {
                minor / 1000 * 1000 + 990
            } else {
                minor.max(1) / 10 * 10 + 9
            }
        }
        _ => (minor / 10).max(1) * 10 + if minor % 3 == 0 { 9 } else { 0 },
    }
}

fn group(int: i64, sep: char) -> String {
    let digits = int.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(ch);
    }
    out
}

/// The amount in the store's locale: `2.349.900`, `2.349.900,00`, `1,349.90`.
fn local_number(minor: i64, currency: &str, r: &mut Rng) -> String {
    let dot_thousands = matches!(currency, "COP" | "CLP" | "ARS" | "BRL" | "EUR");
    let (t, d) = if dot_thousands { ('.', ',') } else { (',', '.') };
    if currency == "CLP" {
        return group(minor, t);
    }
    let (major, cents) = (minor / 100, minor % 100);
    // Integer forms only where they cannot be misread: whole amounts in big-number locales.
    if cents == 0 && dot_thousands && r.chance(600) {
        return group(major, t);
    }
    format!("{}{d}{cents:02}", group(major, t))
}

fn one_of(r: &mut Rng, items: &[&'static str]) -> &'static str {
    items[r.below(items.len() as u64) as usize]
}

fn marker(currency: &str, r: &mut Rng) -> &'static str {
    match currency {
        "COP" => one_of(r, &["$ ", "$", "COP ", "COP$ "]),
        "CLP" => one_of(r, &["$ ", "$", "CLP$ "]),
        "MXN" => one_of(r, &["$", "MX$ ", "$ "]),
        "ARS" => "$ ",
        "BRL" => "R$ ",
        "PEN" => one_of(r, &["S/ ", "S/. "]),
        "USD" => one_of(r, &["US$ ", "$"]),
        _ => "",
    }
}

/// Scraped price text (or a JSON number) for an exact amount.
fn price_value(minor: i64, currency: &str, r: &mut Rng) -> Value {
    let exp = if currency == "CLP" { 0 } else { 2 };
    if r.chance(100) {
        let text = if exp == 0 {
            minor.to_string()
        } else {
            format!("{}.{:02}", minor / 100, minor % 100)
        };
        if let Ok(n) = text.parse::<Number>() {
            return Value::Number(n);
        }
    }
    let number = local_number(minor, currency, r);
    let shown = if currency == "EUR" {
        format!("{number} €")
    } else {
        format!("{}{number}", marker(currency, r))
    };
    let text = match r.below(10) {
        0 => format!("Ahora {shown}"),
        1 => format!("desde {shown}"),
        2 => format!("{shown} + IVA"),
        3 if currency != "EUR" => format!(
            "{shown} - {}{}",
            marker(currency, r),
            local_number(minor + minor / 5 + 100, currency, r)
        ),
        _ => shown,
    };
    Value::String(text)
}

fn rating_value(r: &mut Rng) -> Option<Value> {
    if r.chance(200) {
        return None;
    }
    let tenths = 25 + r.below(26); // 2.5 – 5.0
    let (i, d) = (tenths / 10, tenths % 10);
    Some(match r.below(7) {
        0 => Value::String(format!("{i},{d} de 5")),
        1 => Value::String(format!("{i}.{d}/5")),
        2 => Value::String(format!("{}%", tenths * 2)),
        3 => Value::String(format!("{}{}", "★".repeat(i as usize), "☆".repeat(5 - i as usize))),
        4 => {
            Value::String(format!("{i}.{d} ({} opiniones)", group(10 + r.below(5000) as i64, '.')))
        }
        5 => Value::String("Sin calificación".into()),
        _ => format!("{i}.{d}").parse::<Number>().map(Value::Number).unwrap_or(Value::Null),
    })
}

fn reviews_value(r: &mut Rng) -> Option<Value> {
    if r.chance(300) {
        return None;
    }
    let n = r.below(20_000) as i64;
    Some(match r.below(3) {
        0 => Value::String(format!("({} opiniones)", group(n, '.'))),
        1 => Value::String(format!("{} ratings", group(n, ','))),
        _ => Value::Number(n.into()),
    })
}

/// Field names by store style: English, Spanish, Capitalized Spanish.
const NAMES: [[&str; 15]; 3] = [
    [
        "store",
        "sku",
        "gtin",
        "title",
        "brand",
        "category",
        "price",
        "list_price",
        "currency",
        "availability",
        "rating",
        "reviews",
        "url",
        "image_url",
        "scraped_at",
    ],
    [
        "tienda",
        "codigo",
        "ean",
        "nombre",
        "marca",
        "categoria",
        "precio",
        "precio_anterior",
        "moneda",
        "disponibilidad",
        "calificacion",
        "opiniones",
        "enlace",
        "imagen",
        "fecha",
    ],
    [
        "Tienda",
        "Código",
        "EAN",
        "Nombre",
        "Marca",
        "Categoría",
        "Precio",
        "Precio_Lista",
        "Moneda",
        "Stock",
        "Calificación",
        "Reseñas",
        "Link",
        "Imagen",
        "Fecha_Extraccion",
    ],
];

const INVALID_PRICES: &[&str] =
    &["Agotado", "Consultar precio", "$1.5M", "-$ 5.000", "$ 12.34.567", ""];

/// One record as (canonical field index, value) pairs, and whether it is invalid.
fn record(opts: &GenOptions, i: u64) -> (Vec<(usize, Value)>, bool) {
    let mut r = Rng::new(&[opts.seed, 4, i]);
    let store_idx = (i % u64::from(opts.stores.max(1))) as u32;
    let (slug, name, currency) = store_for(store_idx);
    let products = (opts.offers * 10 / (u64::from(opts.stores.max(1)) * 6)).max(1);
    let p = product(opts.seed, r.below(products));
    let sku = format!("{}-{i:08}", &slug[..slug.len().min(3)].to_uppercase());
    let minor = price_minor(opts.seed, &p, store_idx, currency, i, opts.run);
    let mut fields: Vec<(usize, Value)> = Vec::with_capacity(15);
    let store_value = if r.chance(300) { name } else { slug.clone() };
    fields.push((0, Value::String(store_value)));
    fields.push((1, Value::String(sku.clone())));
    if let (Some(g), false) = (&p.gtin, opts.unique_products) {
        let g = if r.chance(30) {
            format!("{}{}", &g[..12], (g.as_bytes()[12] - b'0' + 1) % 10)
        } else {
            g.clone()
        };
        fields.push((2, Value::String(g)));
    }
    let title = if opts.unique_products { format!("{} {sku}", p.title) } else { p.title.clone() };
    fields.push((3, Value::String(title)));
    fields.push((4, Value::String(p.brand.to_string())));
    fields.push((
        5,
        Value::String(if r.chance(200) {
            p.category.replace(" > ", "/")
        } else {
            p.category.to_string()
        }),
    ));
    fields.push((6, price_value(minor, currency, &mut r)));
    // List prices are stable across runs: a "was" price the store shows for a while.
    let mut lr = Rng::new(&[opts.seed, 5, i]);
    if lr.chance(300) {
        let list = round_like_a_store(minor + minor * (5 + lr.below(45) as i64) / 100, currency);
        fields.push((7, price_value(list.max(minor), currency, &mut r)));
    }
    fields.push((8, Value::String(currency.to_string())));
    let spanish = !store_idx.is_multiple_of(3);
    let available = r.chance(900);
    let stock = match (spanish, available) {
        (false, true) => "in_stock",
        (false, false) => "out_of_stock",
        (true, true) => "Disponible",
        (true, false) => one_of(&mut r, &["Agotado", "Sin stock"]),
    };
    fields.push((9, Value::String(stock.into())));
    if let Some(v) = rating_value(&mut r) {
        fields.push((10, v));
    }
    if let Some(v) = reviews_value(&mut r) {
        fields.push((11, v));
    }
    fields.push((12, Value::String(format!("https://www.{slug}.example/p/{sku}"))));
    if r.chance(500) {
        fields.push((13, Value::String(format!("https://img.{slug}.example/{sku}.jpg"))));
    }
    let minutes = u64::from(store_idx) * 7 % 600;
    // Run N is N days after the first (2026-11-01): a month of daily scrapes stays in order.
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 1)
        .and_then(|d| d.checked_add_days(chrono::Days::new(u64::from(opts.run))))
        .unwrap_or_default();
    fields.push((
        14,
        Value::String(format!(
            "{} {:02}:{:02}:00",
            day.format("%Y-%m-%d"),
            8 + minutes / 60,
            minutes % 60
        )),
    ));
    let invalid = Rng::new(&[opts.seed, 6, i]).chance(u64::from(opts.invalid_ratio_permille));
    if invalid {
        match r.below(3) {
            0 => fields.retain(|(k, _)| *k != 3),
            1 => fields[0].1 = Value::String(String::new()),
            _ => {
                let bad = *r.pick(INVALID_PRICES);
                if let Some(f) = fields.iter_mut().find(|(k, _)| *k == 6) {
                    f.1 = Value::String(bad.into());
                }
            }
        }
    }
    (fields, invalid)
}

fn json_line(fields: &[(usize, Value)], style: usize, extra: bool) -> io::Result<Vec<u8>> {
    let mut map = Map::new();
    for (k, v) in fields {
        map.insert(NAMES[style][*k].to_string(), v.clone());
    }
    if extra {
        map.insert("vendedor".into(), Value::String("Tercero".into()));
    }
    serde_json::to_vec(&Value::Object(map)).map_err(io::Error::other)
}

fn csv_line(fields: &[(usize, Value)]) -> io::Result<Vec<u8>> {
    let mut cells = vec![String::new(); 15];
    for (k, v) in fields {
        cells[*k] = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
    }
    let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    w.write_record(&cells).map_err(io::Error::other)?;
    w.into_inner().map_err(|e| io::Error::other(e.to_string()))
}

pub fn generate<W: Write>(opts: &GenOptions, mut out: W) -> io::Result<GenStats> {
    let mut stats = GenStats::default();
    let mut previous: Option<Vec<u8>> = None;
    match opts.format {
        GenFormat::Json => out.write_all(b"[\n")?,
        GenFormat::Csv => out.write_all(format!("{}\n", NAMES[0].join(",")).as_bytes())?,
        GenFormat::Jsonl => {}
    }
    for i in 0..opts.offers {
        let duplicate = previous.is_some()
            && Rng::new(&[opts.seed, 7, i]).chance(u64::from(opts.duplicate_ratio_permille));
        let line = match (&previous, duplicate) {
            (Some(p), true) => {
                stats.duplicates += 1;
                p.clone()
            }
            _ => {
                let (fields, invalid) = record(opts, i);
                stats.invalid += u64::from(invalid);
                let store_idx = (i % u64::from(opts.stores.max(1))) as usize;
                match opts.format {
                    GenFormat::Csv => csv_line(&fields)?,
                    _ => {
                        let mut l = json_line(&fields, store_idx % 3, store_idx % 4 == 3)?;
                        l.push(b'\n');
                        l
                    }
                }
            }
        };
        if opts.format == GenFormat::Json && i > 0 {
            out.write_all(b",")?;
        }
        out.write_all(&line)?;
        previous = Some(line);
        stats.records += 1;
    }
    if opts.format == GenFormat::Json {
        out.write_all(b"]\n")?;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(opts: &GenOptions) -> Vec<u8> {
        let mut buf = Vec::new();
        generate(opts, &mut buf).unwrap();
        buf
    }

    #[test]
    fn deterministic_and_seeded() {
        let a = GenOptions { offers: 300, ..Default::default() };
        assert_eq!(render(&a), render(&a));
        assert_ne!(render(&a), render(&GenOptions { seed: 7, ..a.clone() }));
    }

    #[test]
    fn every_format_parses_with_n_records() {
        let n = 500;
        let base = GenOptions { offers: n, ..Default::default() };
        let jsonl = render(&base);
        assert_eq!(
            jsonl
                .split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .filter(|l| serde_json::from_slice::<Value>(l).is_ok())
                .count() as u64,
            n
        );
        let json: Value = serde_json::from_slice(&render(&GenOptions {
            format: GenFormat::Json,
            ..base.clone()
        }))
        .unwrap();
        assert_eq!(json.as_array().unwrap().len() as u64, n);
        let csv_bytes = render(&GenOptions { format: GenFormat::Csv, ..base });
        assert_eq!(
            csv::Reader::from_reader(&csv_bytes[..]).records().map(Result::unwrap).count() as u64,
            n
        );
    }

    #[test]
    fn unique_products_carry_no_gtin_and_a_title_of_their_own() {
        let opts = GenOptions {
            offers: 500,
            invalid_ratio_permille: 0,
            duplicate_ratio_permille: 0,
            unique_products: true,
            ..Default::default()
        };
        let text = String::from_utf8(render(&opts)).unwrap();
        let mut titles = std::collections::HashSet::new();
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            let o = v.as_object().unwrap();
            assert!(!o.keys().any(|k| ["gtin", "ean", "EAN"].contains(&k.as_str())));
            let title = ["title", "nombre", "Nombre", "name"].iter().find_map(|k| o.get(*k));
            assert!(titles.insert(title.unwrap().to_string()), "{line}");
        }
    }

    #[test]
    fn later_runs_change_about_five_percent_of_prices() {
        let base = GenOptions {
            offers: 4000,
            invalid_ratio_permille: 0,
            duplicate_ratio_permille: 0,
            ..Default::default()
        };
        let run0 = render(&base);
        let run1 = render(&GenOptions { run: 1, ..base });
        let price = |l: &[u8]| {
            let v: Value = serde_json::from_slice(l).unwrap();
            let o = v.as_object().unwrap();
            ["price", "precio", "Precio"].iter().find_map(|k| o.get(*k)).cloned()
        };
        let lines0: Vec<&[u8]> = run0.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
        let lines1: Vec<&[u8]> = run1.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
        let changed = lines0.iter().zip(&lines1).filter(|(a, b)| price(a) != price(b)).count();
        assert!((100..=350).contains(&changed), "{changed} of 4000 changed");
    }

    #[test]
    fn gtins_carry_valid_check_digits() {
        let g = gtin13(770_203_210_105);
        assert_eq!(g.len(), 13);
        assert!(preciso_core::domain::Gtin::parse(&g).is_ok());
        assert_eq!(store_for(0).0, "exito");
        assert_eq!(store_for(20).0, "exito-2");
    }
}
