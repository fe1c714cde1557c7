//! Which ids an initial load has written: a Bloom filter over 64-bit ids, shared by both store
//! adapters. An initial load appends to tables without their unique indexes (docs/DECISIONS.md,
//! "Initial loads append"), so it cannot ask the catalog whether it stored an id before; this
//! filter answers "certainly not" for nearly every new id and "maybe" for every repeat, and
//! the load sets the maybes aside for its end.

/// Which ids this load has written or set aside: a Bloom filter over the ids themselves
/// (already uniform 64-bit hashes, so no hashing), grown by adding a filter half again the
/// size of the last whenever that one is full. A set of 10M ids took ~150 MB. Growing by half,
/// not by doubling into power-of-two tables, keeps less unused room, each filter sized exactly
/// (an id maps onto the filter's blocks by multiplication rather than by a mask).
///
/// Each filter is blocked: an id's bits all lie in one 64-byte block, one cache line, so a
/// check costs one cache miss per filter and the insert none more. Probes spread over the
/// whole filter cost a miss each once the filters outgrow the CPU's caches: 10M offer and
/// product ids checked and inserted took 3.3 s against 57 ms for 1M (`seen_ids_cost`, 14 + 10
/// probes), and `check_and_insert` rose from 6% to 8% of a 10M load's CPU as it went on
/// (docs/BENCHMARKS.md). A block holds the bits of ~21 ids at 24 bits an id, unevenly, so at
/// equal bits a blocked filter takes more ids for seen; the bits an id are raised to match.
///
/// An id is checked against every filter, so false positives add up as filters are added:
/// with 15 bits an id (~0.07% per full filter) a 10M load took 0.18% of its new offers for
/// seen (about 15,000, where a 1M load took ~50), and each was replayed through the ordinary
/// writer at the load's end, a dozen random index pages apiece: the replay took 12.8 s at 10M
/// against 0.05 s at 1M (docs/BENCHMARKS.md). Offers therefore get `OFFER_FILTER` (~0.005% per
/// full filter, ~40 MB at 10M ids); a product taken for seen only costs a row set aside (SQLite's
/// `bulk_suspects`, PostgreSQL's `bulk_products`), so products get fewer, `PRODUCT_FILTER`
/// (~0.08% per full filter).
pub struct SeenIds {
    filters: Vec<Bloom>,
    size: FilterSize,
}

struct Bloom {
    /// The blocks: an anonymous map where the system gives one, so that a dropped filter
    /// leaves the process at once (mimalloc kept the freed filters of a 10M load, 69 MB,
    /// resident through the index builds that followed: peak RssAnon 156 MB) and the map is
    /// page-aligned, each block one cache line; huge pages asked for, so that probes across
    /// tens of MB do not each miss the TLB as well.
    bytes: Bytes,
    len: usize,
    capacity: usize,
}

/// One cache line of a filter (a block of a map starts on one).
type Block = [u8; 64];

enum Bytes {
    Mapped(memmap2::MmapMut),
    /// Where mapping failed (its blocks may straddle two cache lines).
    Heap(Vec<u8>),
}

impl Bytes {
    fn zeroed(len: usize) -> Self {
        match memmap2::MmapMut::map_anon(len) {
            Ok(map) => {
                // Only advice: without huge pages the filter works the same.
                #[cfg(target_os = "linux")]
                let _ = map.advise(memmap2::Advice::HugePage);
                Bytes::Mapped(map)
            }
            Err(e) => {
                tracing::debug!(error = %e, "Bloom filter not mapped; allocated");
                Bytes::Heap(vec![0; len])
            }
        }
    }

    fn blocks(&self) -> &[Block] {
        match self {
            Bytes::Mapped(map) => map.as_chunks().0,
            Bytes::Heap(v) => v.as_chunks().0,
        }
    }

    fn blocks_mut(&mut self) -> &mut [Block] {
        match self {
            Bytes::Mapped(map) => map.as_chunks_mut().0,
            Bytes::Heap(v) => v.as_chunks_mut().0,
        }
    }
}

/// Bits an id and bits set an id, of the offers' filters and of the products'. The probes are
/// the count that gives a 512-bit block the fewest false positives at those bits an id (~512/bits
/// ids a block, Poisson distributed).
#[derive(Clone, Copy)]
pub struct FilterSize {
    bits_per_id: usize,
    probes: u32,
}

pub const OFFER_FILTER: FilterSize = FilterSize { bits_per_id: 24, probes: 13 };
pub const PRODUCT_FILTER: FilterSize = FilterSize { bits_per_id: 16, probes: 10 };
// `mask` draws at most 14 positions from its two mixes.
const _: () = assert!(OFFER_FILTER.probes <= 14 && PRODUCT_FILTER.probes <= 14);
const FIRST_CAPACITY: usize = 1 << 20;

impl Bloom {
    fn with_capacity(capacity: usize, size: FilterSize) -> Self {
        let blocks = (capacity * size.bits_per_id).div_ceil(512).max(1);
        Bloom { bytes: Bytes::zeroed(blocks * size_of::<Block>()), len: 0, capacity }
    }

    /// The id's block: Lemire's multiply-shift of the id onto the blocks.
    fn block(id: u64, blocks: &[Block]) -> usize {
        ((u128::from(id) * blocks.len() as u128) >> 64) as usize
    }

    /// Whether every bit of `mask` is set in the id's block: without a branch, so that the
    /// loads of several filters are in flight at once.
    fn matches(&self, id: u64, mask: &Block) -> bool {
        let blocks = self.bytes.blocks();
        let block = &blocks[Self::block(id, blocks)];
        block.iter().zip(mask).fold(0, |missing, (b, m)| missing | (m & !b)) == 0
    }

