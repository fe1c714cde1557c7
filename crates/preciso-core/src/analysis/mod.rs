//! Computations over catalog data that every backend shares: price statistics, the "real
//! drop" rule of trending offers, and the rules of the quality checks (robust outlier scores,
//! price jumps, the Omnibus rule for claimed discounts). Pure functions over plain numbers.

pub mod category;
pub mod jump;
pub mod omnibus;
pub mod robust;
pub mod stats;
pub mod trend;
