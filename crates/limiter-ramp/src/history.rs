//! [`Series`]: a bounded history of samples, coarsened into buckets.
//!
//! Samples arrive at every tick, so a 30-minute rule would otherwise keep 18,000 of them.
//! Instead consecutive samples share a bucket of 1/64 of the rule's horizon, and every
//! question asked of a bucket is answered on the safe side: a bucket counts towards a
//! window's minimum while any part of it is in the window, and towards a settled peak
//! only once all of it is old enough.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// How many buckets a rule's horizon is cut into.
const BUCKETS: u32 = 64;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    first: Instant,
    last: Instant,
    min: u32,
    max: u32,
}

#[derive(Debug)]
pub(crate) struct Series {
    width: Duration,
    buckets: VecDeque<Bucket>,
}

impl Series {
    /// A series for questions about the last `horizon`.
    pub(crate) fn new(horizon: Duration) -> Self {
        Series {
            width: horizon / BUCKETS,
            buckets: VecDeque::new(),
        }
    }

    pub(crate) fn record(&mut self, at: Instant, value: u32) {
        match self.buckets.back_mut() {
            Some(b) if at.saturating_duration_since(b.first) < self.width => {
                b.last = b.last.max(at);
                b.min = b.min.min(value);
                b.max = b.max.max(value);
            }
            _ => self.buckets.push_back(Bucket {
                first: at,
                last: at,
                min: value,
                max: value,
            }),
        }
    }

    /// The lowest value in effect at any time since `start` (`None`: since the beginning),
    /// or `None` with no sample yet. Buckets wholly before the window are dropped, but the
    /// one holding the value in effect at `start` is kept.
    pub(crate) fn min_since(&mut self, start: Option<Instant>) -> Option<u32> {
        if let Some(start) = start {
            while self.buckets.len() >= 2 && self.buckets[1].first <= start {
                self.buckets.pop_front();
            }
        }
        self.buckets.iter().map(|b| b.min).min()
    }

    /// Drops buckets with any sample before `cutoff`.
    pub(crate) fn forget_before(&mut self, cutoff: Instant) {
        while self.buckets.front().is_some_and(|b| b.first < cutoff) {
            self.buckets.pop_front();
        }
    }

    /// Removes the buckets whose samples are all at or before `cutoff` and returns their
    /// highest value.
    pub(crate) fn take_settled(&mut self, cutoff: Instant) -> Option<u32> {
        let mut max = None;
        while let Some(b) = self.buckets.front().copied() {
            if b.last > cutoff {
                break;
            }
            max = max.max(Some(b.max));
            self.buckets.pop_front();
        }
        max
    }

    /// The highest value among buckets whose samples are all at or before `cutoff`.
    pub(crate) fn max_settled(&self, cutoff: Instant) -> Option<u32> {
        self.buckets
            .iter()
            .take_while(|b| b.last <= cutoff)
            .map(|b| b.max)
            .max()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_stay_bounded_however_many_samples_arrive() {
        let t0 = Instant::now();
        let horizon = Duration::from_secs(64);
        let mut s = Series::new(horizon);
        for i in 0..10_000u32 {
            let at = t0 + Duration::from_millis(u64::from(i) * 100);
            s.record(at, i);
            s.min_since(at.checked_sub(horizon));
        }
        assert!(s.len() <= 66, "{}", s.len());
    }

    #[test]
    fn the_value_in_effect_at_the_window_start_is_kept() {
        let t0 = Instant::now();
        let mut s = Series::new(Duration::from_secs(1));
        s.record(t0, 5);
        s.record(t0 + Duration::from_secs(10), 9);
        // The window starts between the samples: 5 was still in effect then.
        assert_eq!(s.min_since(Some(t0 + Duration::from_secs(5))), Some(5));
        assert_eq!(s.min_since(Some(t0 + Duration::from_secs(10))), Some(9));
    }

    #[test]
    fn a_bucket_settles_only_when_all_of_it_is_old_enough() {
        let t0 = Instant::now();
        let mut s = Series::new(Duration::from_secs(64));
        s.record(t0, 3);
        s.record(t0 + Duration::from_millis(500), 7);
        assert_eq!(s.max_settled(t0), None);
        assert_eq!(s.max_settled(t0 + Duration::from_millis(500)), Some(7));
        assert_eq!(s.take_settled(t0 + Duration::from_secs(1)), Some(7));
        assert_eq!(s.max_settled(t0 + Duration::from_secs(9)), None);
    }
}
