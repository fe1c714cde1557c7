//! The PostgreSQL ingest writer. Per batch, in one transaction: read the stored state of the
//! batch's offers in one query, classify every record with `preciso_core::reconcile::decide`
//! (in file order, tracking in-batch state), then write stores, products, offers, touches and
//! history as one set-based statement each over `UNNEST`ed arrays. The first run into an
//! empty catalog is an initial load instead (`crate::bulk`): it appends by `COPY` to tables
//! without keys, sets possible repeats aside, and replays them once its end built the keys.

use crate::{PgCatalog, backend, now};
use postgres::Client;
use postgres::types::{ToSql, Type};
use preciso_core::best::EVERY_PRODUCT;
use preciso_core::domain::{
    Availability, IngestCounts, IngestFile, IngestStatus, Offer, category_key, fold_for_matching,
};
use preciso_core::ports::{IngestSession, NewIngestFile, StoreError};
use preciso_core::reconcile::{Decision, StoredOffer, UnwrittenThisRun};
use preciso_sql::market::RunMarks;
use std::collections::{BTreeMap, BTreeSet, HashMap};

const DRY_RUN_FILE_ID: i64 = -1;

pub(crate) struct PgSession<'a> {
    catalog: &'a PgCatalog,
    client: Client,
    file_id: i64,
    dry_run: bool,
    changed: bool,
    /// How its batches marked the market summary (whether its price analyses still hold).
    marks: RunMarks,
    /// Whether any batch rewrote offer rows (inserts, updates or `last_seen` touches), which
    /// clears their pages' visibility-map bits.
    rewrote: bool,
    /// An initial load into an empty catalog: indexes and keys are built at the end (`bulk`).
    bulk: Option<crate::bulk::BulkLoad>,
    /// Offers this run found unchanged without writing (forgotten when a batch rolls back).
    unwritten: UnwrittenThisRun,
    /// A deliberate backfill (`NewIngestFile::backfill`).
    backfill: bool,
}

impl PgCatalog {
    pub(crate) fn start_session(
        &self,
        file: &NewIngestFile,
        dry_run: bool,
    ) -> Result<PgSession<'_>, StoreError> {
        let mut client = self.new_client()?;
        // Every query of the writer finds rows by key. Without this, a catalog that grew
        // since it was last analyzed (an initial load most of all) gets sequential scans for
        // the batch's `id = ANY(...)` lookups: quadratic in the load's size.
        client.batch_execute("SET enable_seqscan = off").map_err(backend)?;
        // Batches commit without waiting for their WAL flush. A server crash may then lose the
        // last batches of a run that has not finished, which leaves that run `running` in the
        // ledger and a re-run converges, as after any crash. `finish` commits the run's status
        // synchronously, and that flush covers every batch before it: a run reported done is
        // durable whole.
        client.batch_execute("SET synchronous_commit = off").map_err(backend)?;
        let bulk = if dry_run { None } else { crate::bulk::begin(&mut client)? };
        if bulk.is_none() {
            // Writes need the keys: those a load running elsewhere dropped (this waits for its
            // end; a load whose drops commit after this check is waited for by each batch,
            // `bulk::batch_turn`), or those a crashed one left unbuilt.
            crate::bulk::restore(&mut client, &self.connector, true)?;
        }
        let clean_at_start = !market_marked(&mut client)?;
        let file_id = if dry_run {
            client.batch_execute("BEGIN").map_err(backend)?;
            crate::bulk::batch_turn(&mut client)?;
            DRY_RUN_FILE_ID
        } else {
            client
                .execute("UPDATE ingest_files SET status = 'superseded' WHERE sha256 = $1 AND status = 'running'", &[&file.sha256])
                .map_err(backend)?;
            client
                .query_one(
                    "INSERT INTO ingest_files (name, sha256, size, store_id, received_at, status)
                     VALUES ($1, $2, $3, $4, $5, 'running') RETURNING id",
                    &[
                        &file.name,
                        &file.sha256,
                        &(file.size as i64),
                        &file.store.as_ref().map(|s| s.as_str()),
                        &file.received_at,
                    ],
                )
                .map_err(backend)?
                .get(0)
        };
        Ok(PgSession {
            catalog: self,
            client,
            file_id,
            dry_run,
            changed: false,
            marks: RunMarks::new(clean_at_start),
            rewrote: false,
            bulk,
            unwritten: UnwrittenThisRun::default(),
            backfill: file.backfill,
        })
    }
}

/// What the writer needs to know of a stored offer beyond `StoredOffer`.
#[derive(Clone)]
struct State {
    core: StoredOffer,
    first_seen: i64,
    prev_price_minor: Option<i64>,
    price_changed_at: i64,
}

/// The full row an insert or update writes.
struct OfferRow<'o> {
    offer: &'o Offer,
    first_seen: i64,
    last_seen: i64,
    prev_price_minor: Option<i64>,
    price_changed_at: i64,
}

