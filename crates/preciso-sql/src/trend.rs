//! The refresh of trending drops, written once over `Tx` and run by both adapters at the end
//! of an ingest run (and when a catalog opens after a crash): the offers ingest marked get
//! their drop recomputed from their history (`preciso_core::analysis::trend::current_drop`).

use crate::reads::SET_DROP;
use crate::stores::Tx;
use preciso_core::analysis::trend::current_drop;
use preciso_core::ports::{Cell, StoreError};

/// Offers per statement when reading marks' histories.
const CHUNK: usize = 500;

/// Takes the marks, then recomputes each marked offer's drop. A mark another run writes
/// after the marks were taken stays for the next refresh; one taken here sees its history,
/// which is read afterwards. Returns how many offers were refreshed.
pub fn refresh(tx: &mut dyn Tx) -> Result<u64, StoreError> {
    let ids: Vec<i64> = tx
        .query("SELECT offer_id FROM trend_dirty ORDER BY offer_id", &[])?
        .iter()
        .filter_map(|r| match r.first() {
            Some(Cell::Int(id)) => Some(*id),
            _ => None,
        })
        .collect();
    for chunk in ids.chunks(CHUNK) {
        let marks = placeholders(chunk.len());
        let params: Vec<Cell> = chunk.iter().map(|id| Cell::Int(*id)).collect();
        tx.execute(&format!("DELETE FROM trend_dirty WHERE offer_id IN ({marks})"), &params)?;
        let rows = tx.query(
            &format!(
                "SELECT offer_id, observed_at, price_minor FROM price_history
                 WHERE offer_id IN ({marks}) ORDER BY offer_id, observed_at"
            ),
            &params,
        )?;
        let mut rows = rows.iter().peekable();
        for &id in chunk {
            let mut history = Vec::new();
            while let Some([Cell::Int(_), Cell::Int(at), Cell::Int(price)]) = rows
                .next_if(|r| matches!(r.first(), Some(Cell::Int(o)) if *o == id))
                .map(Vec::as_slice)
            {
                history.push((*at, *price));
            }
            set_drop(tx, id, &history)?;
        }
    }
    Ok(ids.len() as u64)
}

fn set_drop(tx: &mut dyn Tx, id: i64, history: &[(i64, i64)]) -> Result<(), StoreError> {
    let cells = match current_drop(history) {
        Some(d) => {
            [Cell::Int(d.reference_minor), Cell::Int(d.basis_points()), Cell::Int(d.dropped_at)]
        }
        None => [Cell::Null, Cell::Null, Cell::Null],
    };
    let [r, b, a] = cells;
    tx.execute(SET_DROP, &[r, b, a, Cell::Int(id)]).map(drop)
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}
