//! One scraped value through each field parser (docs/NORMALIZATION.md): price (as text and as a
//! JSON number, in every currency's conventions), list price, rating and review count. Any input
//! must give a value or a field error, never a panic or an overflow.
#![no_main]

use libfuzzer_sys::fuzz_target;
use preciso_core::domain::{Currency, Rating};
use preciso_core::normalize::{Scraped, parse_price, parse_rating, parse_review_count};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for code in ["COP", "MXN", "BRL", "ARS", "CLP", "PEN", "PYG", "USD"] {
        let currency = Currency::parse(code).expect("a supported currency");
        for scraped in [Scraped::Text(text), Scraped::Number(text)] {
            if let Ok(money) = parse_price(scraped, currency) {
                assert!(money.minor >= 0, "{text:?} parsed to a negative price");
            }
        }
    }
    for scraped in [Scraped::Text(text), Scraped::Number(text)] {
        if let Ok(rating) = parse_rating(scraped) {
            assert!(
                rating.hundredths() <= Rating::MAX_HUNDREDTHS,
                "{text:?} parsed to a rating above 5"
            );
        }
        let _ = parse_review_count(scraped);
    }
});