impl IngestSession for PgSession<'_> {
    fn file_id(&self) -> i64 {
        self.file_id
    }

    fn apply_batch(
        &mut self,
        offers: &[Offer],
        reader_counts: &IngestCounts,
    ) -> Result<IngestCounts, StoreError> {
        if self.dry_run {
            let batch = Batch {
                offers,
                file_id: self.file_id,
                reader: reader_counts,
                backfill: self.backfill,
            };
            return write_batch(&mut self.client, &batch, &mut self.unwritten).map(|(c, _)| c);
        }
        self.client.batch_execute("BEGIN").map_err(backend)?;
        let batch =
            Batch { offers, file_id: self.file_id, reader: reader_counts, backfill: self.backfill };
        let result = crate::bulk::batch_turn(&mut self.client)
            .and_then(|()| match self.bulk.as_mut() {
                Some(load) => write_bulk_batch(&mut self.client, load, &batch, &mut self.unwritten),
                None => write_batch(&mut self.client, &batch, &mut self.unwritten),
            })
            .and_then(|(c, rewrote)| {
                add_ledger_counts(&mut self.client, self.file_id, &c).map(|()| (c, rewrote))
            })
            .and_then(|(c, rewrote)| {
                if RunMarks::batch_marks(&c) {
                    self.client.execute(preciso_sql::market::MARK, &[]).map_err(backend)?;
                }
                Ok((c, rewrote))
            })
            // A failed commit is a rolled-back batch too.
            .and_then(|x| self.client.batch_execute("COMMIT").map(|()| x).map_err(backend));
        match result {
            Ok((c, rewrote)) => {
                self.changed |= c.inserted + c.updated > 0;
                if RunMarks::batch_marks(&c) {
                    self.marks.marked();
                }
                self.rewrote |= rewrote;
                Ok(c)
            }
            Err(e) => {
                let _ = self.client.batch_execute("ROLLBACK");
                self.unwritten.clear();
                if let Some(load) = self.bulk.as_mut() {
                    load.rolled_back();
                }
                Err(e)
            }
        }
    }

    fn finish(
        mut self: Box<Self>,
        status: IngestStatus,
        error: Option<String>,
    ) -> Result<Option<IngestFile>, StoreError> {
        if self.dry_run {
            self.client.batch_execute("ROLLBACK").map_err(backend)?;
            return Ok(None);
        }
        // An initial load's deferred indexes and keys, then the records it set aside, written
        // the ordinary way (by key, sequential scans off again).
        // (Its Bloom filters are freed here, before the builds.)
        let loaded = self.bulk.take().is_some();
        if loaded {
            crate::bulk::end_load(&mut self.client, &self.catalog.connector)?;
            self.replay_repeats()?;
            crate::bulk::release(&mut self.client)?;
        }
        self.client.batch_execute("RESET synchronous_commit").map_err(backend)?;
        // The refreshes below are whole-table aggregates, and readers plan with the
        // statistics: both want the planner's defaults and fresh statistics.
        self.client.batch_execute("RESET enable_seqscan").map_err(backend)?;
        if loaded {
            // The summaries below read the offers through covering indexes, which skip the
            // table only for pages the visibility map marks all-visible, and a load's pages
            // are marked by no one yet. Unmarked, each read fetched every row's page at random:
            // at 10M offers the market summary's scans took 230 s of the end's 262 (the
            // VACUUM a run ends with, moved here: it costs the same).
            self.client.batch_execute("VACUUM offers").map_err(backend)?;
        }
        if self.changed {
            self.client
                .batch_execute("ANALYZE offers, products, price_history")
                .map_err(backend)?;
            refresh_category_stats(&mut self.client)?;
        }
        // Those of a load that crashed meanwhile, which a long-running process would
        // otherwise only rebuild when it restarts or runs again.
        if !loaded {
            crate::bulk::restore(&mut self.client, &self.catalog.connector, false)?;
        }
        let marked = market_marked(&mut self.client)?;
        let prices_as_of = self.marks.prices_as_of(self.changed);
        let this = &mut *self;
        std::thread::scope(|scope| {
            // The market summary only reads the offers, as the best-price and trending
            // refreshes do, and writes tables of its own: a second connection rebuilds it
            // meanwhile, on a second server process (docs/DECISIONS.md). Not marked stale,
            // it needs no connection.
            let market = marked
                .then(|| scope.spawn(|| market_beside(&this.catalog.connector, prices_as_of)));
            crate::best::refresh(&mut this.client)?;
            crate::identity::refresh_trends(&mut this.client)?;
            let refused = match market.map(|m| m.join()) {
                None => false,
                Some(Ok(result)) => !result?,
                Some(Err(panic)) => std::panic::resume_unwind(panic),
            };
            if refused {
                refresh_market_keeping(&mut this.client, prices_as_of)?;
            }
            Ok::<(), StoreError>(())
        })?;
        if self.rewrote {
            // Category reads are index-only scans, which skip the table only for pages the
            // visibility map marks all-visible; a run rewrites row versions on most pages and
            // clears those marks until autovacuum comes by. Without this, the first reads
            // after a 1M-offer run read the table (price analysis 280 ms instead of 36 ms).
            let tables = if loaded { "product_best" } else { "offers, product_best" };
            self.client.batch_execute(&format!("VACUUM {tables}")).map_err(backend)?;
        }
        // The run ends last: replicas drop their cached answers when they see it end
        // (`ingest_marker`), so every summary it refreshed is written by then.
        self.client
            .execute(
                "UPDATE ingest_files SET status = $1, error = $2, finished_at = $3 WHERE id = $4",
                &[&status.as_str(), &error, &now(), &self.file_id],
            )
            .map_err(backend)?;
        self.catalog.ingest_file(self.file_id).map(Some)
    }
}

impl PgSession<'_> {
    /// Writes the records an initial load set aside, in file order, now that the keys exist;
    /// their counts go to the ledger like any batch's.
    fn replay_repeats(&mut self) -> Result<(), StoreError> {
        let mut after = 0;
        loop {
            let (offers, last) = crate::bulk::deferred(&mut self.client, after)?;
            if offers.is_empty() {
                return Ok(());
            }
            self.apply_batch(&offers, &IngestCounts::default())?;
            after = last;
        }
    }
}

/// Median per category and currency (PostgreSQL's `percentile_cont`; rounded half away from
/// zero through NUMERIC, like the SQLite adapter). Two runs ending at once refresh one after
/// the other: the table lock (which readers do not wait for) makes the second's DELETE see the
/// rows the first inserted, which its snapshot would otherwise miss, and its INSERT then
/// collided with them.
///
/// The market summary is marked in the same transaction: its value lists were ranked with the
/// medians replaced here, and another rebuild may have cleared the run's own marks meanwhile.
pub(crate) fn refresh_category_stats(client: &mut Client) -> Result<(), StoreError> {
    client
        .batch_execute(&format!(
            "BEGIN;
             LOCK TABLE category_stats IN SHARE ROW EXCLUSIVE MODE;
             DELETE FROM category_stats;
             INSERT INTO category_stats (category_key, currency, offers, median_minor)
             SELECT category_key, currency, count(*),
                    CAST(ROUND(CAST(percentile_cont(0.5) WITHIN GROUP (ORDER BY price_minor) AS NUMERIC)) AS BIGINT)
             FROM offers WHERE category_key IS NOT NULL GROUP BY category_key, currency;
             {};
             COMMIT;",
            preciso_sql::market::MARK
        ))
        .map_err(backend)
}

