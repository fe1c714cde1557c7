//! Sudden price jumps (P.jump): consecutive observations of an offer whose prices differ by a
//! factor of at least `JUMP_RATIO` either way. A factor within 2 % of 10, 100 or 1000 is the
//! signature of a slipped decimal or thousands separator ("1.299" read as 1299).

/// The smallest factor between consecutive prices that is a jump.
pub const JUMP_RATIO: f64 = 5.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JumpCause {
    Separator,
    Unknown,
}

/// The factor between two prices (≥ 1) and its likely cause, when it is at least `min_ratio`.
/// Prices of 0 or below are not compared (validation reports them).
pub fn jump(previous: i64, next: i64, min_ratio: f64) -> Option<(f64, JumpCause)> {
    if previous <= 0 || next <= 0 {
        return None;
    }
    let (lo, hi) = if previous < next { (previous, next) } else { (next, previous) };
    let ratio = hi as f64 / lo as f64;
    if ratio < min_ratio {
        return None;
    }
    let separator = [10.0, 100.0, 1000.0].iter().any(|k| (ratio / k - 1.0).abs() <= 0.02);
    Some((ratio, if separator { JumpCause::Separator } else { JumpCause::Unknown }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_of_ten_are_separators_others_unknown_small_moves_nothing() {
        assert_eq!(jump(129_900, 1_299, JUMP_RATIO), Some((100.0, JumpCause::Separator)));
        assert_eq!(jump(1_000, 10_100, JUMP_RATIO).map(|j| j.1), Some(JumpCause::Separator));
        assert_eq!(jump(1_000, 10_300, JUMP_RATIO).map(|j| j.1), Some(JumpCause::Unknown));
        assert_eq!(jump(1_000, 6_000, JUMP_RATIO).map(|j| j.1), Some(JumpCause::Unknown));
        assert_eq!(jump(1_000, 4_900, JUMP_RATIO), None);
        assert_eq!(jump(0, 4_900, JUMP_RATIO), None);
    }
}
