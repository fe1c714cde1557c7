//! Computations over catalog data that every backend shares: price statistics and the
//! "real drop" rule of trending offers. Pure functions over plain numbers.

pub mod stats;
pub mod trend;
