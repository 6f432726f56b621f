//! [`Window`]: the exact sliding one-second window of released cost.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

/// The cost released in the last second, one entry per batch.
///
/// A release at `t` is allowed when the cost released at times `s` with `t - s < 1 s`,
/// plus the new cost, is at most the capacity; so no half-open one-second window ever
/// holds more than the capacity, and allowance unused earlier in the window carries
/// over.
#[derive(Debug, Default)]
pub(crate) struct Window {
    entries: VecDeque<(Instant, u64)>,
    sum: u64,
}

impl Window {
    /// Forgets releases a second or more before `now`.
    pub(crate) fn expire(&mut self, now: Instant) {
        while let Some(&(at, cost)) = self.entries.front() {
            if at + SECOND > now {
                break;
            }
            self.sum -= cost;
            self.entries.pop_front();
        }
    }

    /// What may still be released now under `capacity`.
    pub(crate) fn available(&self, capacity: u64) -> u64 {
        capacity.saturating_sub(self.sum)
    }

    /// What the window will allow at `at` (not before now) if nothing more is released:
    /// releases that leave the window by then no longer count.
    pub(crate) fn available_by(&self, capacity: u64, at: Instant) -> u64 {
        let leaving: u64 = self
            .entries
            .iter()
            .take_while(|(released, _)| *released + SECOND <= at)
            .map(|(_, cost)| cost)
            .sum();
        capacity.saturating_sub(self.sum - leaving)
    }

    /// Counts `cost` as released at `now`.
    pub(crate) fn record(&mut self, now: Instant, cost: u64) {
        if cost == 0 {
            return;
        }
        self.sum += cost;
        match self.entries.back_mut() {
            Some((at, c)) if *at == now => *c += cost,
            _ => self.entries.push_back((now, cost)),
        }
    }

    /// When enough of the window will have expired for `cost` to fit under `capacity`;
    /// `None` if it never will at this capacity.
    pub(crate) fn fits_at(&self, cost: u64, capacity: u64) -> Option<Instant> {
        if cost > capacity {
            return None;
        }
        let mut sum = self.sum;
        for &(at, c) in &self.entries {
            if sum + cost <= capacity {
                break;
            }
            sum -= c;
            if sum + cost <= capacity {
                return Some(at + SECOND);
            }
        }
        (sum + cost <= capacity).then(Instant::now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn allowance_returns_a_second_after_each_release() {
        let t0 = Instant::now();
        let mut w = Window::default();
        w.record(t0, 60);
        w.record(t0 + Duration::from_millis(500), 40);
        assert_eq!(w.available(100), 0);
        assert_eq!(w.fits_at(30, 100), Some(t0 + SECOND));
        assert_eq!(w.fits_at(70, 100), Some(t0 + Duration::from_millis(1500)));
        assert_eq!(w.fits_at(101, 100), None);
        assert_eq!(w.available_by(100, t0 + SECOND), 60);
        assert_eq!(w.available_by(100, t0 + Duration::from_millis(1500)), 100);
        w.expire(t0 + SECOND);
        assert_eq!(w.available(100), 60);
    }
}
