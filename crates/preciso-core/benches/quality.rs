//! Throughput of the forensic analysis engine alone, without a database: N current offers
//! (20 stores, 40 categories, half with a GTIN, ~4 offers per product) and their 30-day
//! histories (a price change on ~5% of days), fed to `Analysis` and finished. The end-to-end
//! analysis adds reading those rows. `cargo bench -p preciso-core --bench quality -- [N]
//! [ID,ID…]` (default 1,000,000 offers; the ids listed are disabled, to see what each costs);
//! prints the time of each phase and the peak RSS.

use preciso_core::analysis::omnibus::Observation;
use preciso_core::domain::{Currency, OfferId, ProductId, StoreId};
use preciso_core::quality::config::resolve;
use preciso_core::quality::engine::{Analysis, OfferFacts};
use std::collections::BTreeMap;
use std::time::Instant;

const DAY: i64 = 86_400;
const NOW: i64 = 1_780_000_000;

/// A deterministic pseudo-random stream (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap_or("VmHWM: 0 kB");
    line.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) / 1024
}

fn main() {
    let n: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(1_000_000);
    let disabled: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a.contains('.') && !a.starts_with('-'))
        .flat_map(|a| a.split(',').map(String::from).collect::<Vec<_>>())
        .collect();
    let mut checks = resolve(&BTreeMap::new()).unwrap();
    for c in &mut checks {
        c.enabled = !disabled.iter().any(|d| d == c.id.as_str());
    }
    let stores: Vec<StoreId> =
        (0..20).map(|i| StoreId::parse(&format!("tienda-{i}")).unwrap()).collect();
    let categories: Vec<String> = (0..40).map(|i| format!("cat-{}/sub-{}", i / 8, i)).collect();
    let cop = Currency::parse("COP").unwrap();
    let mut rng = Rng(7);
    let mut a = Analysis::new(&checks, NOW);
    let (mut offers_time, mut history_time) = (0.0, 0.0);
    let mut history = Vec::with_capacity(8);
    for i in 0..n {
        let product = i / 4;
        let store = &stores[(i % 20) as usize];
        let sku = format!("sku-{i}");
        let gtin = format!("{:013}", 7_700_000_000_000 + product);
        let url = format!("https://{store}.example.com/p/{i}");
        let base = 10_000 + (rng.next() % 5_000_000) as i64;
        let list = rng.next().is_multiple_of(4).then_some(base + base / 5);
        let facts = OfferFacts {
            id: OfferId(rng.next()),
            store,
            sku: Some(&sku),
            product: ProductId(product),
            title: "Producto de prueba",
            brand: Some("Marca"),
            category_key: Some(&categories[(product % 40) as usize]),
            gtin: (product % 2 == 0).then_some(gtin.as_str()),
            url: Some(&url),
            image_url: None,
            currency: cop,
            price: base,
            list,
            rating_centi: Some(400),
            review_count: Some(12),
            last_seen: NOW - (rng.next() % (3 * DAY as u64)) as i64,
        };
        let t = Instant::now();
        a.offer(&facts);
        offers_time += t.elapsed().as_secs_f64();
        history.clear();
        let mut price = base;
        for day in 0..30 {
            if day == 0 || rng.next().is_multiple_of(20) {
                price = if day == 0 { base } else { price + (rng.next() % 2000) as i64 - 1000 };
                history.push(Observation {
                    at: NOW - (30 - day) * DAY,
                    price: price.max(1),
                    list,
                    arrival: 0,
                });
            }
        }
        let t = Instant::now();
        a.history(&facts, &history);
        history_time += t.elapsed().as_secs_f64();
    }
    let t = Instant::now();
    let report = a.finish();
    let finish_time = t.elapsed().as_secs_f64();
    println!(
        "{n} offers: offers {offers_time:.2} s, histories {history_time:.2} s, finish {finish_time:.2} s, \
         total {:.2} s; peak RSS {} MB; overall score {:?}",
        offers_time + history_time + finish_time,
        peak_rss_mb(),
        report.overall_score
    );
}
