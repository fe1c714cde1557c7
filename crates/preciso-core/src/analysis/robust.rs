//! Robust outlier scores (P.outlier): the modified z-score of Iglewicz and Hoaglin,
//! `0.6745 (x − median) / MAD`, and when the MAD is 0 (more than half the values equal) the
//! mean absolute deviation standing in for it, `(x − median) / (1.2533 × MeanAD)`. Quality
//! checks score `ln(price)`, so a price ten times its category's is as far out as one a tenth.

/// Groups smaller than this are not evaluated (`insufficient_data`).
pub const MIN_GROUP: usize = 10;
/// `|z|` above this is an outlier (Iglewicz and Hoaglin's recommendation).
pub const Z_LIMIT: f64 = 3.5;

/// A sample's center and the scale its z-scores divide by.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Center {
    pub median: f64,
    /// `MAD / 0.6745`, or `1.2533 × MeanAD` when the MAD is 0; 0 when every value is equal.
    pub scale: f64,
    /// Whether the mean absolute deviation stood in for a zero MAD.
    pub mean_deviation: bool,
}

impl Center {
    /// The modified z-score of `x`; 0 when the sample has no spread at all.
    pub fn z(&self, x: f64) -> f64 {
        if self.scale > 0.0 { (x - self.median) / self.scale } else { 0.0 }
    }
}

/// The center of a sample (sorted in place, so the result does not depend on the order the
/// values came in); `None` when it is smaller than `MIN_GROUP`.
pub fn center(values: &mut [f64]) -> Option<Center> {
    if values.len() < MIN_GROUP {
        return None;
    }
    values.sort_unstable_by(f64::total_cmp);
    let m = sorted_median(values)?;
    let mut deviations: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
    let mean_ad = deviations.iter().sum::<f64>() / deviations.len() as f64;
    deviations.sort_unstable_by(f64::total_cmp);
    let mad = sorted_median(&deviations)?;
    Some(if mad > 0.0 {
        Center { median: m, scale: mad / 0.6745, mean_deviation: false }
    } else {
        Center { median: m, scale: 1.253_314 * mean_ad, mean_deviation: true }
    })
}

/// The median of sorted values.
fn sorted_median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    Some(if n % 2 == 1 { sorted[n / 2] } else { (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flagged(prices: &[f64]) -> Vec<f64> {
        let mut logs: Vec<f64> = prices.iter().map(|p| p.ln()).collect();
        let c = center(&mut logs).expect("enough values");
        prices.iter().copied().filter(|p| c.z(p.ln()).abs() > Z_LIMIT).collect()
    }

    #[test]
    fn one_price_ten_times_the_rest_is_the_only_outlier() {
        // The MAD is 0 here (nine equal prices): the mean absolute deviation stands in.
        let prices = [10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 100.0];
        assert_eq!(flagged(&prices), vec![100.0]);
    }

    #[test]
    fn an_ordinary_spread_has_no_outlier_and_small_groups_are_not_evaluated() {
        let prices: Vec<f64> = (0..40).map(|i| 1000.0 + 37.0 * f64::from(i % 13)).collect();
        assert!(flagged(&prices).is_empty());
        let mut few = vec![1.0; MIN_GROUP - 1];
        assert!(center(&mut few).is_none());
    }

    #[test]
    fn equal_values_score_zero() {
        let mut same = vec![5.0; 12];
        let c = center(&mut same).unwrap();
        assert_eq!(c.z(5.0), 0.0);
        assert_eq!(c.z(50.0), 0.0, "no spread: nothing to measure against");
    }

    #[test]
    fn a_spread_sample_uses_the_mad() {
        let mut v: Vec<f64> = (1..=11).map(f64::from).collect();
        let c = center(&mut v).unwrap();
        assert!(!c.mean_deviation);
        assert_eq!(c.median, 6.0);
        // MAD of 1..=11 around 6 is 3: z(6 + 3) = 0.6745.
        assert!((c.z(9.0) - 0.6745).abs() < 1e-9);
    }
}