fn add_ledger_counts(
    client: &mut Client,
    file_id: i64,
    c: &IngestCounts,
) -> Result<(), StoreError> {
    let n = |v: u64| v as i64;
    client
        .execute(
            "UPDATE ingest_files SET read = read + $1, inserted = inserted + $2, updated = updated + $3,
                 unchanged = unchanged + $4, duplicate = duplicate + $5, rejected = rejected + $6 WHERE id = $7",
            &[&n(c.read), &n(c.inserted), &n(c.updated), &n(c.unchanged), &n(c.duplicate), &n(c.rejected), &file_id],
        )
        .map(drop)
        .map_err(backend)
}

fn load_states(client: &mut Client, offers: &[Offer]) -> Result<HashMap<i64, State>, StoreError> {
    let ids: Vec<i64> = offers.iter().map(|o| o.id.as_i64()).collect();
    let rows = client
        .query(
            "SELECT id, content_hash, price_minor, list_price_minor, availability, last_seen, last_file_id,
                    first_seen, prev_price_minor, price_changed_at
             FROM offers WHERE id = ANY($1)",
            &[&ids],
        )
        .map_err(backend)?;
    Ok(rows
        .iter()
        .map(|r| {
            let hash: Vec<u8> = r.get(1);
            let availability: String = r.get(4);
            let state = State {
                core: StoredOffer {
                    content_hash: hash.try_into().unwrap_or([0; 32]),
                    price_minor: r.get(2),
                    list_price_minor: r.get(3),
                    availability: Availability::from_db(&availability),
                    last_seen: r.get(5),
                    last_file_id: r.get(6),
                },
                first_seen: r.get(7),
                prev_price_minor: r.get(8),
                price_changed_at: r.get(9),
            };
            (r.get::<_, i64>(0), state)
        })
        .collect())
}

/// Batch plan: final offer rows, touched `last_seen`s, history rows, all keyed so that an id
/// appears once per statement (PostgreSQL refuses to upsert one row twice in a statement).
#[derive(Default)]
struct Plan<'o> {
    rows: BTreeMap<i64, OfferRow<'o>>,
    touches: BTreeMap<i64, i64>,
    /// (offer, time) → the observation and its arrival (`Decision::arrival`).
    history: BTreeMap<(i64, i64), (&'o Offer, i64)>,
    /// Offers whose trending drop row may have changed (`Decision::moves_drop`).
    trend: std::collections::BTreeSet<i64>,
}

/// One batch of a run, as the writer receives it.
struct Batch<'a> {
    offers: &'a [Offer],
    file_id: i64,
    reader: &'a IngestCounts,
    backfill: bool,
}

fn write_batch(
    client: &mut Client,
    batch: &Batch<'_>,
    unwritten: &mut UnwrittenThisRun,
) -> Result<(IngestCounts, bool), StoreError> {
    let Batch { offers, file_id, reader, backfill } = *batch;
    let mut counts = reader_only(reader);
    let mut states = load_states(client, offers)?;
    let mut plan = Plan::default();
    for offer in offers {
        let id = offer.id.as_i64();
        let stored = states.get(&id).cloned();
        let decision = unwritten.decide(stored.as_ref().map(|s| &s.core), offer, file_id);
        decision.count(&mut counts);
        if decision.appends_history() {
            plan.history.insert((id, offer.observed_at), (offer, decision.arrival(backfill)));
        }
        if decision.moves_drop() {
            plan.trend.insert(id);
        }
        let next = plan_offer(&mut plan, stored, offer, decision, file_id);
        states.insert(id, next);
    }
    write_stores(client, offers)?;
    write_products(client, &plan)?;
    mark_products(client, &plan, false)?;
    write_offers(client, &plan, file_id)?;
    write_touches(client, &plan, file_id)?;
    write_history(client, &plan)?;
    mark_trends(client, &plan)?;
    Ok((counts, !plan.rows.is_empty() || !plan.touches.is_empty()))
}

/// The counts a batch starts from: what the reader read and rejected.
fn reader_only(reader: &IngestCounts) -> IngestCounts {
    IngestCounts { read: reader.read, rejected: reader.rejected, ..Default::default() }
}

/// A batch of an initial load (`crate::bulk`): each offer's first record, its first
/// observation and its product appended by binary `COPY` (nothing stored can match them, and
/// no unique index is kept up), a record whose offer the load may have seen set aside for the
/// replay at its end.
fn write_bulk_batch(
    client: &mut Client,
    load: &mut crate::bulk::BulkLoad,
    batch: &Batch<'_>,
    unwritten: &mut UnwrittenThisRun,
) -> Result<(IngestCounts, bool), StoreError> {
    use crate::bulk::ProductRow;
    let Batch { offers, file_id, reader, backfill } = *batch;
    let mut counts = reader_only(reader);
    let mut plan = Plan::default();
    let (mut repeats, mut new_products, mut maybe_products) = (Vec::new(), Vec::new(), Vec::new());
    for offer in offers {
        let id = offer.id.as_i64();
        if load.seen_offer(id) {
            repeats.push(offer);
            continue;
        }
        let decision = unwritten.decide(None, offer, file_id);
        decision.count(&mut counts);
        if decision.appends_history() {
            plan.history.insert((id, offer.observed_at), (offer, decision.arrival(backfill)));
        }
        if decision.moves_drop() {
            plan.trend.insert(id);
        }
        match load.product(offer.product_id.as_i64()) {
            ProductRow::Written => {}
            ProductRow::New => new_products.push(offer),
            ProductRow::Maybe => maybe_products.push(offer),
        }
        plan_offer(&mut plan, None, offer, decision, file_id);
    }
    write_stores(client, offers)?;
    copy_products(client, "products", &new_products).map_err(backend)?;
    copy_products(client, "bulk_products", &maybe_products).map_err(backend)?;
    mark_products(client, &plan, true)?;
    if !plan.rows.is_empty() {
        copy_offers(client, plan.rows.values(), file_id).map_err(backend)?;
        copy_history(client, plan.history.iter()).map_err(backend)?;
    }
    copy_repeats(client, &repeats).map_err(backend)?;
    mark_trends(client, &plan)?;
    Ok((counts, !plan.rows.is_empty()))
}

