//! The refresh of trending drops, written once over `Tx` and run by both adapters at the end
//! of an ingest run (and when a catalog opens after a crash): the offers ingest marked get
//! their drop recomputed from their history (`preciso_core::analysis::trend::current_drop`).
//! Each change of the drops is counted into `drop_days` (drops per day over all, and per
//! store, category key and brand key) in the same transaction (`DayCounts`), as a store
//! merge's removals are (`forget_drop`); a copy or restore rebuilds it from the drops
//! (`rebuild_days`).

use crate::stores::Tx;
use preciso_core::analysis::trend::current_drop;
use preciso_core::ports::{Cell, StoreError};

/// Offers per statement when reading marks' histories.
const CHUNK: usize = 2_000;

/// Takes the marks, then recomputes each marked offer's drop. A mark another run writes
/// after the marks were taken stays for the next refresh; one taken here sees its history,
/// which is read afterwards. Only drops that changed are written, a chunk per statement (a
/// statement per offer cost a round trip each on PostgreSQL). Returns how many offers were
/// refreshed.
pub fn refresh(tx: &mut dyn Tx) -> Result<u64, StoreError> {
    let ids: Vec<i64> = tx
        .query("SELECT offer_id FROM trend_dirty ORDER BY offer_id", &[])?
        .iter()
        .filter_map(|r| match r.first() {
            Some(Cell::Int(id)) => Some(*id),
            _ => None,
        })
        .collect();
    let mut days = DayCounts::default();
    for chunk in ids.chunks(CHUNK) {
        let marks = placeholders(chunk.len());
        let params: Vec<Cell> = chunk.iter().map(|id| Cell::Int(*id)).collect();
        tx.execute(&format!("DELETE FROM trend_dirty WHERE offer_id IN ({marks})"), &params)?;
        let histories = tx.query(
            &format!(
                "SELECT offer_id, observed_at, price_minor FROM price_history
                 WHERE offer_id IN ({marks}) ORDER BY offer_id, observed_at"
            ),
            &params,
        )?;
        // Per offer: its stored drop row (without the id), then what it is now filtered by.
        let stored = tx.query(
            &format!(
                "SELECT o.id, d.reference_minor, d.drop_bp, d.drop_at, {}, {}
                 FROM offers o LEFT JOIN offer_drops d ON d.offer_id = o.id
                 WHERE o.id IN ({marks})",
                prefixed("d."),
                prefixed("o.")
            ),
            &params,
        )?;
        let stored: std::collections::HashMap<i64, (&[Cell], &[Cell])> = stored
            .iter()
            .filter_map(|r| match r.first() {
                Some(Cell::Int(id)) => {
                    let split = 1 + DROP_COLUMNS + FILTER_COLUMNS.len();
                    Some((*id, (&r[1..split], &r[split..])))
                }
                _ => None,
            })
            .collect();
        let mut histories = histories.iter().peekable();
        let mut changed = Vec::new();
        for &id in chunk {
            let mut history = Vec::new();
            while let Some([Cell::Int(_), Cell::Int(at), Cell::Int(price)]) = histories
                .next_if(|r| matches!(r.first(), Some(Cell::Int(o)) if *o == id))
                .map(Vec::as_slice)
            {
                history.push((*at, *price));
            }
            // An offer gone since it was marked has no row to update.
            let Some((before, filters)) = stored.get(&id) else { continue };
            let mut now: Vec<Cell> = drop_cells(&history).into();
            // Without a drop there is no row, so no filters to keep current.
            let differs = if matches!(now[1], Cell::Null) {
                before[..DROP_COLUMNS] != now[..]
            } else {
                now.extend(filters.iter().cloned());
                before[..] != now[..]
            };
            if differs {
                days.add(before, -1);
                days.add(&now, 1);
                changed.push((id, now));
            }
        }
        set_drops(tx, &changed)?;
    }
    days.write(tx)?;
    Ok(ids.len() as u64)
}

/// Removes an offer's drop (a store merge moves its history to another id, whose drop the next
/// refresh computes), and its count from `drop_days`.
pub fn forget_drop(tx: &mut dyn Tx, offer_id: i64) -> Result<(), StoreError> {
    // The row the delete removed, not one read before it: a refresh committing between the
    // two would have its change counted and then the older row's taken away.
    let sql = format!(
        "DELETE FROM offer_drops WHERE offer_id = ?
         RETURNING reference_minor, drop_bp, drop_at, {}",
        FILTER_COLUMNS.join(", ")
    );
    let mut days = DayCounts::default();
    for row in tx.query(&sql, &[Cell::Int(offer_id)])? {
        days.add(&row, -1);
    }
    days.write(tx)
}

/// Recounts `drop_days` from the drops (a copied or restored catalog: its counts are derived,
/// not copied): statements for `execute_batch`, one per dimension (`DAY_DIMENSIONS`).
pub fn rebuild_days() -> String {
    let mut sql = String::from("DELETE FROM drop_days;");
    for (dimension, column) in DAY_DIMENSIONS {
        let (value, known) = match column {
            Some(c) => (c.to_string(), format!("WHERE {c} IS NOT NULL")),
            None => ("''".to_string(), String::new()),
        };
        let by = if column.is_some() { format!("{value}, ") } else { String::new() };
        sql.push_str(&format!(
            "INSERT INTO drop_days (dimension, value, day, drops)
                 SELECT '{dimension}', {value}, drop_at / {DAY_SECS}, count(*) FROM offer_drops
                 {known} GROUP BY {by}drop_at / {DAY_SECS};"
        ));
    }
    sql
}

