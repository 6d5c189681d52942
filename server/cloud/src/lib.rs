//! Basalt's cloud-code sandbox. A Parse Server `main.js` runs unchanged in QuickJS (through
//! `rquickjs`), on worker threads of its own so a busy script never holds up the HTTP server.
//! Each worker keeps warm runtimes with the code loaded; an invocation takes one, runs alone in
//! it (so its CPU time and memory are its own), and gives it back. Limits: CPU time (metered
//! per poll on the worker thread, enforced by QuickJS's interrupt handler), heap memory,
//! wall-clock time, native stack, nesting depth, and concurrent invocations, globally and per
//! function. A script that passes a limit fails that invocation with 141 and its runtime is
//! replaced; nothing else notices.
//!
//! The crate knows nothing of HTTP or storage: the server gives it a [`Host`], through which
//! scripts make REST calls with the rights they name (never silently master).

mod crypto;
mod meter;
mod metrics;
mod modules;
mod pool;
pub mod ratelimit;
mod sandbox;
mod source;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Semaphore;

pub use metrics::{Counters, Metrics};
pub use source::{Packages, Source, fingerprint, last_changed};

/// Nested invocations (a function saving an object whose `beforeSave` calls a function…) stop
/// at this depth, so a trigger that re-triggers itself fails instead of looping.
pub const MAX_DEPTH: u32 = 8;

/// Nested invocations allowed at once, per allowed top-level one.
const NESTED_PER_TOP: usize = 4;

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// One REST call a script makes (`Parse.Query.find`, `object.save()`…).
#[derive(Debug, Clone)]
pub struct RestCall {
    pub method: String,
    /// Relative to the mount path, without a leading `/`: `classes/Foo/abc`.
    pub path: String,
    /// The JSON body (for `GET`, the query parameters as a JSON object), or empty.
    pub body: String,
    /// `{"useMasterKey":true}`, `{"sessionToken":"r:…"}`, `installationId`, `context`.
    pub options: String,
    /// The nesting depth the call's own triggers run at.
    pub depth: u32,
    /// The invocation's [`Invocation::origin`], so the host knows whose call this is.
    pub origin: u64,
}

/// What the server lends scripts. Both calls answer JSON text, never fail: errors are answers.
pub trait Host: Send + Sync + 'static {
    /// `{"status":…, "body":…}`.
    fn rest(&self, call: RestCall) -> BoxFuture<String>;
    /// `Parse.Cloud.httpRequest`: `{"status","headers","text"}` or `{"error":{code,message}}`.
    fn http(&self, request: String) -> BoxFuture<String>;
}

/// What a script may use in one invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub cpu: Duration,
    /// Heap bytes above what the loaded code itself holds.
    pub memory: usize,
    pub wall: Duration,
    /// Invocations of one function (or trigger, or job) running at once; `None`: no own cap.
    pub concurrency: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu: Duration::from_secs(5),
            memory: 64 << 20,
            wall: Duration::from_secs(30),
            concurrency: None,
        }
    }
}