/// Records the writes of one decision and returns the offer's state after it.
fn plan_offer<'o>(
    plan: &mut Plan<'o>,
    stored: Option<State>,
    offer: &'o Offer,
    decision: Decision,
    file_id: i64,
) -> State {
    let id = offer.id.as_i64();
    match (decision, stored) {
        (Decision::Insert | Decision::Update { .. }, stored) => {
            let price = offer.price.minor;
            let (first_seen, last_seen, prev, changed) = match &stored {
                None => (offer.observed_at, offer.observed_at, None, offer.observed_at),
                Some(s) if s.core.price_minor != price => (
                    s.first_seen,
                    s.core.last_seen.max(offer.observed_at),
                    Some(s.core.price_minor),
                    offer.observed_at,
                ),
                Some(s) => (
                    s.first_seen,
                    s.core.last_seen.max(offer.observed_at),
                    s.prev_price_minor,
                    s.price_changed_at,
                ),
            };
            plan.touches.remove(&id);
            plan.rows.insert(
                id,
                OfferRow {
                    offer,
                    first_seen,
                    last_seen,
                    prev_price_minor: prev,
                    price_changed_at: changed,
                },
            );
            State {
                core: StoredOffer {
                    content_hash: offer.content_hash,
                    price_minor: price,
                    list_price_minor: offer.list_price.map(|m| m.minor),
                    availability: offer.availability,
                    last_seen,
                    last_file_id: file_id,
                },
                first_seen,
                prev_price_minor: prev,
                price_changed_at: changed,
            }
        }
        (decision, Some(mut s)) => {
            if let Decision::Unchanged { touch_last_seen: true } = decision {
                s.core.last_seen = s.core.last_seen.max(offer.observed_at);
                match plan.rows.get_mut(&id) {
                    Some(row) => row.last_seen = s.core.last_seen,
                    None => {
                        plan.touches.insert(id, s.core.last_seen);
                    }
                }
            }
            s.core.last_file_id = file_id;
            s
        }
        (_, None) => unreachable!("decide returns Insert when nothing is stored"),
    }
}

fn mark_trends(client: &mut Client, plan: &Plan<'_>) -> Result<(), StoreError> {
    if plan.trend.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = plan.trend.iter().copied().collect();
    exec(
        client,
        "INSERT INTO trend_dirty (offer_id) SELECT * FROM UNNEST($1::bigint[])
         ON CONFLICT (offer_id) DO NOTHING",
        &[&ids],
    )
}

fn exec(client: &mut Client, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<(), StoreError> {
    client.execute(sql, params).map(drop).map_err(backend)
}

fn write_stores(client: &mut Client, offers: &[Offer]) -> Result<(), StoreError> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for o in offers {
        seen.entry(o.store.as_str()).or_insert(o.price.currency.code());
    }
    let ids: Vec<&str> = seen.keys().copied().collect();
    let currencies: Vec<&str> = seen.values().copied().collect();
    exec(
        client,
        "INSERT INTO stores (id, name, currency, created_at)
         SELECT s, s, c, $3 FROM UNNEST($1::text[], $2::text[]) AS t(s, c)
         ON CONFLICT (id) DO NOTHING",
        &[&ids, &currencies, &now()],
    )?;
    // Freshness: each store's newest observation moves forward, never back.
    let mut newest: BTreeMap<&str, i64> = BTreeMap::new();
    for o in offers {
        let at = newest.entry(o.store.as_str()).or_insert(o.observed_at);
        *at = (*at).max(o.observed_at);
    }
    let ids: Vec<&str> = newest.keys().copied().collect();
    let seen: Vec<i64> = newest.values().copied().collect();
    exec(
        client,
        "UPDATE stores SET last_seen_at = t.seen FROM UNNEST($1::text[], $2::bigint[]) AS t(id, seen)
         WHERE stores.id = t.id AND (stores.last_seen_at IS NULL OR stores.last_seen_at < t.seen)",
        &[&ids, &seen],
    )
}

fn write_products(client: &mut Client, plan: &Plan<'_>) -> Result<(), StoreError> {
    let mut by_id: BTreeMap<i64, &Offer> = BTreeMap::new();
    for row in plan.rows.values() {
        by_id.entry(row.offer.product_id.as_i64()).or_insert(row.offer);
    }
    if by_id.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = by_id.keys().copied().collect();
    let o: Vec<&Offer> = by_id.values().copied().collect();
    let gtins: Vec<Option<&str>> = o.iter().map(|x| x.gtin.as_ref().map(|g| g.as_str())).collect();
    let brands: Vec<Option<&str>> = o.iter().map(|x| x.brand.as_deref()).collect();
    let titles: Vec<&str> = o.iter().map(|x| x.title.as_str()).collect();
    let cats: Vec<Option<&str>> = o.iter().map(|x| x.category.as_deref()).collect();
    let at: Vec<i64> = o.iter().map(|x| x.observed_at).collect();
    exec(
        client,
        "INSERT INTO products (id, gtin, brand, title, category, created_at)
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
         ON CONFLICT DO NOTHING",
        &[&ids, &gtins, &brands, &titles, &cats, &at],
    )
}

