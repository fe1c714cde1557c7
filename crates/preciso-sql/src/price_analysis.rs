//! SQL of the stored price analyses (`preciso_core::analysis::category`): the read of one
//! key's offers the rebuild folds, writing the analyses (over `Tx`, run by both adapters with
//! the market summary), and reading one path's analysis back.
//!
//! One table holds a path's statistics in a currency (`kind` 0, with its histograms) and the
//! same per brand (`kind` 1) and per store (`kind` 2), so a request reads one range of the
//! primary key.

use crate::row::SqlRow;
use crate::stores::Tx;
use preciso_core::analysis::category::{CategoryAnalysis, MAX_BINS, NamedStats};
use preciso_core::analysis::stats::PriceStats;
use preciso_core::domain::Currency;
use preciso_core::ports::{Cell, StoreError};

/// `store_id, brand, price_minor` of one category key's offers in one currency (`?` key,
/// currency): on both backends a seek into the covering `offers_category` index.
pub const KEY_PRICES: &str =
    "SELECT store_id, brand, price_minor FROM offers WHERE category_key = ? AND currency = ?";

/// Every row of one path's analysis in a currency (`?` path, currency): the whole path first.
pub const READ: &str = "SELECT kind, name, offers, min_minor, max_minor, mean_minor,
    median_minor, p10_minor, p25_minor, p75_minor, p90_minor, std_dev_minor, histograms
    FROM price_analysis WHERE category_key = ? AND currency = ? ORDER BY kind, name";

/// The lowest and highest price of one path's offers in a currency (`?` path, currency),
/// only while the market summary is unmarked: every batch that reads an offer marks it in its
/// own transaction (`RunMarks::batch_marks`) and the rebuild that writes these rows clears it.
/// Offers deleted since (retention) leave the span wider than the prices: still all inside.
/// And only while the best-offer summary is current too: a lifted listing takes its page
/// and total from it, and some rebuilds clear the market's mark before refreshing it.
pub const SPAN: &str = "SELECT min_minor, max_minor FROM price_analysis
    WHERE category_key = ? AND currency = ? AND kind = 0 AND name = ''
      AND NOT EXISTS (SELECT 1 FROM market_dirty)
      AND NOT EXISTS (SELECT 1 FROM product_best_dirty)";

/// Empties the table before a rebuild writes it again.
pub const CLEAR: &str = "DELETE FROM price_analysis";

const COLUMNS: &str = "category_key, currency, kind, name, offers, min_minor, max_minor, \
    mean_minor, median_minor, p10_minor, p25_minor, p75_minor, p90_minor, std_dev_minor, \
    histograms";

const WHOLE: i64 = 0;
const BRAND: i64 = 1;
const STORE: i64 = 2;

/// Writes `analyses` inside the caller's transaction; `CLEAR` ran first.
pub fn write(tx: &mut dyn Tx, analyses: &[CategoryAnalysis]) -> Result<(), StoreError> {
    let mut rows = Vec::new();
    for a in analyses {
        let row = |kind: i64, name: &str, stats: &PriceStats, histograms: Cell| {
            let mut row = vec![
                Cell::Text(a.path.clone()),
                Cell::Text(a.currency.code().to_string()),
                Cell::Int(kind),
                Cell::Text(name.to_string()),
            ];
            row.extend(stats_cells(stats));
            row.push(histograms);
            row
        };
        rows.push(row(WHOLE, "", &a.stats, Cell::Bytes(encode(&a.histograms))));
        for (kind, groups) in [(BRAND, &a.by_brand), (STORE, &a.by_store)] {
            rows.extend(groups.iter().map(|g| row(kind, &g.name, &g.stats, Cell::Null)));
        }
    }
    crate::market::insert(tx, "price_analysis", COLUMNS, rows)
}

fn stats_cells(s: &PriceStats) -> Vec<Cell> {
    let mut cells = vec![Cell::Int(i64::try_from(s.count).unwrap_or(i64::MAX))];
    cells.extend(
        [s.min, s.max, s.mean, s.median, s.p10, s.p25, s.p75, s.p90, s.std_dev].map(Cell::Int),
    );
    cells
}

/// One row of `READ`.
pub struct Part {
    kind: i64,
    name: String,
    stats: PriceStats,
    histograms: Option<Vec<u8>>,
}

pub fn part_from_row<R: SqlRow>(r: &R) -> Result<Part, R::Error> {
    let int = |i| r.int(i);
    Ok(Part {
        kind: int(0)?,
        name: r.text(1)?,
        stats: PriceStats {
            count: u64::try_from(int(2)?).unwrap_or(0),
            min: int(3)?,
            max: int(4)?,
            mean: int(5)?,
            median: int(6)?,
            p10: int(7)?,
            p25: int(8)?,
            p75: int(9)?,
            p90: int(10)?,
            std_dev: int(11)?,
        },
        histograms: r.opt_bytes(12)?,
    })
}

/// The analysis `parts` (`READ`'s rows) describe; `None` without the whole path's row (no
/// offers in that currency).
pub fn assemble(
    path: &str,
    currency: Currency,
    parts: Vec<Part>,
) -> Result<Option<CategoryAnalysis>, StoreError> {
    let mut whole = None;
    let (mut by_brand, mut by_store) = (Vec::new(), Vec::new());
    for p in parts {
        match p.kind {
            WHOLE => whole = Some((p.stats, decode(&p.histograms.unwrap_or_default())?)),
            BRAND => by_brand.push(NamedStats { name: p.name, stats: p.stats }),
            STORE => by_store.push(NamedStats { name: p.name, stats: p.stats }),
            k => return Err(StoreError::Backend(format!("price_analysis: unknown kind {k}"))),
        }
    }
    Ok(whole.map(|(stats, histograms)| CategoryAnalysis {
        path: path.to_string(),
        currency,
        stats,
        by_brand,
        by_store,
        histograms,
    }))
}

/// The histograms in 1, 2, … `MAX_BINS` bins, their counts one after the other as LEB128
/// varints (5,050 counts: a few kilobytes).
fn encode(histograms: &[Vec<u64>]) -> Vec<u8> {
    let mut out = Vec::new();
    for &count in histograms.iter().flatten() {
        varint(&mut out, count);
    }
    out
}

fn decode(bytes: &[u8]) -> Result<Vec<Vec<u64>>, StoreError> {
    let corrupt = || StoreError::Backend("price_analysis: corrupt histograms".into());
    let mut at = 0;
    let mut next = || -> Result<u64, StoreError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *bytes.get(at).ok_or_else(corrupt)?;
            at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(corrupt())
    };
    let out = (1..=MAX_BINS).map(|b| (0..b).map(|_| next()).collect()).collect();
    if at != bytes.len() {
        return Err(corrupt());
    }
    out
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_read_back_as_written() {
        let h: Vec<Vec<u64>> = (1..=MAX_BINS)
            .map(|b| (0..b as u64).map(|i| i * i * 1_000 + b as u64).collect())
            .collect();
        let bytes = encode(&h);
        assert_eq!(decode(&bytes).unwrap(), h);
        assert!(decode(&bytes[..bytes.len() - 1]).is_err(), "cut short: an error, not a panic");
        assert!(decode(&[bytes.clone(), vec![1]].concat()).is_err(), "trailing bytes");
        assert!(decode(&[0x80]).is_err());
    }
}
