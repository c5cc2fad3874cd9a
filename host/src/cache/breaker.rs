//! A small circuit breaker: after `threshold` failures in a row it opens
//! and refuses calls for `open_for`; then it lets one probe through
//! (half-open) and closes on its success.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Calls go through.
    Closed,
    /// Calls are refused until the deadline.
    Open,
    /// One probe is in flight.
    HalfOpen,
}

impl State {
    /// Name for metrics and `/ready`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }
}

/// The breaker.
#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    open_for: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: State,
    failures: u32,
    open_until: Option<Instant>,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(threshold: u32, open_for: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            open_for,
            inner: Mutex::new(Inner {
                state: State::Closed,
                failures: 0,
                open_until: None,
            }),
        }
    }

    /// Current state (an open breaker past its deadline reports half-open).
    pub fn state(&self) -> State {
        let Ok(inner) = self.inner.lock() else {
            return State::Open;
        };
        match (inner.state, inner.open_until) {
            (State::Open, Some(until)) if Instant::now() >= until => State::HalfOpen,
            (state, _) => state,
        }
    }

    /// Whether a call may proceed now.
    pub fn allow(&self) -> bool {
        let Ok(mut inner) = self.inner.lock() else {
            return false;
        };
        match inner.state {
            State::Closed => true,
            // Open past its deadline, or a probe that never reported back
            // (its caller went away): let one probe through and give it
            // `open_for` to answer.
            State::Open | State::HalfOpen => {
                let now = Instant::now();
                if inner.open_until.is_some_and(|until| now >= until) {
                    inner.state = State::HalfOpen;
                    inner.open_until = Some(now + self.open_for);
                    true
                } else {
                    false
                }
            }
        }
    }

    /// A call succeeded.
    pub fn record_success(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.state = State::Closed;
            inner.failures = 0;
            inner.open_until = None;
        }
    }

    /// A call failed.
    pub fn record_failure(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.failures = inner.failures.saturating_add(1);
            if inner.state == State::HalfOpen || inner.failures >= self.threshold {
                inner.state = State::Open;
                inner.open_until = Some(Instant::now() + self.open_for);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_probes_after_the_pause() {
        let breaker = Breaker::new(2, Duration::from_millis(30));
        assert!(breaker.allow());
        breaker.record_failure();
        assert_eq!(breaker.state(), State::Closed);
        breaker.record_failure();
        assert_eq!(breaker.state(), State::Open);
        assert!(!breaker.allow());
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.allow(), "one probe after the pause");
        assert!(!breaker.allow(), "only one probe");
        breaker.record_failure();
        assert_eq!(breaker.state(), State::Open);
        std::thread::sleep(Duration::from_millis(40));
        assert!(breaker.allow());
        breaker.record_success();
        assert_eq!(breaker.state(), State::Closed);
        assert!(breaker.allow());
    }
}
