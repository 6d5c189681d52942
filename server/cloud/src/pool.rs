//! Worker threads, each a single-threaded tokio runtime with its own warm sandboxes. QuickJS
//! runtimes are not `Send`, so a sandbox lives and dies on its worker; invocations go to the
//! worker with the fewest in flight, where they interleave while they wait on the host.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::sandbox::{Ran, Sandbox};
use crate::{Env, Limits, Source};

/// Native stack of a worker thread: QuickJS's own limit (512 KB) plus the host's frames.
const THREAD_STACK: usize = 8 << 20;

/// What one invocation used. Memory is measured by walking the runtime's heap, which costs
/// about as much as a small invocation itself; it is measured after any invocation that used a
/// millisecond of CPU or more (the only ones that can have built much) and after every
/// [`MEASURE_EVERY`]th use of a sandbox, and is `None` otherwise.
#[derive(Debug, Default, Clone)]
pub(crate) struct Stats {
    pub cpu: Duration,
    pub memory: Option<usize>,
}

const MEASURE_EVERY: u32 = 512;
const MEASURE_ABOVE: Duration = Duration::from_millis(1);

enum Msg {
    /// Loads the code into a new sandbox, keeps it warm, and answers the registry JSON.
    Load {
        source: Arc<Source>,
        reply: oneshot::Sender<Result<String, String>>,
    },
    Run {
        source: Arc<Source>,
        input: String,
        limits: Limits,
        label: String,
        depth: (u32, u64),
        reply: oneshot::Sender<(Ran, Stats)>,
    },
}

struct Worker {
    tx: mpsc::UnboundedSender<Msg>,
    in_flight: Arc<AtomicUsize>,
}

pub(crate) struct Pool {
    workers: Vec<Worker>,
}

impl Pool {
    pub fn start(n: usize, idle: usize, env: Arc<Env>) -> Result<Pool, String> {
        let mut workers = Vec::with_capacity(n);
        for i in 0..n {
            let (tx, rx) = mpsc::unbounded_channel();
            let env = env.clone();
            std::thread::Builder::new()
                .name(format!("basalt-cloud-{i}"))
                .stack_size(THREAD_STACK)
                .spawn(move || work(rx, idle, env))
                .map_err(|e| format!("cannot start a cloud-code worker thread: {e}"))?;
            workers.push(Worker {
                tx,
                in_flight: Arc::new(AtomicUsize::new(0)),
            });
        }
        Ok(Pool { workers })
    }

    /// Loads `source` on every worker (each keeps the sandbox warm); answers the registry.
    pub async fn load(&self, source: Arc<Source>) -> Result<String, String> {
        let mut replies = Vec::new();
        for w in &self.workers {
            let (reply, rx) = oneshot::channel();
            w.tx.send(Msg::Load {
                source: source.clone(),
                reply,
            })
            .map_err(|_| "cloud-code worker stopped".to_string())?;
            replies.push(rx);
        }
        let mut registry = None;
        for rx in replies {
            let r = rx
                .await
                .map_err(|_| "cloud-code worker stopped".to_string())??;
            registry.get_or_insert(r);
        }
        registry.ok_or_else(|| "no cloud-code worker".to_string())
    }

    pub async fn run(
        &self,
        source: Arc<Source>,
        input: String,
        limits: Limits,
        label: String,
        depth: (u32, u64),
    ) -> (Ran, Stats) {
        let Some(w) = self
            .workers
            .iter()
            .min_by_key(|w| w.in_flight.load(Ordering::Relaxed))
        else {
            return (Ran::Engine("no cloud-code worker".into()), Stats::default());
        };
        w.in_flight.fetch_add(1, Ordering::Relaxed);
        let (reply, rx) = oneshot::channel();
        let sent = w.tx.send(Msg::Run {
            source,
            input,
            limits,
            label,
            depth,
            reply,
        });
        let out = match sent {
            Ok(()) => rx.await.unwrap_or_else(|_| {
                (
                    Ran::Engine("cloud-code worker stopped".into()),
                    Stats::default(),
                )
            }),
            Err(_) => (
                Ran::Engine("cloud-code worker stopped".into()),
                Stats::default(),
            ),
        };
        w.in_flight.fetch_sub(1, Ordering::Relaxed);
        out
    }
}