/// Marks, in the batch's transaction, the products whose best-offer rows the batch changes:
/// those the written offers get and those they have until now; an initial load marks
/// `EVERY_PRODUCT` instead (one row, not one per product). An existing mark is updated, not
/// skipped, so it is row-locked until this batch commits: a refresh taking the marks
/// meanwhile waits, then sees this batch's offers.
fn mark_products(client: &mut Client, plan: &Plan<'_>, bulk: bool) -> Result<(), StoreError> {
    if plan.rows.is_empty() {
        return Ok(());
    }
    let products: Vec<i64> = if bulk {
        vec![EVERY_PRODUCT]
    } else {
        // The stored product is read here, row-locked until this batch commits, rather than
        // taken from `load_states`: an overlapping run may have moved the offer since.
        let ids: Vec<i64> = plan.rows.keys().copied().collect();
        let current = client
            .query(
                "SELECT product_id FROM offers WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
                &[&ids],
            )
            .map_err(backend)?;
        let mut marks: BTreeSet<i64> =
            plan.rows.values().map(|r| r.offer.product_id.as_i64()).collect();
        marks.extend(current.iter().map(|r| r.get::<_, i64>(0)));
        marks.into_iter().collect()
    };
    exec(
        client,
        "INSERT INTO product_best_dirty (product_id) SELECT * FROM UNNEST($1::bigint[])
         ON CONFLICT (product_id) DO UPDATE SET product_id = EXCLUDED.product_id",
        &[&products],
    )
}

/// Sets an initial load's records aside in `bulk_repeats` (`crate::bulk`), in the batch's
/// transaction: a rolled-back batch takes them back.
fn copy_repeats(client: &mut Client, offers: &[&Offer]) -> Result<(), postgres::Error> {
    if offers.is_empty() {
        return Ok(());
    }
    const TYPES: [Type; 18] = [
        INT,
        TEXT,
        TEXT,
        TEXT,
        INT,
        TEXT,
        TEXT,
        TEXT,
        TEXT,
        TEXT,
        INT,
        TEXT,
        INT,
        TEXT,
        INT,
        INT,
        INT,
        Type::BYTEA,
    ];
    let sink = client.copy_in(&format!(
        "COPY bulk_repeats ({}) FROM STDIN BINARY",
        preciso_sql::repeats::COLUMNS
    ))?;
    let mut w = postgres::binary_copy::BinaryCopyInWriter::new(sink, &TYPES);
    for o in offers {
        w.write(&[
            &o.id.as_i64(),
            &o.store.as_str(),
            &o.sku,
            &o.url,
            &o.product_id.as_i64(),
            &o.title,
            &o.brand,
            &o.category,
            &o.gtin.as_ref().map(|g| g.as_str()),
            &o.image_url,
            &o.price.minor,
            &o.price.currency.code(),
            &o.list_price.map(|m| m.minor),
            &o.availability.as_str(),
            &o.rating.map(|r| i64::from(r.hundredths())),
            &o.review_count.map(i64::from),
            &o.observed_at,
            &o.content_hash.as_slice(),
        ])?;
    }
    w.finish().map(drop)
}

/// Appends the products of `offers` to `table` (`products` or `bulk_products`) by binary
/// `COPY`.
fn copy_products(
    client: &mut Client,
    table: &str,
    offers: &[&Offer],
) -> Result<(), postgres::Error> {
    if offers.is_empty() {
        return Ok(());
    }
    let sink = client.copy_in(&format!(
        "COPY {table} (id, gtin, brand, title, category, created_at) FROM STDIN BINARY"
    ))?;
    let types = [INT, TEXT, TEXT, TEXT, TEXT, INT];
    let mut w = postgres::binary_copy::BinaryCopyInWriter::new(sink, &types);
    for o in offers {
        w.write(&[
            &o.product_id.as_i64(),
            &o.gtin.as_ref().map(|g| g.as_str()),
            &o.brand,
            &o.title,
            &o.category,
            &o.observed_at,
        ])?;
    }
    w.finish().map(drop)
}

/// The columns `write_offers` and `copy_offers` write, in order.
const OFFER_COLUMNS: &str = "id, store_id, sku, url, product_id, title, brand, brand_key, category,
    category_key, gtin, image_url, price_minor, list_price_minor, currency, prev_price_minor,
    price_changed_at, availability, rating_centi, review_count, first_seen, last_seen,
    content_hash, last_file_id";

/// The types of `OFFER_COLUMNS`, in order (a binary `COPY` names each).
const OFFER_TYPES: [Type; 24] = [
    INT,
    TEXT,
    TEXT,
    TEXT,
    INT,
    TEXT,
    TEXT,
    TEXT,
    TEXT,
    TEXT,
    TEXT,
    TEXT,
    INT,
    INT,
    TEXT,
    INT,
    INT,
    TEXT,
    INT,
    INT,
    INT,
    INT,
    Type::BYTEA,
    INT,
];
const INT: Type = Type::INT8;
const TEXT: Type = Type::TEXT;

fn copy_offers<'r, 'o: 'r>(
    client: &mut Client,
    rows: impl Iterator<Item = &'r OfferRow<'o>>,
    file_id: i64,
) -> Result<(), postgres::Error> {
    let sink = client.copy_in(&format!("COPY offers ({OFFER_COLUMNS}) FROM STDIN BINARY"))?;
    let mut w = postgres::binary_copy::BinaryCopyInWriter::new(sink, &OFFER_TYPES);
    for r in rows {
        let o = r.offer;
        w.write(&[
            &o.id.as_i64(),
            &o.store.as_str(),
            &o.sku,
            &o.url,
            &o.product_id.as_i64(),
            &o.title,
            &o.brand,
            &o.brand.as_deref().map(fold_for_matching),
            &o.category,
            &o.category.as_deref().map(category_key),
            &o.gtin.as_ref().map(|g| g.as_str()),
            &o.image_url,
            &o.price.minor,
            &o.list_price.map(|m| m.minor),
            &o.price.currency.code(),
            &r.prev_price_minor,
            &r.price_changed_at,
            &o.availability.as_str(),
            &o.rating.map(|x| i64::from(x.hundredths())),
            &o.review_count.map(i64::from),
            &r.first_seen,
            &r.last_seen,
            &o.content_hash.as_slice(),
            &file_id,
        ])?;
    }
    w.finish().map(drop)
}