/// Limits for every invocation, and per function, job or trigger name (`beforeSave:Post`).
#[derive(Debug, Clone)]
pub struct Options {
    pub workers: usize,
    pub limits: Limits,
    /// Jobs run in the background and may take longer: their wall-clock limit.
    pub job_wall: Duration,
    pub per_name: HashMap<String, Limits>,
    /// Invocations (not counting nested ones) running at once, across all names.
    pub concurrency: usize,
    /// Idle warm runtimes a worker keeps.
    pub idle_per_worker: usize,
    /// `{"applicationId","serverURL","javaScriptKey"}` as the SDK inside sees them.
    pub app_info: Value,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            limits: Limits::default(),
            job_wall: Duration::from_secs(15 * 60),
            per_name: HashMap::new(),
            concurrency: 256,
            idle_per_worker: 8,
            app_info: Value::Null,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Function,
    Job,
    BeforeSave,
    AfterSave,
    BeforeDelete,
    AfterDelete,
    BeforeFind,
    AfterFind,
    BeforeLogin,
    AfterLogin,
    AfterLogout,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Function => "function",
            Kind::Job => "job",
            Kind::BeforeSave => "beforeSave",
            Kind::AfterSave => "afterSave",
            Kind::BeforeDelete => "beforeDelete",
            Kind::AfterDelete => "afterDelete",
            Kind::BeforeFind => "beforeFind",
            Kind::AfterFind => "afterFind",
            Kind::BeforeLogin => "beforeLogin",
            Kind::AfterLogin => "afterLogin",
            Kind::AfterLogout => "afterLogout",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "function" => Kind::Function,
            "job" => Kind::Job,
            "beforeSave" => Kind::BeforeSave,
            "afterSave" => Kind::AfterSave,
            "beforeDelete" => Kind::BeforeDelete,
            "afterDelete" => Kind::AfterDelete,
            "beforeFind" => Kind::BeforeFind,
            "afterFind" => Kind::AfterFind,
            "beforeLogin" => Kind::BeforeLogin,
            "afterLogin" => Kind::AfterLogin,
            "afterLogout" => Kind::AfterLogout,
            _ => return None,
        })
    }
}

/// What the loaded code registered.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    pub functions: Vec<String>,
    pub jobs: Vec<String>,
    triggers: HashSet<(Kind, String)>,
    /// The validators' `rateLimit`s, on the routes their hooks serve.
    pub rate_limits: std::sync::Arc<ratelimit::RateLimits>,
}

impl Registry {
    fn parse(json: &str) -> Result<Registry, String> {
        #[derive(Deserialize)]
        struct Trigger {
            kind: String,
            #[serde(rename = "className")]
            class_name: String,
        }
        #[derive(Deserialize)]
        struct Listed {
            #[serde(default)]
            functions: Vec<String>,
            #[serde(default)]
            jobs: Vec<String>,
            #[serde(default)]
            triggers: Vec<Trigger>,
            #[serde(default, rename = "rateLimits")]
            rate_limits: Vec<Value>,
        }
        let l: Listed =
            serde_json::from_str(json).map_err(|e| format!("cloud registry is not valid: {e}"))?;
        let triggers = l
            .triggers
            .into_iter()
            .filter_map(|t| Kind::parse(&t.kind).map(|k| (k, t.class_name)))
            .collect();
        Ok(Registry {
            functions: l.functions,
            jobs: l.jobs,
            triggers,
            rate_limits: std::sync::Arc::new(ratelimit::RateLimits::new(&l.rate_limits)),
        })
    }

    /// The registered triggers as `kind:Class`, sorted.
    pub fn triggers(&self) -> Vec<String> {
        let mut t: Vec<String> = self
            .triggers
            .iter()
            .map(|(k, c)| format!("{}:{c}", k.as_str()))
            .collect();
        t.sort();
        t
    }

    /// Whether `kind` is registered for `name` (a class for triggers).
    pub fn has(&self, kind: Kind, name: &str) -> bool {
        match kind {
            Kind::Function => self.functions.iter().any(|f| f == name),
            Kind::Job => self.jobs.iter().any(|j| j == name),
            _ => self.triggers.contains(&(kind, name.to_string())),
        }
    }
}

/// One call into the code.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub kind: Kind,
    /// The function or job name, or the class of a trigger.
    pub name: String,
    /// The request Parse builds for the handler, in the dispatcher's JSON form.
    pub request: Value,
    /// 0 for a client's request; one more for each call a script makes back into the server.
    pub depth: u32,
    /// The host's id for the client request this runs for (0: none), handed back with every
    /// call the script makes ([`RestCall::origin`]).
    pub origin: u64,
}

/// An invocation that did not succeed, as a Parse error.
#[derive(Debug, Clone, PartialEq)]
pub struct InvokeError {
    pub code: i64,
    pub message: String,
}