/// Seconds in a `drop_days` day: a drop's day is `drop_at / DAY_SECS`.
pub const DAY_SECS: i64 = 86_400;

/// What `drop_days` gains or loses, per (dimension, value, day), from changes of drop rows.
#[derive(Default)]
struct DayCounts(std::collections::BTreeMap<(&'static str, String, i64), i64>);

/// The dimensions `drop_days` counts by, with the filter column each names (`None`: every
/// drop, under the value '').
const DAY_DIMENSIONS: [(&str, Option<&str>); 4] = [
    ("all", None),
    ("store", Some("store_id")),
    ("category", Some("category_key")),
    ("brand", Some("brand_key")),
];

impl DayCounts {
    /// Adds `n` to the days of a drop row (`drop_cells` then `FILTER_COLUMNS`; a row without a
    /// drop counts nowhere).
    fn add(&mut self, row: &[Cell], n: i64) {
        let Some(Cell::Int(at)) = row.get(2) else { return };
        let day = at / DAY_SECS;
        // A filter column's cell: after the drop's own columns.
        let cell = |name| FILTER_COLUMNS.iter().position(|c| *c == name).map(|i| DROP_COLUMNS + i);
        for (dimension, column) in DAY_DIMENSIONS {
            let value = match column.map(|c| cell(c).and_then(|i| row.get(i))) {
                None => String::new(),
                Some(Some(Cell::Text(v))) => v.clone(),
                Some(_) => continue,
            };
            *self.0.entry((dimension, value, day)).or_default() += n;
        }
    }

    /// Adds the counts to `drop_days`, many keys a statement, and drops the days left at
    /// zero when any count fell (once per refresh: the table holds a row per key and day).
    fn write(self, tx: &mut dyn Tx) -> Result<(), StoreError> {
        let changes: Vec<_> = self.0.into_iter().filter(|(_, n)| *n != 0).collect();
        let fell = changes.iter().any(|(_, n)| *n < 0);
        for chunk in changes.chunks(CHUNK / 4) {
            let rows = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
            let params: Vec<Cell> = chunk
                .iter()
                .flat_map(|((dimension, value, day), n)| {
                    [
                        Cell::Text((*dimension).into()),
                        Cell::Text(value.clone()),
                        Cell::Int(*day),
                        Cell::Int(*n),
                    ]
                })
                .collect();
            tx.execute(
                &format!(
                    "INSERT INTO drop_days (dimension, value, day, drops) VALUES {rows}
                     ON CONFLICT (dimension, value, day)
                     DO UPDATE SET drops = drop_days.drops + excluded.drops"
                ),
                &params,
            )?;
        }
        if fell {
            tx.execute("DELETE FROM drop_days WHERE drops <= 0", &[])?;
        }
        Ok(())
    }
}

/// `reference_minor, drop_bp, drop_at` of a history's current drop (all null: none).
fn drop_cells(history: &[(i64, i64)]) -> [Cell; 3] {
    match current_drop(history) {
        Some(d) => {
            [Cell::Int(d.reference_minor), Cell::Int(d.basis_points()), Cell::Int(d.dropped_at)]
        }
        None => [Cell::Null, Cell::Null, Cell::Null],
    }
}

/// `reference_minor, drop_bp, drop_at`.
const DROP_COLUMNS: usize = 3;

/// What a trending listing filters by, copied from the offer onto its drop row so that a
/// filtered page and its count read drops alone (issue #20, point 6). A refresh rewrites them
/// whenever they differ from the offer's; ingest marks every updated offer for one.
const FILTER_COLUMNS: [&str; 5] =
    ["currency", "store_id", "category_key", "brand_key", "price_minor"];

fn prefixed(alias: &str) -> String {
    FILTER_COLUMNS.iter().map(|c| format!("{alias}{c}")).collect::<Vec<_>>().join(", ")
}

/// Writes the changed drops: a statement for the offers that lost theirs, one upsert for the
/// others (a statement per offer cost a round trip each on PostgreSQL).
fn set_drops(tx: &mut dyn Tx, changed: &[(i64, Vec<Cell>)]) -> Result<(), StoreError> {
    let (gone, kept): (Vec<_>, Vec<_>) =
        changed.iter().partition(|(_, cells)| matches!(cells[1], Cell::Null));
    if !gone.is_empty() {
        let ids: Vec<Cell> = gone.iter().map(|(id, _)| Cell::Int(*id)).collect();
        let sql =
            format!("DELETE FROM offer_drops WHERE offer_id IN ({})", placeholders(ids.len()));
        tx.execute(&sql, &ids)?;
    }
    if !kept.is_empty() {
        let row = format!("({})", placeholders(1 + DROP_COLUMNS + FILTER_COLUMNS.len()));
        let updates: Vec<String> =
            FILTER_COLUMNS.iter().map(|c| format!("{c} = excluded.{c}")).collect();
        let sql = format!(
            "INSERT INTO offer_drops (offer_id, reference_minor, drop_bp, drop_at, {}) VALUES {}
             ON CONFLICT (offer_id) DO UPDATE SET reference_minor = excluded.reference_minor,
                 drop_bp = excluded.drop_bp, drop_at = excluded.drop_at, {}",
            FILTER_COLUMNS.join(", "),
            vec![row; kept.len()].join(", "),
            updates.join(", ")
        );
        let params: Vec<Cell> = kept
            .iter()
            .flat_map(|(id, cells)| std::iter::once(Cell::Int(*id)).chain(cells.iter().cloned()))
            .collect();
        tx.execute(&sql, &params)?;
    }
    Ok(())
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}
