//! How long a batch's plugin work may go on: work queued on the workers is
//! skipped once the request's deadline has passed or its client has gone
//! away (the request's future was dropped).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The time and the interest a batch's plugin work may still use.
#[derive(Clone)]
pub(super) struct Budget {
    deadline: Instant,
    abandoned: Arc<AtomicBool>,
}

/// Marks the budget abandoned when the batch's future ends, however it ends.
pub(super) struct Abandon(Arc<AtomicBool>);

impl Budget {
    /// A budget of one request's `timeout` from now, and the guard that
    /// abandons it when dropped.
    pub(super) fn for_request(timeout: Duration) -> (Self, Abandon) {
        let abandoned = Arc::new(AtomicBool::new(false));
        let budget = Budget {
            deadline: Instant::now() + timeout,
            abandoned: abandoned.clone(),
        };
        (budget, Abandon(abandoned))
    }

    /// Whether work should be skipped now.
    pub(super) fn spent(&self) -> bool {
        self.abandoned.load(Ordering::Relaxed) || Instant::now() >= self.deadline
    }
}

impl Drop for Abandon {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_spent_at_its_deadline_or_when_abandoned() {
        let (budget, abandon) = Budget::for_request(Duration::from_secs(60));
        assert!(!budget.spent());
        drop(abandon);
        assert!(budget.spent());
        let (late, _abandon) = Budget::for_request(Duration::ZERO);
        assert!(late.spent());
    }
}
