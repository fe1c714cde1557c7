//! Price statistics of one category and currency: count, min, max, mean, median, quantiles,
//! standard deviation and a histogram. Quantiles use linear interpolation between closest
//! ranks (numpy's default, "type 7"); every money figure is rounded half away from zero to
//! the minor unit.

/// Summary of a set of prices in minor units.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PriceStats {
    pub count: u64,
    pub min: i64,
    pub max: i64,
    pub mean: i64,
    pub median: i64,
    pub p10: i64,
    pub p25: i64,
    pub p75: i64,
    pub p90: i64,
    /// Population standard deviation, rounded to the minor unit.
    pub std_dev: i64,
}

/// One histogram bin: prices `from <= p < to` (the last bin includes `to`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Bin {
    pub from: i64,
    pub to: i64,
    pub count: u64,
}

/// Quantile `q` in [0, 1] of sorted values.
pub fn quantile(sorted: &[i64], q: f64) -> Option<i64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    let v = sorted[lo] as f64 + (sorted[hi] as f64 - sorted[lo] as f64) * frac;
    Some(v.round() as i64)
}

/// Statistics of `prices` (any order). `None` when empty.
pub fn summarize(prices: &[i64]) -> Option<PriceStats> {
    let mut sorted = prices.to_vec();
    sorted.sort_unstable();
    summarize_sorted(&sorted)
}

pub fn summarize_sorted(sorted: &[i64]) -> Option<PriceStats> {
    let n = sorted.len();
    let (&min, &max) = (sorted.first()?, sorted.last()?);
    let sum: i128 = sorted.iter().map(|&p| i128::from(p)).sum();
    let mean = sum as f64 / n as f64;
    let var = sorted.iter().map(|&p| (p as f64 - mean).powi(2)).sum::<f64>() / n as f64;
    let q = |x| quantile(sorted, x).expect("non-empty");
    Some(PriceStats {
        count: n as u64,
        min,
        max,
        mean: mean.round() as i64,
        median: q(0.5),
        p10: q(0.1),
        p25: q(0.25),
        p75: q(0.75),
        p90: q(0.9),
        std_dev: var.sqrt().round() as i64,
    })
}

/// `bins` equal-width bins from min to max of sorted values.
pub fn histogram(sorted: &[i64], bins: usize) -> Vec<Bin> {
    let (Some(&min), Some(&max)) = (sorted.first(), sorted.last()) else {
        return Vec::new();
    };
    let mut out = Bins::new(min, max, bins);
    for run in sorted.chunk_by(|a, b| a == b) {
        out.add(run[0], run.len() as u64);
    }
    out.finish()
}

/// A histogram filled a value (or a run of equal values) at a time, values within `min..=max`.
pub struct Bins {
    min: i64,
    width: f64,
    bins: Vec<Bin>,
}

impl Bins {
    /// `bins` (at least one) equal-width bins from `min` to `max`, empty.
    pub fn new(min: i64, max: i64, bins: usize) -> Bins {
        let n = bins.max(1);
        let width = (max - min).max(1) as f64 / n as f64;
        let edge = |i: usize| min + (width * i as f64).round() as i64;
        let bins = (0..n)
            .map(|i| Bin {
                from: edge(i),
                to: if i + 1 == n { max } else { edge(i + 1) },
                count: 0,
            })
            .collect();
        Bins { min, width, bins }
    }

    /// Counts `count` occurrences of `p`.
    pub fn add(&mut self, p: i64, count: u64) {
        let n = self.bins.len();
        let i = (((p - self.min) as f64 / self.width) as usize).min(n - 1);
        // Rounding of edges can put a value one bin off; place it by the edges themselves.
        let i = if p < self.bins[i].from {
            i - 1
        } else if i + 1 < n && p >= self.bins[i + 1].from {
            i + 1
        } else {
            i
        };
        self.bins[i].count += count;
    }

    /// The bins' counts, in order.
    pub fn counts(&self) -> impl Iterator<Item = u64> + '_ {
        self.bins.iter().map(|b| b.count)
    }

    /// Sets the counts (as many as there are bins) from a histogram counted earlier.
    pub fn with_counts(mut self, counts: &[u64]) -> Bins {
        for (b, &c) in self.bins.iter_mut().zip(counts) {
            b.count = c;
        }
        self
    }

    pub fn finish(self) -> Vec<Bin> {
        self.bins
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [10, 20, 30, 40];
        assert_eq!(quantile(&v, 0.5), Some(25));
        assert_eq!(quantile(&v, 0.25), Some(18)); // 17.5 rounds half away from zero
        assert_eq!(quantile(&v, 0.0), Some(10));
        assert_eq!(quantile(&v, 1.0), Some(40));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn summary_and_histogram() {
        let s = summarize(&[4, 1, 3, 2]).unwrap();
        assert_eq!((s.count, s.min, s.max, s.median, s.mean), (4, 1, 4, 3, 3));
        assert_eq!(s.std_dev, 1); // sqrt(1.25)
        let h = histogram(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 5);
        assert_eq!(h.iter().map(|b| b.count).sum::<u64>(), 11);
        assert_eq!(h[0], Bin { from: 0, to: 2, count: 2 });
        assert_eq!(h[4], Bin { from: 8, to: 10, count: 3 });
        assert_eq!(histogram(&[5, 5], 3).iter().map(|b| b.count).sum::<u64>(), 2);
    }
}