/// A worker thread's loop: every message becomes a local task, so invocations waiting on the
/// host let others run.
fn work(mut rx: mpsc::UnboundedReceiver<Msg>, cap: usize, env: Arc<Env>) {
    batch_policy();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cloud-code worker cannot start its runtime: {e}");
            return;
        }
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let idle = Rc::new(Idle {
            sandboxes: RefCell::new(Vec::new()),
            cap,
        });
        while let Some(msg) = rx.recv().await {
            let (idle, env) = (idle.clone(), env.clone());
            tokio::task::spawn_local(async move { handle(msg, &idle, &env).await });
        }
    });
}

/// Puts the calling worker thread under Linux's `SCHED_BATCH`: same share of the CPU, but a
/// worker woken by an invocation no longer preempts the HTTP thread that sent it. That thread
/// goes on through every request that is ready, the worker then runs the batch, and the answers
/// go back together. Without it the two threads switched for every call on a busy core (1.9
/// context switches a request, `perf stat`); with it, 0.07, and an empty function's throughput
/// on one core went from 14,300 to 26,000 requests/s (bench/ `fn-empty`). Where the policy
/// cannot be set (another OS, a seccomp filter) the worker runs as any thread does.
fn batch_policy() {
    #[cfg(target_os = "linux")]
    if scheduler::set_self_policy(scheduler::Policy::Batch, 0).is_err() {
        tracing::debug!("cloud-code worker runs without SCHED_BATCH");
    }
}

/// A worker's warm sandboxes, all of one code version.
struct Idle {
    sandboxes: RefCell<Vec<Sandbox>>,
    cap: usize,
}

impl Idle {
    /// A warm sandbox of `version`; sandboxes of older versions are dropped on the way.
    fn take(&self, version: u64) -> Option<Sandbox> {
        self.prune(version);
        self.sandboxes.borrow_mut().pop()
    }

    /// Drops warm sandboxes of other versions (after a deploy).
    fn prune(&self, version: u64) {
        self.sandboxes.borrow_mut().retain(|s| s.version == version);
    }

    fn give_back(&self, s: Sandbox) {
        let mut v = self.sandboxes.borrow_mut();
        if v.len() < self.cap {
            v.push(s);
        }
    }
}

async fn handle(msg: Msg, idle: &Idle, env: &Arc<Env>) {
    match msg {
        Msg::Load { source, reply } => {
            let r = match Sandbox::new(&source, env).await {
                Ok((sandbox, registry)) => {
                    idle.prune(source.version);
                    idle.give_back(sandbox);
                    Ok(registry)
                }
                Err(e) => Err(e),
            };
            let _ = reply.send(r);
        }
        Msg::Run {
            source,
            input,
            limits,
            label,
            depth,
            reply,
        } => {
            let sandbox = match idle.take(source.version) {
                Some(s) => s,
                None => match Sandbox::new(&source, env).await {
                    Ok((s, _)) => s,
                    Err(e) => {
                        let _ = reply.send((Ran::Engine(e), Stats::default()));
                        return;
                    }
                },
            };
            let ran = sandbox.run(&input, &limits, label, depth).await;
            let cpu = sandbox.cpu_used();
            // A runtime a limit stopped may hold half-done state: it is not reused.
            let healthy = matches!(ran, Ran::Answer(_));
            let memory = if !healthy {
                Some(limits.memory)
            } else if cpu >= MEASURE_ABOVE || sandbox.uses() % MEASURE_EVERY == 0 {
                Some(sandbox.memory_used().await)
            } else {
                None
            };
            let _ = reply.send((ran, Stats { cpu, memory }));
            // One that kept more than half its allowance (globals grown by the app) is renewed.
            if healthy && memory.is_none_or(|m| m < limits.memory / 2) {
                idle.give_back(sandbox);
            }
        }
    }
}
