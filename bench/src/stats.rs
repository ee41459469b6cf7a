//! Percentiles over recorded samples.
//!
//! Every sample is kept (at most a few hundred thousand per scenario), sorted once, and read with the
//! nearest-rank method: the p-th percentile of n sorted samples is the sample at rank ⌈p/100 · n⌉
//! (1-based). It is always a value that was observed, and p100 is the maximum.

use std::time::Duration;

/// Samples in nanoseconds, sorted.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    sorted: Vec<u64>,
}

impl Samples {
    /// Sorts `ns` (nanoseconds).
    pub fn from_nanos(mut ns: Vec<u64>) -> Samples {
        ns.sort_unstable();
        Samples { sorted: ns }
    }

    pub fn from_durations(durations: impl IntoIterator<Item = Duration>) -> Samples {
        Samples::from_nanos(durations.into_iter().map(nanos).collect())
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The nearest-rank percentile `p` (0 < p ≤ 100) in nanoseconds; 0 when there are no samples.
    pub fn percentile(&self, p: f64) -> u64 {
        percentile_sorted(&self.sorted, p)
    }

    pub fn median(&self) -> u64 {
        self.percentile(50.0)
    }

    pub fn min(&self) -> u64 {
        self.sorted.first().copied().unwrap_or(0)
    }

    pub fn max(&self) -> u64 {
        self.sorted.last().copied().unwrap_or(0)
    }

    pub fn mean(&self) -> f64 {
        if self.sorted.is_empty() {
            return 0.0;
        }
        self.sorted.iter().map(|&v| v as f64).sum::<f64>() / self.sorted.len() as f64
    }

    /// A JSON summary in microseconds: n, min, p50, p90, p99, max, mean.
    pub fn summary_json(&self) -> serde_json::Value {
        let us = |ns: u64| ns as f64 / 1e3;
        serde_json::json!({
            "n": self.len(),
            "min_us": us(self.min()),
            "p50_us": us(self.percentile(50.0)),
            "p90_us": us(self.percentile(90.0)),
            "p99_us": us(self.percentile(99.0)),
            "max_us": us(self.max()),
            "mean_us": self.mean() / 1e3,
        })
    }
}

/// The nearest-rank percentile of already sorted values.
pub fn percentile_sorted(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

/// A duration in nanoseconds, saturating.
pub fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let s = Samples::from_nanos((1..=100).rev().collect());
        assert_eq!(s.percentile(50.0), 50);
        assert_eq!(s.percentile(99.0), 99);
        assert_eq!(s.percentile(100.0), 100);
        assert_eq!(s.percentile(0.0), 1);
        assert_eq!(s.median(), 50);
        assert_eq!(s.min(), 1);
        assert_eq!(s.max(), 100);

        let s = Samples::from_nanos(vec![10, 20, 30]);
        assert_eq!(s.median(), 20);
        assert_eq!(s.percentile(90.0), 30);
        // With fewer than 100 samples the p99 is the maximum.
        assert_eq!(s.percentile(99.0), 30);

        let tail = Samples::from_nanos((0..1000).map(|i| if i < 985 { 1 } else { 1000 }).collect());
        assert_eq!(tail.percentile(98.0), 1);
        assert_eq!(tail.percentile(99.0), 1000);
    }

    #[test]
    fn empty_samples_read_as_zero() {
        let s = Samples::default();
        assert_eq!(s.percentile(99.0), 0);
        assert_eq!(s.mean(), 0.0);
    }
}