impl InvokeError {
    fn script(message: impl Into<String>) -> InvokeError {
        InvokeError {
            code: 141,
            message: message.into(),
        }
    }
}

/// What workers share: the server's host and runtime handle, and the app info.
pub(crate) struct Env {
    pub host: Arc<dyn Host>,
    pub handle: tokio::runtime::Handle,
    pub app_info: String,
}

/// A loaded version of the code.
struct Deployed {
    source: Arc<Source>,
    registry: Arc<Registry>,
}

pub struct Engine {
    pool: pool::Pool,
    current: RwLock<Arc<Deployed>>,
    options: Options,
    global: Semaphore,
    /// Nested invocations do not wait for `global` (their callers hold it, which could
    /// deadlock); this bounds how many may run at once instead (a script fanning out
    /// `Parse.Cloud.run` calls), failing fast past it.
    nested: Semaphore,
    per_name: Mutex<HashMap<String, Arc<Semaphore>>>,
    metrics: Metrics,
}

impl Engine {
    /// Starts the workers and loads `source`; fails with the script's error if it does not
    /// load. Must be called inside the server's tokio runtime: scripts' REST calls run there.
    pub async fn start(
        source: Source,
        host: Arc<dyn Host>,
        options: Options,
    ) -> Result<Engine, String> {
        let env = Arc::new(Env {
            host,
            handle: tokio::runtime::Handle::current(),
            app_info: options.app_info.to_string(),
        });
        let pool = pool::Pool::start(options.workers.max(1), options.idle_per_worker, env)?;
        let source = Arc::new(source);
        let registry = Registry::parse(&pool.load(source.clone()).await?)?;
        Ok(Engine {
            pool,
            current: RwLock::new(Arc::new(Deployed {
                source,
                registry: Arc::new(registry),
            })),
            global: Semaphore::new(options.concurrency.max(1)),
            nested: Semaphore::new(options.concurrency.max(1) * NESTED_PER_TOP),
            options,
            per_name: Mutex::new(HashMap::new()),
            metrics: Metrics::default(),
        })
    }

