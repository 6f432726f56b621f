//! [`Window`]: the exact sliding one-second window of released cost.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

/// The cost the datastore saw start in the last second, one entry per batch, plus the
/// cost released and not yet started.
///
/// A batch counts from the moment its callback starts (or its stream's consumer
/// receives it), since that is when the datastore sees it, not from its release: the
/// runtime may start callbacks released far apart close together. Between release and
/// start its cost is *pending*: it counts against the capacity now and until a second
/// after it starts. So the cost started at times `s` with `t - s < 1 s`, plus what is
/// pending, never exceeds the capacity, and a release is allowed only if it keeps it
/// so: no half-open one-second window of starts ever holds more than the capacity.
#[derive(Debug, Default)]
pub(crate) struct Window {
    entries: VecDeque<(Instant, u64)>,
    sum: u64,
    pending: u64,
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
        capacity.saturating_sub(self.sum + self.pending)
    }

    /// Cost released and not yet started.
    pub(crate) fn pending(&self) -> u64 {
        self.pending
    }

    /// Counts `cost` as released: pending until it starts.
    pub(crate) fn claim(&mut self, cost: u64) {
        self.pending += cost;
    }

    /// A claimed batch started at `at` (`Some`) or never will (`None`, its operations
    /// were handed back).
    pub(crate) fn settle(&mut self, at: Option<Instant>, cost: u64) {
        self.pending = self.pending.saturating_sub(cost);
        if let Some(at) = at {
            self.record(at, cost);
        }
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
        capacity.saturating_sub(self.sum - leaving + self.pending)
    }

    /// Counts `cost` as started at `now`. Starts reported by different tasks may come
    /// out of order; each is put in its place, so that expiry stays in time order.
    pub(crate) fn record(&mut self, now: Instant, cost: u64) {
        if cost == 0 {
            return;
        }
        self.sum += cost;
        match self.entries.back_mut() {
            Some((at, c)) if *at == now => *c += cost,
            Some((at, _)) if *at > now => {
                let i = self.entries.partition_point(|(at, _)| *at <= now);
                self.entries.insert(i, (now, cost));
            }
            _ => self.entries.push_back((now, cost)),
        }
    }

    /// When enough of the window will have expired for `cost` to fit under `capacity`;
    /// `None` if it never will at this capacity.
    /// Pending cost does not expire: a start still to come frees nothing until a
    /// second after it.
    pub(crate) fn fits_at(&self, cost: u64, capacity: u64) -> Option<Instant> {
        let capacity = capacity.checked_sub(self.pending)?;
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

    #[tokio::test(start_paused = true)]
    async fn pending_cost_counts_until_a_second_after_it_starts() {
        let t0 = Instant::now();
        let mut w = Window::default();
        w.claim(30);
        w.claim(20);
        assert_eq!((w.available(100), w.pending()), (50, 50));
        assert_eq!(
            w.fits_at(60, 100),
            None,
            "pending cost never expires by itself"
        );
        // Reported out of order: the later start first.
        w.settle(Some(t0 + Duration::from_millis(300)), 20);
        w.settle(Some(t0 + Duration::from_millis(100)), 30);
        assert_eq!((w.available(100), w.pending()), (50, 0));
        assert_eq!(w.fits_at(60, 100), Some(t0 + Duration::from_millis(1100)));
        w.claim(10);
        w.settle(None, 10);
        assert_eq!(
            w.available(100),
            50,
            "a batch that never started frees its claim"
        );
        w.expire(t0 + Duration::from_millis(1100));
        assert_eq!(w.available(100), 80);
    }
}