    fn insert(&mut self, id: u64, mask: &Block) {
        let blocks = self.bytes.blocks_mut();
        let block = Self::block(id, blocks);
        for (b, m) in blocks[block].iter_mut().zip(mask) {
            *b |= m;
        }
        self.len += 1;
    }

    #[cfg(test)]
    fn size_in_bytes(&self) -> usize {
        size_of_val(self.bytes.blocks())
    }
}

/// An id's bits within a block (the same in every filter): `probes` (at most 14) 9-bit
/// positions taken from two mixes of the id (splitmix64's finalizer), which the block's choice
/// (the id's top bits) does not determine.
fn mask(id: u64, probes: u32) -> Block {
    let mix = |mut x: u64| {
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        x ^ (x >> 31)
    };
    let halves = [mix(id), mix(id ^ 0x9E37_79B9_7F4A_7C15)];
    let mut mask = [0; 64];
    for i in 0..probes as usize {
        let p = (halves[i / 7] >> (9 * (i % 7))) as usize & 511;
        mask[p / 8] |= 1 << (p % 8);
    }
    mask
}

impl SeenIds {
    pub fn new(size: FilterSize) -> Self {
        SeenIds { filters: vec![Bloom::with_capacity(FIRST_CAPACITY, size)], size }
    }

    /// Whether `id` may have been seen; if not, it is from now on.
    pub fn check_and_insert(&mut self, id: i64) -> bool {
        let (id, mask) = (id as u64, mask(id as u64, self.size.probes));
        if self.filters.iter().fold(false, |seen, f| seen | f.matches(id, &mask)) {
            return true;
        }
        let last = self.filters.last().expect("at least one filter");
        if last.len >= last.capacity {
            let next = Bloom::with_capacity(last.capacity * 3 / 2, self.size);
            self.filters.push(next);
        }
        self.filters.last_mut().expect("at least one filter").insert(id, &mask);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ids as the hashes they are (SHA-256 prefixes): random over the whole range. A
    /// multiplicative sequence (`i × φ`) spaces its top bits evenly, filling the blocks far more
    /// evenly than real ids and showing a third of their false positives.
    fn id(i: u64) -> i64 {
        // MurmurHash3's finalizer, a bijection: distinct ids.
        let mut x = i.wrapping_add(0x2545_F491_4F6C_DD1D);
        x = (x ^ (x >> 33)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        x = (x ^ (x >> 33)).wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        (x ^ (x >> 33)) as i64
    }

    #[test]
    fn seen_ids_never_forget_and_rarely_invent() {
        let n = FIRST_CAPACITY as u64 * 4;
        // Per ten thousand new ids said seen, at most: the offers' filter keeps the replay of
        // a large load small (a 3M load: 154 of offers, 2,257 of products, by
        // `seen_ids_cost`).
        for (size, per_10k) in [(OFFER_FILTER, 2), (PRODUCT_FILTER, 30)] {
            let mut seen = SeenIds::new(size);
            let mut false_positives = 0;
            for i in 0..n {
                false_positives += seen.check_and_insert(id(i)) as u64;
            }
            assert!(seen.filters.len() >= 3, "grew past its first capacity");
            assert!(
                false_positives * 10_000 < n * per_10k,
                "{} bits: {false_positives} of {n} new ids said seen",
                size.bits_per_id
            );
            assert!((0..n).all(|i| seen.check_and_insert(id(i))), "every inserted id is seen");
        }
    }

    #[test]
    fn a_filter_on_the_heap_answers_as_a_mapped_one() {
        let size = OFFER_FILTER;
        let mapped = Bloom::with_capacity(10_000, size);
        let blocks = mapped.bytes.blocks().len();
        assert!(matches!(mapped.bytes, Bytes::Mapped(_)), "this system maps a filter");
        let heap = Bloom { bytes: Bytes::Heap(vec![0; blocks * 64]), len: 0, capacity: 10_000 };
        let mut answers = Vec::new();
        for mut filter in [mapped, heap] {
            let mut said = Vec::new();
            for i in 0..20_000 {
                let (h, m) = (id(i) as u64, mask(id(i) as u64, size.probes));
                said.push(filter.matches(h, &m));
                if i % 2 == 0 {
                    filter.insert(h, &m);
                }
            }
            assert!((0..20_000).step_by(2).all(|i| {
                let h = id(i) as u64;
                filter.matches(h, &mask(h, size.probes))
            }));
            answers.push(said);
        }
        assert_eq!(answers[0], answers[1]);
    }

    /// What a load's filters cost: `cargo test --release -p preciso-seen seen_ids_cost
    /// -- --ignored --nocapture` (docs/BENCHMARKS.md). Not a timed assertion: a measurement.
    #[test]
    #[ignore = "a measurement, run by hand in release"]
    fn seen_ids_cost() {
        for n in [1_000_000u64, 3_000_000, 10_000_000] {
            let started = std::time::Instant::now();
            let (mut offers, mut products) =
                (SeenIds::new(OFFER_FILTER), SeenIds::new(PRODUCT_FILTER));
            let mut said_seen = [0u64; 2];
            for i in 0..n {
                said_seen[0] += offers.check_and_insert(id(i)) as u64;
                said_seen[1] += products.check_and_insert(id(i + (1 << 40))) as u64;
            }
            let bytes: usize = [&offers, &products]
                .iter()
                .flat_map(|s| &s.filters)
                .map(Bloom::size_in_bytes)
                .sum();
            println!(
                "{n} ids: {:.3} s, {} + {} said seen, {:.1} MB",
                started.elapsed().as_secs_f64(),
                said_seen[0],
                said_seen[1],
                bytes as f64 / 1e6
            );
        }
    }
}
