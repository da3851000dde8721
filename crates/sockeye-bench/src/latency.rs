//! Latency samples in microseconds and their percentiles.

use serde::Serialize;

/// Collected samples (microseconds).
#[derive(Debug, Default, Clone)]
pub struct Samples(Vec<u32>);

/// The percentiles reported.
#[derive(Debug, Default, Clone, Copy, Serialize, serde::Deserialize)]
pub struct Percentiles {
    pub count: usize,
    pub p50_us: u32,
    pub p99_us: u32,
    pub max_us: u32,
}

impl Samples {
    pub fn record(&mut self, micros: u64) {
        self.0.push(micros.min(u32::MAX as u64) as u32);
    }

    pub fn merge(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn percentiles(mut self) -> Percentiles {
        if self.0.is_empty() {
            return Percentiles::default();
        }
        self.0.sort_unstable();
        let at = |q: f64| self.0[((self.0.len() - 1) as f64 * q).round() as usize];
        Percentiles {
            count: self.0.len(),
            p50_us: at(0.50),
            p99_us: at(0.99),
            max_us: at(1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_one_to_hundred() {
        let mut s = Samples::default();
        for i in (1..=100).rev() {
            s.record(i);
        }
        let p = s.percentiles();
        assert_eq!((p.count, p.p50_us, p.p99_us, p.max_us), (100, 51, 99, 100));
    }
}