    fn deployed(&self) -> Arc<Deployed> {
        match self.current.read() {
            Ok(d) => d.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn registry(&self) -> Arc<Registry> {
        self.deployed().registry.clone()
    }

    /// The version of the code new invocations run.
    pub fn version(&self) -> u64 {
        self.deployed().source.version
    }

    /// Replaces the code: new invocations run `source`; running ones finish on the old code.
    /// Code that does not load is refused and the old code stays.
    pub async fn deploy(&self, source: Source) -> Result<(), String> {
        let source = Arc::new(source);
        let registry = Registry::parse(&self.pool.load(source.clone()).await?)?;
        let next = Arc::new(Deployed {
            source,
            registry: Arc::new(registry),
        });
        match self.current.write() {
            Ok(mut d) => *d = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
        Ok(())
    }

    pub fn metrics(&self) -> BTreeMap<(Kind, String), Counters> {
        self.metrics.snapshot()
    }

    fn limits(&self, kind: Kind, name: &str) -> Limits {
        let key = match kind {
            Kind::Function | Kind::Job => name.to_string(),
            _ => format!("{}:{name}", kind.as_str()),
        };
        let mut limits = self
            .options
            .per_name
            .get(&key)
            .cloned()
            .unwrap_or_else(|| self.options.limits.clone());
        if kind == Kind::Job && !self.options.per_name.contains_key(&key) {
            limits.wall = self.options.job_wall;
        }
        limits
    }

    fn name_semaphore(&self, name: &str, cap: usize) -> Arc<Semaphore> {
        let mut map = match self.per_name.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(name.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(cap.max(1))))
            .clone()
    }

    /// Runs one invocation and answers the dispatcher's JSON, or the error the script gave
    /// (or the limit it hit). Logs one line and counts it in the metrics.
    pub async fn invoke(&self, inv: Invocation) -> Result<Value, InvokeError> {
        let started = Instant::now();
        let label = format!("{} {}", inv.kind.as_str(), inv.name);
        let (result, stats) = self.run(&inv, label.clone()).await;
        let elapsed = started.elapsed();
        let outcome = match &result {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("error {}", e.code),
        };
        tracing::info!(
            target: "basalt::cloud",
            kind = inv.kind.as_str(),
            name = %inv.name,
            ms = elapsed.as_secs_f64() * 1e3,
            cpu_ms = stats.cpu.as_secs_f64() * 1e3,
            memory_kb = stats.memory.map(|m| m / 1024),
            outcome = %outcome,
            "invocation"
        );
        self.metrics
            .record(inv.kind, &inv.name, elapsed, &stats, result.is_ok());
        result
    }

    async fn run(
        &self,
        inv: &Invocation,
        label: String,
    ) -> (Result<Value, InvokeError>, pool::Stats) {
        let none = pool::Stats::default();
        if inv.depth > MAX_DEPTH {
            return (
                Err(InvokeError::script(format!(
                    "Cloud code called back into itself more than {MAX_DEPTH} levels deep"
                ))),
                none,
            );
        }
        let limits = self.limits(inv.kind, &inv.name);
        // Nested calls do not queue behind their callers: that could deadlock.
        let _global = if inv.depth > 0 {
            match self.nested.try_acquire() {
                Ok(p) => Some(p),
                Err(_) => return (Err(overloaded()), none),
            }
        } else if let Ok(p) = self.global.try_acquire() {
            Some(p)
        } else {
            match tokio::time::timeout(limits.wall, self.global.acquire()).await {
                Ok(Ok(p)) => Some(p),
                _ => return (Err(overloaded()), none),
            }
        };
        let sem = limits
            .concurrency
            .map(|cap| self.name_semaphore(&label, cap));
        let _own = match &sem {
            Some(s) => match tokio::time::timeout(limits.wall, s.acquire()).await {
                Ok(Ok(p)) => Some(p),
                _ => return (Err(overloaded()), none),
            },
            None => None,
        };
        let input = match serde_json::to_string(&Input {
            kind: inv.kind.as_str(),
            name: &inv.name,
            request: &inv.request,
        }) {
            Ok(text) => text,
            Err(e) => return (Err(InvokeError::script(e.to_string())), none),
        };
        let deployed = self.deployed();
        let (ran, stats) = self
            .pool
            .run(
                deployed.source.clone(),
                input,
                limits.clone(),
                label,
                (inv.depth, inv.origin),
            )
            .await;
        let result = match ran {
            sandbox::Ran::Answer(text) => answer(&text),
            sandbox::Ran::Cpu => Err(InvokeError::script(format!(
                "Script exceeded its CPU time limit of {} ms",
                limits.cpu.as_millis()
            ))),
            sandbox::Ran::Memory => Err(InvokeError::script(format!(
                "Script exceeded its memory limit of {} MB",
                limits.memory >> 20
            ))),
            sandbox::Ran::Wall => Err(InvokeError::script(format!(
                "Script did not finish within {} s",
                limits.wall.as_secs_f64()
            ))),
            sandbox::Ran::Engine(msg) => Err(InvokeError::script(msg)),
        };
        (result, stats)
    }
}

/// What the dispatcher (`__basalt.invoke`) reads, serialized without copying the request.
#[derive(serde::Serialize)]
struct Input<'a> {
    kind: &'a str,
    name: &'a str,
    request: &'a Value,
}

fn overloaded() -> InvokeError {
    InvokeError::script("Too many cloud code invocations are running; try again later")
}

/// Reads the dispatcher's answer: `{"error":{code,message}}` or the result object.
fn answer(text: &str) -> Result<Value, InvokeError> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| InvokeError::script(format!("cloud code answered invalid JSON: {e}")))?;
    if let Some(err) = v.get("error") {
        return Err(InvokeError {
            code: err.get("code").and_then(Value::as_i64).unwrap_or(141),
            message: err
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("Script failed.")
                .to_string(),
        });
    }
    Ok(v)
}
