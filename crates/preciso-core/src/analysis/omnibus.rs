//! The EU Omnibus rule for claimed discounts (P.fake_discount, Directive 2019/2161 art. 6a):
//! a "before" price must not exceed the lowest price the offer had in the 30 days before the
//! current price began. History rows are written only when something changes, so a price is in
//! effect from its observation until the next one, and the price in effect when the window
//! opens counts.

/// The window before the current price, in seconds (30 days).
pub const WINDOW_SECS: i64 = 30 * 86_400;

/// One observation of an offer: when, the price and the claimed "before" price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    pub at: i64,
    pub price: i64,
    pub list: Option<i64>,
    /// How it arrived: 0 in order, 1 after a later observation (out of order), 2 the same in
    /// a deliberate backfill (`Decision::arrival`).
    pub arrival: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The current observation claims no "before" price above its price.
    NoClaim,
    /// Less than a window of history before the current price began.
    NotEvaluated,
    /// The claim is at most the window's lowest price.
    Honest { claimed: i64, lowest: i64 },
    /// The claim exceeds the window's lowest price.
    Fake { claimed: i64, lowest: i64, since: i64 },
}

/// Judges the latest observation of `history` (oldest first) against the rule.
pub fn judge(history: &[Observation], window: i64) -> Verdict {
    let Some(current) = history.last() else { return Verdict::NoClaim };
    let claimed = match current.list {
        Some(list) if list > current.price => list,
        _ => return Verdict::NoClaim,
    };
    // When the current price began: the first of the trailing run of equal prices.
    let mut start = history.len() - 1;
    while start > 0 && history[start - 1].price == current.price {
        start -= 1;
    }
    let since = history[start].at;
    let opens = since.saturating_sub(window);
    if history[0].at > opens {
        return Verdict::NotEvaluated;
    }
    // The price in effect when the window opens, then every price set inside it.
    let in_effect = history[..start].iter().rposition(|o| o.at <= opens).unwrap_or(0);
    let lowest = history[in_effect..start].iter().map(|o| o.price).min().unwrap_or(current.price);
    if claimed > lowest {
        Verdict::Fake { claimed, lowest, since }
    } else {
        Verdict::Honest { claimed, lowest }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn obs(day: i64, price: i64, list: Option<i64>) -> Observation {
        Observation { at: day * DAY, price, list, arrival: 0 }
    }

    #[test]
    fn a_list_price_raised_shortly_before_a_sale_is_fake() {
        // 30 days at 100, 5 days at 130, then a "sale" at 110 claiming 130.
        let h = [obs(0, 100, None), obs(30, 130, None), obs(35, 110, Some(130))];
        assert_eq!(
            judge(&h, WINDOW_SECS),
            Verdict::Fake { claimed: 130, lowest: 100, since: 35 * DAY }
        );
    }

    #[test]
    fn a_real_reduction_from_the_lowest_price_is_honest() {
        // 100 for 35 days, then 80 claiming 100.
        let h = [obs(0, 100, None), obs(35, 80, Some(100))];
        assert_eq!(judge(&h, WINDOW_SECS), Verdict::Honest { claimed: 100, lowest: 100 });
    }

    #[test]
    fn short_histories_and_no_claims_are_not_judged() {
        let h = [obs(10, 100, None), obs(35, 80, Some(100))];
        assert_eq!(judge(&h, WINDOW_SECS), Verdict::NotEvaluated);
        assert_eq!(judge(&[obs(0, 100, Some(90))], WINDOW_SECS), Verdict::NoClaim);
        assert_eq!(judge(&[], WINDOW_SECS), Verdict::NoClaim);
    }

    #[test]
    fn the_current_price_begins_at_its_first_observation() {
        // 110 was set on day 35 and re-observed (list price added) on day 40: the window is
        // still days 5–35, where 100 was in effect.
        let h =
            [obs(0, 100, None), obs(30, 130, None), obs(35, 110, None), obs(40, 110, Some(130))];
        assert!(matches!(judge(&h, WINDOW_SECS), Verdict::Fake { lowest: 100, .. }));
        // A lower price replaced before the window opened does not count; the price in
        // effect at the opening (120, set on day 10) does.
        let h = [obs(0, 90, None), obs(10, 120, None), obs(50, 100, Some(120))];
        assert!(matches!(judge(&h, WINDOW_SECS), Verdict::Honest { lowest: 120, .. }));
    }
}