fn copy_history<'r, 'o: 'r>(
    client: &mut Client,
    rows: impl Iterator<Item = (&'r (i64, i64), &'r (&'o Offer, i64))>,
) -> Result<(), postgres::Error> {
    let types = [INT, INT, INT, INT, TEXT, TEXT, INT];
    let sink = client.copy_in(
        "COPY price_history (offer_id, observed_at, price_minor, list_price_minor, currency,
             availability, arrival) FROM STDIN BINARY",
    )?;
    let mut w = postgres::binary_copy::BinaryCopyInWriter::new(sink, &types);
    for ((id, at), (o, arrival)) in rows {
        w.write(&[
            id,
            at,
            &o.price.minor,
            &o.list_price.map(|m| m.minor),
            &o.price.currency.code(),
            &o.availability.as_str(),
            arrival,
        ])?;
    }
    w.finish().map(drop)
}

/// Upserts the plan's offer rows.
fn write_offers(client: &mut Client, plan: &Plan<'_>, file_id: i64) -> Result<(), StoreError> {
    let rows: Vec<&OfferRow<'_>> = plan.rows.values().collect();
    if rows.is_empty() {
        return Ok(());
    }
    let col =
        |f: &dyn Fn(&OfferRow<'_>) -> Option<String>| rows.iter().map(|r| f(r)).collect::<Vec<_>>();
    let int =
        |f: &dyn Fn(&OfferRow<'_>) -> Option<i64>| rows.iter().map(|r| f(r)).collect::<Vec<_>>();
    let ids = int(&|r| Some(r.offer.id.as_i64()));
    let stores = col(&|r| Some(r.offer.store.to_string()));
    let skus = col(&|r| r.offer.sku.clone());
    let urls = col(&|r| r.offer.url.clone());
    let products = int(&|r| Some(r.offer.product_id.as_i64()));
    let titles = col(&|r| Some(r.offer.title.clone()));
    let brands = col(&|r| r.offer.brand.clone());
    let brand_keys = col(&|r| r.offer.brand.as_deref().map(fold_for_matching));
    let cats = col(&|r| r.offer.category.clone());
    let cat_keys = col(&|r| r.offer.category.as_deref().map(category_key));
    let gtins = col(&|r| r.offer.gtin.as_ref().map(|g| g.to_string()));
    let images = col(&|r| r.offer.image_url.clone());
    let prices = int(&|r| Some(r.offer.price.minor));
    let lists = int(&|r| r.offer.list_price.map(|m| m.minor));
    let currencies = col(&|r| Some(r.offer.price.currency.code().to_string()));
    let prevs = int(&|r| r.prev_price_minor);
    let changed = int(&|r| Some(r.price_changed_at));
    let avail = col(&|r| Some(r.offer.availability.as_str().to_string()));
    let ratings = int(&|r| r.offer.rating.map(|x| i64::from(x.hundredths())));
    let reviews = int(&|r| r.offer.review_count.map(i64::from));
    let first = int(&|r| Some(r.first_seen));
    let last = int(&|r| Some(r.last_seen));
    let hashes: Vec<Vec<u8>> = rows.iter().map(|r| r.offer.content_hash.to_vec()).collect();
    let files: Vec<i64> = vec![file_id; rows.len()];
    exec(
        client,
        &format!("INSERT INTO offers ({OFFER_COLUMNS})
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[],
             $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[],
             $14::bigint[], $15::text[], $16::bigint[], $17::bigint[], $18::text[], $19::bigint[],
             $20::bigint[], $21::bigint[], $22::bigint[], $23::bytea[], $24::bigint[])
         ON CONFLICT (id) DO UPDATE SET store_id = EXCLUDED.store_id, sku = EXCLUDED.sku,
             url = EXCLUDED.url, product_id = EXCLUDED.product_id, title = EXCLUDED.title,
             brand = EXCLUDED.brand, brand_key = EXCLUDED.brand_key, category = EXCLUDED.category,
             category_key = EXCLUDED.category_key, gtin = EXCLUDED.gtin, image_url = EXCLUDED.image_url,
             price_minor = EXCLUDED.price_minor, list_price_minor = EXCLUDED.list_price_minor,
             currency = EXCLUDED.currency, prev_price_minor = EXCLUDED.prev_price_minor,
             price_changed_at = EXCLUDED.price_changed_at, availability = EXCLUDED.availability,
             rating_centi = EXCLUDED.rating_centi, review_count = EXCLUDED.review_count,
             last_seen = EXCLUDED.last_seen, content_hash = EXCLUDED.content_hash,
             last_file_id = EXCLUDED.last_file_id"),
        &[
            &ids, &stores, &skus, &urls, &products, &titles, &brands, &brand_keys, &cats, &cat_keys, &gtins,
            &images, &prices, &lists, &currencies, &prevs, &changed, &avail, &ratings, &reviews, &first, &last,
            &hashes, &files,
        ],
    )
}

fn write_touches(client: &mut Client, plan: &Plan<'_>, file_id: i64) -> Result<(), StoreError> {
    if plan.touches.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = plan.touches.keys().copied().collect();
    let seen: Vec<i64> = plan.touches.values().copied().collect();
    exec(
        client,
        "UPDATE offers SET last_seen = GREATEST(offers.last_seen, t.seen), last_file_id = $3
         FROM UNNEST($1::bigint[], $2::bigint[]) AS t(id, seen) WHERE offers.id = t.id",
        &[&ids, &seen, &file_id],
    )
}

/// Upserts the plan's observations.
fn write_history(client: &mut Client, plan: &Plan<'_>) -> Result<(), StoreError> {
    let rows: Vec<_> = plan.history.iter().collect();
    if rows.is_empty() {
        return Ok(());
    }
    let keys: Vec<&(i64, i64)> = rows.iter().map(|(k, _)| *k).collect();
    let offers: Vec<&Offer> = rows.iter().map(|(_, (o, _))| *o).collect();
    let arrivals: Vec<i64> = rows.iter().map(|(_, (_, a))| *a).collect();
    let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
    let at: Vec<i64> = keys.iter().map(|k| k.1).collect();
    let prices: Vec<i64> = offers.iter().map(|o| o.price.minor).collect();
    let lists: Vec<Option<i64>> = offers.iter().map(|o| o.list_price.map(|m| m.minor)).collect();
    let currencies: Vec<&str> = offers.iter().map(|o| o.price.currency.code()).collect();
    let avail: Vec<&str> = offers.iter().map(|o| o.availability.as_str()).collect();
    // Two observations of one offer in the same second: the later record wins.
    exec(
        client,
        "INSERT INTO price_history (offer_id, observed_at, price_minor, list_price_minor, currency, availability, arrival)
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::bigint[])
         ON CONFLICT (offer_id, observed_at) DO UPDATE SET price_minor = EXCLUDED.price_minor,
             list_price_minor = EXCLUDED.list_price_minor, currency = EXCLUDED.currency,
             availability = EXCLUDED.availability, arrival = EXCLUDED.arrival",
        &[&ids, &at, &prices, &lists, &currencies, &avail, &arrivals],
    )
}

/// Rebuilds the market summary (`preciso_core::market`) from one scan of the offers, read
/// through a portal a chunk at a time, in one transaction. Two runs ending at once refresh one
/// after the other (the lock), so the second's DELETE sees the first's rows.
pub(crate) fn refresh_market(client: &mut Client) -> Result<(), StoreError> {
    rebuild_keeping(client, None)
}

/// `refresh_market`, keeping the stored price analyses if the mark's generation is
/// `prices_as_of` (`preciso_sql::market::RunMarks`).
fn rebuild_keeping(client: &mut Client, prices_as_of: Option<i64>) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(backend)?;
    rebuild_market(&mut tx, prices_as_of)?;
    tx.commit().map_err(backend)
}

