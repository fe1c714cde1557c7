//! Trending offers: a price drop is "real" when the new price is below the price the offer
//! usually had before the drop, not merely below a short spike. The reference is the
//! time-weighted median price over a baseline period (30 days) before the drop, each observed
//! price counting for as long as it was in effect.

/// A real drop of one offer.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RealDrop {
    /// The usual price before the drop (time-weighted median of the baseline).
    pub reference_minor: i64,
    pub price_minor: i64,
    /// When the current price was first observed.
    pub dropped_at: i64,
    /// `(reference - price) / reference`, in percent.
    pub drop_pct: f64,
}

pub const BASELINE_SECS: i64 = 30 * 86_400;

impl RealDrop {
    /// The drop in basis points (hundredths of a percent), as stores keep it.
    pub fn basis_points(&self) -> i64 {
        (self.drop_pct * 100.0).round() as i64
    }
}

/// `history` is `(observed_at, price_minor)` sorted by time. A drop counts when the current
/// price started within `window_secs` before `now` and is below the baseline reference.
pub fn real_drop(history: &[(i64, i64)], now: i64, window_secs: i64) -> Option<RealDrop> {
    current_drop(history).filter(|d| d.dropped_at >= now - window_secs)
}

/// The real drop the current price is, whenever it began: it depends on the history alone, so
/// stores keep it on the offer (refreshed when its history changes) and trending reads one
/// page of it instead of every candidate's history.
pub fn current_drop(history: &[(i64, i64)]) -> Option<RealDrop> {
    let &(_, price) = history.last()?;
    // Start of the final run of the current price.
    let start = history.iter().rposition(|&(_, p)| p != price).map_or(0, |i| i + 1);
    if start == 0 {
        return None; // never had another price
    }
    let dropped_at = history[start].0;
    if history[start - 1].1 <= price {
        return None;
    }
    let reference =
        time_weighted_median(&history[..start], dropped_at - BASELINE_SECS, dropped_at)?;
    (reference > price).then(|| RealDrop {
        reference_minor: reference,
        price_minor: price,
        dropped_at,
        drop_pct: (reference - price) as f64 * 100.0 / reference as f64,
    })
}

/// Median of prices weighted by how long each was in effect within `[from, to)`. A price
/// observed before `from` is in effect from `from` on.
fn time_weighted_median(points: &[(i64, i64)], from: i64, to: i64) -> Option<i64> {
    let mut segments: Vec<(i64, i64)> = Vec::with_capacity(points.len());
    for (i, &(at, p)) in points.iter().enumerate() {
        let end = points.get(i + 1).map_or(to, |n| n.0).min(to);
        let begin = at.max(from);
        if end > begin {
            segments.push((p, end - begin));
        }
    }
    if segments.is_empty() {
        return points.last().map(|&(_, p)| p);
    }
    segments.sort_unstable();
    let total: i64 = segments.iter().map(|s| s.1).sum();
    let mut acc = 0;
    for (p, d) in segments {
        acc += d;
        if acc * 2 >= total {
            return Some(p);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    const DAY: i64 = 86_400;

    #[test]
    fn a_drop_below_the_usual_price_is_real() {
        let h = [(0, 100), (20 * DAY, 80)];
        let d = real_drop(&h, 21 * DAY, 7 * DAY).unwrap();
        assert_eq!((d.reference_minor, d.price_minor, d.dropped_at), (100, 80, 20 * DAY));
        assert!((d.drop_pct - 20.0).abs() < 1e-9);
    }

    #[test]
    fn undoing_a_short_spike_is_not_a_drop() {
        let h = [(0, 100), (25 * DAY, 150), (27 * DAY, 100)];
        assert_eq!(real_drop(&h, 28 * DAY, 7 * DAY), None);
        // Going below the usual price after a spike is a drop from the usual price only.
        let h = [(0, 100), (25 * DAY, 150), (27 * DAY, 90)];
        assert_eq!(real_drop(&h, 28 * DAY, 7 * DAY).unwrap().reference_minor, 100);
    }

    #[test]
    fn old_drops_and_rises_are_not_trending() {
        assert_eq!(real_drop(&[(0, 100), (DAY, 80)], 30 * DAY, 7 * DAY), None);
        assert_eq!(real_drop(&[(0, 80), (DAY, 100)], 2 * DAY, 7 * DAY), None);
        assert_eq!(real_drop(&[(0, 80)], DAY, 7 * DAY), None);
    }
}
