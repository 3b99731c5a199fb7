//! Shared statistics (pure): the Wilson score interval that every mined rule must clear, and
//! the quantile of sorted durations.

const Z: f64 = 1.96;
/// An approval rule must be at least this sure (Wilson lower bound).
pub const RULE_CONFIDENCE: f64 = 0.95;

/// The Wilson score interval's lower bound for `k` successes in `n` trials.
pub fn wilson_lower(k: usize, n: usize) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = Z * Z;
    (p + z2 / (2.0 * n) - Z * ((p * (1.0 - p) + z2 / (4.0 * n)) / n).sqrt()) / (1.0 + z2 / n)
}

/// The Wilson upper bound.
pub fn wilson_upper(k: usize, n: usize) -> f64 {
    if n == 0 {
        return 1.0;
    }
    1.0 - wilson_lower(n - k, n)
}
/// The `q` quantile of sorted values (nearest rank).
pub fn quantile(sorted: &[i64], q: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}