/// The same inside the caller's transaction: the offers in any order, then their prices in
/// product order, each read through a portal a chunk at a time. The category price analyses
/// are rebuilt too unless the mark's generation is `prices_as_of`: then no writer but a run
/// that changed no offer marked the summary since the analyses were written.
pub(crate) fn rebuild_market(
    tx: &mut postgres::Transaction<'_>,
    prices_as_of: Option<i64>,
) -> Result<(), StoreError> {
    use preciso_core::market::{MarketFold, MarketRow, PriceRow};
    tx.batch_execute("LOCK TABLE store_stats IN SHARE ROW EXCLUSIVE MODE").map_err(backend)?;
    let generation: Option<i64> =
        tx.query_opt(preciso_sql::market::GENERATION, &[]).map_err(backend)?.map(|r| r.get(0));
    let mut fold = MarketFold::default();
    scan(tx, preciso_sql::market::SCAN, &[], &mut |r| {
        let availability: &str = r.get(5);
        fold.push(MarketRow {
            offer: r.get(8),
            store: r.get(0),
            brand: r.get(6),
            brand_key: r.get(7),
            category: r.get(1),
            category_key: r.get(2),
            currency: r.get(3),
            last_seen: r.get(4),
            in_stock: availability == "in_stock",
            price_minor: r.get(9),
        });
    })?;
    scan(tx, preciso_sql::market::PRICE_SCAN, &[], &mut |r| {
        let availability: &str = r.get(4);
        fold.push_price(PriceRow {
            product_id: r.get(0),
            brand_key: r.get(5),
            category_key: r.get(6),
            currency: r.get(1),
            store: r.get(2),
            price_minor: r.get(3),
            buyable: availability != "out_of_stock",
        });
    })?;
    let market = fold.finish();
    preciso_sql::market::write(&mut crate::identity::PgTx::new(tx), &market, generation)?;
    let lists = value_lists(tx, &market)?;
    preciso_sql::market::write_value_lists(&mut crate::identity::PgTx::new(tx), &lists)?;
    // The lists of newest offers are rewritten whole: without statistics the planner took a
    // filtered date page's walk for one row and sorted the currency's whole list (64 ms at 1M,
    // 1.2 ms walked in rank order once analyzed).
    tx.batch_execute("ANALYZE market_recent, store_recent, market_value").map_err(backend)?;
    if prices_as_of.is_some() && generation == prices_as_of {
        return Ok(());
    }
    rebuild_price_analysis(tx, &market)
}

