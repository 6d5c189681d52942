//! Counts and durations per function, job and trigger, for `GET /functions` and `GET /jobs`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::Kind;
use crate::pool::Stats;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Counters {
    pub invocations: u64,
    pub errors: u64,
    pub total: Duration,
    pub max: Duration,
    pub cpu: Duration,
    /// The most heap one invocation left in use above the loaded code (of those measured).
    pub max_memory: usize,
}

#[derive(Default)]
pub struct Metrics(Mutex<BTreeMap<(Kind, String), Counters>>);

impl Metrics {
    pub(crate) fn record(&self, kind: Kind, name: &str, took: Duration, stats: &Stats, ok: bool) {
        let mut map = match self.0.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        let c = map.entry((kind, name.to_string())).or_default();
        c.invocations += 1;
        if !ok {
            c.errors += 1;
        }
        c.total += took;
        c.max = c.max.max(took);
        c.cpu += stats.cpu;
        if let Some(m) = stats.memory {
            c.max_memory = c.max_memory.max(m);
        }
    }

    pub fn snapshot(&self) -> BTreeMap<(Kind, String), Counters> {
        match self.0.lock() {
            Ok(m) => m.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}
