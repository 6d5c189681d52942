//! CPU metering for one runtime. A runtime runs one invocation at a time, so the thread CPU
//! time spent while that invocation's future is being polled is exactly what it used; time the
//! thread spends on other runtimes between polls is not charged. QuickJS calls the interrupt
//! handler every few thousand bytecode instructions (and inside regex matching); it stops the
//! script once the charge passes the budget, and that interrupt cannot be caught by JS.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use cpu_time::ThreadTime;

/// The state one runtime shares with its interrupt handler and host functions.
#[derive(Default)]
pub(crate) struct Slot {
    /// CPU charged to the running invocation before the current poll.
    used: Cell<Duration>,
    /// When the current poll started, while one is in progress.
    poll_start: Cell<Option<ThreadTime>>,
    budget: Cell<Option<Duration>>,
    /// Set when the handler stopped the script; the invocation is then abandoned.
    tripped: Cell<bool>,
    /// `kind name` of the running invocation, for the lines `request.log` writes.
    pub label: RefCell<String>,
    /// Host calls made by the running invocation, and the most it may make.
    pub host_calls: Cell<u32>,
    pub depth: Cell<u32>,
    pub origin: Cell<u64>,
    /// Counts invocations: a timer set in one fires in no other.
    pub epoch: Cell<u64>,
}

impl Slot {
    /// Starts charging a new invocation (or a load) against `budget`.
    /// `depth`: the nesting depth and origin of the invocation (0, 0 for a load).
    pub fn begin(&self, budget: Duration, label: String, (depth, origin): (u32, u64)) {
        self.used.set(Duration::ZERO);
        self.poll_start.set(None);
        self.budget.set(Some(budget));
        self.tripped.set(false);
        self.host_calls.set(0);
        self.depth.set(depth);
        self.origin.set(origin);
        self.epoch.set(self.epoch.get().wrapping_add(1));
        *self.label.borrow_mut() = label;
    }

    /// Stops charging: nothing runs in this runtime until the next `begin`.
    pub fn end(&self) -> Duration {
        self.budget.set(None);
        self.used.get()
    }

    pub fn tripped(&self) -> bool {
        self.tripped.get()
    }

    /// CPU used so far, including the poll in progress.
    fn charged(&self) -> Duration {
        let running = self
            .poll_start
            .get()
            .map(|t| t.elapsed())
            .unwrap_or_default();
        self.used.get() + running
    }

    /// The interrupt handler: true stops the script.
    pub fn over_budget(&self) -> bool {
        match self.budget.get() {
            Some(budget) if self.charged() > budget => {
                self.tripped.set(true);
                true
            }
            _ => false,
        }
    }
}

/// Charges the CPU used during each poll of `fut` to `slot`, and gives up (`None`) once the
/// interrupt handler has stopped the script: the promise it was running may never settle.
pub(crate) struct Metered<'a, F> {
    pub fut: Pin<Box<F>>,
    pub slot: &'a Slot,
}

impl<F: Future> Future for Metered<'_, F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let slot = self.slot;
        let start = ThreadTime::now();
        slot.poll_start.set(Some(start));
        let out = self.fut.as_mut().poll(cx);
        slot.poll_start.set(None);
        slot.used.set(slot.used.get() + start.elapsed());
        match out {
            Poll::Ready(v) => Poll::Ready(Some(v)),
            Poll::Pending if slot.tripped() => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn over_budget_only_while_an_invocation_runs() {
        let slot = Slot::default();
        assert!(!slot.over_budget(), "no invocation, no budget");
        slot.begin(Duration::ZERO, "function f".into(), (0, 0));
        slot.poll_start.set(Some(ThreadTime::now()));
        let mut x = 0u64;
        for i in 0..100_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(slot.over_budget());
        assert!(slot.tripped());
        slot.end();
        assert!(!slot.over_budget(), "a finished invocation is not charged");
    }
}