/// Each currency's value list (`preciso_sql::market::VALUE_KEPT` best offers by value score),
/// ranked as the listing's walk ranks a page (`read::value_ranks`: the threshold rule along
/// `offers_value`, read through a portal) in the rebuild's transaction; a currency whose walk
/// reaches its cap gets no list (its listing then walks or sorts, as before), and neither does
/// any while the value index is missing (a load's indexes not yet restored: each walk would
/// sort).
fn value_lists(
    tx: &mut postgres::Transaction<'_>,
    market: &preciso_core::market::Market,
) -> Result<Vec<(String, Vec<i64>)>, StoreError> {
    use preciso_core::query::{OfferFilter, Sort};
    use preciso_core::ranking::{Medians, page_by_passes};
    use preciso_sql::market::{VALUE_LIST_PAGE as PAGE, value_list_currencies};
    let indexed = tx.query_one("SELECT to_regclass('offers_value') IS NOT NULL", &[]);
    if !indexed.map_err(backend)?.get::<_, bool>(0) {
        return Ok(Vec::new());
    }
    // As the listing's walk (see `read.rs`), for the walks only: a planner that may sort would
    // sort each currency's offers instead of reading the index until the rule stops.
    tx.batch_execute("SET LOCAL enable_sort = off").map_err(backend)?;
    let mut lists = Vec::new();
    // The listing's total weighs whether to walk at all; a whole currency always walks.
    for (currency, _) in value_list_currencies(market) {
        let filter = OfferFilter { currency: Some(currency), ..Default::default() };
        let offers = "offers o";
        let Some(scan) = preciso_sql::reads::value_scan(&filter, Sort::Value, PAGE, None, offers)
        else {
            continue;
        };
        let medians = &scan.medians;
        let params = crate::bind(&medians.params);
        let rows = tx
            .query(&preciso_sql::numbered(&medians.sql), &crate::refs(&params))
            .map_err(backend)?;
        let medians: Medians = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        let ranks = page_by_passes(scan.passes.len(), 0, PAGE.limit, |pass, top| {
            let q = &scan.passes[pass];
            let params = crate::bind(&q.params);
            let portal =
                tx.bind(&preciso_sql::numbered(&q.sql), &crate::refs(&params)).map_err(backend)?;
            for batch in crate::read::portal_batches() {
                let rows = tx.query_portal(&portal, batch).map_err(backend)?;
                if rows.is_empty() || !crate::read::feed_walk(&rows, &medians, top) {
                    break;
                }
            }
            Ok(())
        })?;
        if let Some(ranks) = ranks {
            lists.push((currency.code().to_string(), ranks.iter().map(|r| r.id).collect()));
        }
    }
    tx.batch_execute("SET LOCAL enable_sort TO DEFAULT").map_err(backend)?;
    Ok(lists)
}

/// Reads `sql`'s rows through a portal, a chunk at a time.
fn scan(
    tx: &mut postgres::Transaction<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    each: &mut dyn FnMut(&postgres::Row),
) -> Result<(), StoreError> {
    const CHUNK: i32 = 10_000;
    let portal = tx.bind(sql, params).map_err(backend)?;
    loop {
        let rows = tx.query_portal(&portal, CHUNK).map_err(backend)?;
        rows.iter().for_each(&mut *each);
        if rows.len() < CHUNK as usize {
            return Ok(());
        }
    }
}

/// Every category path's price analysis in each currency (`preciso_core::analysis::category`),
/// a path at a time: each of its keys' offers an index-only scan of the category index.
fn rebuild_price_analysis(
    tx: &mut postgres::Transaction<'_>,
    market: &preciso_core::market::Market,
) -> Result<(), StoreError> {
    use preciso_core::analysis::category::{Names, PathPrices, plan};
    use preciso_sql::price_analysis::{CLEAR, KEY_PRICES, write};
    let counts = market.category_offers.iter();
    let plan = plan(counts.map(|c| (c.currency.as_str(), c.category_key.as_str(), c.offers)))
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    tx.batch_execute(CLEAR).map_err(backend)?;
    let sql = preciso_sql::numbered(KEY_PRICES);
    let mut names = Names::default();
    for path in plan {
        let mut prices = PathPrices::new(&mut names, path.offers);
        for key in &path.keys {
            scan(tx, &sql, &[key, &path.currency.code()], &mut |r| {
                prices.push(r.get(0), r.get(1), r.get(2));
            })?;
        }
        if let Some(a) = prices.finish(&path.path, path.currency) {
            write(&mut crate::identity::PgTx::new(tx), &[a])?;
        }
    }
    Ok(())
}

/// `refresh_market_if_marked` on a connection of its own; false when the server refused the
/// connection (the caller refreshes on its own).
fn market_beside(
    connector: &crate::tls::Connector,
    prices_as_of: Option<i64>,
) -> Result<bool, StoreError> {
    let mut client = match crate::connect_with(connector) {
        Ok(client) => client,
        Err(e) => {
            tracing::warn!(error = %e, "no second connection for the market summary");
            return Ok(false);
        }
    };
    refresh_market_keeping(&mut client, prices_as_of)?;
    Ok(true)
}

/// Rebuilds the market summary when it is marked stale (`market_dirty`): at the end of a run
/// whose batches read offers, and when a catalog opens after a run that died before that.
pub(crate) fn refresh_market_if_marked(client: &mut Client) -> Result<(), StoreError> {
    refresh_market_keeping(client, None)
}

/// `refresh_market_if_marked`, keeping the price analyses at `prices_as_of` (`rebuild_market`).
fn refresh_market_keeping(
    client: &mut Client,
    prices_as_of: Option<i64>,
) -> Result<(), StoreError> {
    if market_marked(client)? { rebuild_keeping(client, prices_as_of) } else { Ok(()) }
}

/// Whether the market summary is marked stale (`market_dirty`).
fn market_marked(client: &mut Client) -> Result<bool, StoreError> {
    let marked = client.query_opt(preciso_sql::market::GENERATION, &[]).map_err(backend)?;
    Ok(marked.is_some())
}

#[cfg(test)]
mod tests {
    /// New medians mark the market summary: its value lists rank by them, and a summary
    /// cleared since the run's batches marked it would otherwise keep lists ranked with the
    /// old ones.
    #[test]
    fn new_category_medians_mark_the_market_summary() {
        let Some(db) = crate::testing::TempDb::create("medians_mark") else { return };
        drop(crate::PgCatalog::open(&db.url).unwrap());
        let mut client = crate::connect(&db.url).unwrap();
        super::refresh_market(&mut client).unwrap();
        assert!(!super::market_marked(&mut client).unwrap(), "rebuilt: clean");
        super::refresh_category_stats(&mut client).unwrap();
        assert!(super::market_marked(&mut client).unwrap(), "marked with the medians");
    }
}
