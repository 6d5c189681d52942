//! One QuickJS runtime with the app's code loaded: the Parse SDK, the cloud-code registry and
//! `main.js`, evaluated once, then reused for one invocation at a time. Only what is installed
//! here reaches the script: `__host.rest` (an in-process REST call with the caller's rights),
//! `__host.http` (Parse.Cloud.httpRequest, host-filtered), `__host.log` and `__host.load`
//! (`require` and `import` of the code's own files and of npm packages), `__host.sleep` and
//! `__host.epoch` (timers), `__host.digest` and `__host.random` (`crypto`). The context has no
//! file, network or process access of its own.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rquickjs::context::EvalOptions;
use rquickjs::prelude::Async;
use rquickjs::{AsyncContext, AsyncRuntime, Ctx, Function, Object, Persistent, Promise, Value};

use crate::meter::{Metered, Slot};
use crate::{Env, Source};

/// Native stack a script may use; past it, "Maximum call stack size exceeded".
const STACK: usize = 512 << 10;
/// Memory and CPU a runtime may use while it loads the app's code.
const LOAD_MEMORY: usize = 256 << 20;
const LOAD_CPU: Duration = Duration::from_secs(10);

const PRELUDE: &str = include_str!("../js/prelude.js");
const SDK: &str = include_str!("../js/sdk.js");
const CLOUD: &str = include_str!("../js/cloud.js");

/// How an invocation ended, before its JSON answer is read.
#[derive(Debug)]
pub(crate) enum Ran {
    /// The dispatcher's JSON answer (which may itself report a script error).
    Answer(String),
    Cpu,
    Memory,
    Wall,
    /// The engine failed outside the script's control.
    Engine(String),
}

pub(crate) struct Sandbox {
    // Declared first: JS values must be released before their context and runtime.
    invoke: Persistent<Function<'static>>,
    ctx: AsyncContext,
    rt: AsyncRuntime,
    slot: Rc<Slot>,
    pub version: u64,
    /// QuickJS heap after loading: an invocation's memory is counted above it.
    base_memory: usize,
    memory_limit: Cell<usize>,
    uses: Cell<u32>,
}

/// A script's exception as text.
fn caught(ctx: &Ctx<'_>, e: rquickjs::Error) -> String {
    if !matches!(e, rquickjs::Error::Exception) {
        return e.to_string();
    }
    let v = ctx.catch();
    if let Some(ex) = v.as_exception() {
        let name: Option<String> = ex.get("name").ok();
        let msg = match name {
            Some(n) if !n.is_empty() && n != "Error" => {
                format!("{n}: {}", ex.message().unwrap_or_default())
            }
            _ => ex.message().unwrap_or_default(),
        };
        // A syntax error has no stack; QuickJS puts where it is on the exception instead.
        let place = || {
            let file: String = ex.get("fileName").ok()?;
            let line: i64 = ex.get("lineNumber").ok()?;
            Some(format!("    at {file}:{line}"))
        };
        return match ex.stack().filter(|s| !s.trim().is_empty()).or_else(place) {
            Some(stack) => format!("{msg}\n{stack}"),
            None => msg,
        };
    }
    if let Some(s) = v.as_string().and_then(|s| s.to_string().ok()) {
        return s;
    }
    format!("{v:?}")
}

fn is_oom(message: &str) -> bool {
    message.starts_with("out of memory") || message.contains("InternalError: out of memory")
}

fn is_oom_answer(answer: &str) -> bool {
    answer.contains("out of memory")
        && serde_json::from_str::<serde_json::Value>(answer).is_ok_and(|v| {
            v.pointer("/error/message")
                .and_then(serde_json::Value::as_str)
                .is_some_and(is_oom)
        })
}

impl Sandbox {
    /// Creates a runtime and loads `code`; returns it with the registry JSON it reported.
    pub async fn new(code: &Arc<Source>, env: &Arc<Env>) -> Result<(Sandbox, String), String> {
        let rt = AsyncRuntime::new().map_err(|e| e.to_string())?;
        rt.set_max_stack_size(STACK).await;
        rt.set_memory_limit(LOAD_MEMORY).await;
        let slot = Rc::new(Slot::default());
        let handler = slot.clone();
        rt.set_interrupt_handler(Some(Box::new(move || handler.over_budget())))
            .await;
        rt.set_loader(
            crate::modules::CodeResolver,
            crate::modules::CodeLoader { code: code.clone() },
        )
        .await;
        let ctx = AsyncContext::full(&rt).await.map_err(|e| e.to_string())?;

        slot.begin(LOAD_CPU, "load".into(), (0, 0));
        let boot = ctx.async_with(async |ctx| {
            install_host(&ctx, code, env, &slot).map_err(|e| caught(&ctx, e))?;
            for (name, src) in [
                ("basalt:prelude.js", PRELUDE),
                ("basalt:sdk.js", SDK),
                ("basalt:cloud.js", CLOUD),
            ] {
                eval_script(&ctx, name, src).map_err(|e| caught(&ctx, e))?;
            }
            let boot: Object = ctx.globals().get("__boot").map_err(|e| caught(&ctx, e))?;
            let main: Function = boot.get("main").map_err(|e| caught(&ctx, e))?;
            let loaded: Value = main
                .call((code.entry.clone(), code.is_module(&code.entry)))
                .map_err(|e| caught(&ctx, e))?;
            // A CommonJS top level may return a promise (an async IIFE), and an ES module's
            // `import()` is one: let it settle.
            if let Some(p) = loaded.as_promise() {
                p.clone()
                    .into_future::<Value>()
                    .await
                    .map_err(|e| caught(&ctx, e))?;
            }
            let lockdown: Function = boot.get("lockdown").map_err(|e| caught(&ctx, e))?;
            lockdown.call::<_, ()>(()).map_err(|e| caught(&ctx, e))?;
            ctx.globals()
                .remove("__boot")
                .map_err(|e| caught(&ctx, e))?;
            let basalt: Object = ctx.globals().get("__basalt").map_err(|e| caught(&ctx, e))?;
            let invoke: Function = basalt.get("invoke").map_err(|e| caught(&ctx, e))?;
            let list: Function = basalt.get("list").map_err(|e| caught(&ctx, e))?;
            let registry: String = list.call(()).map_err(|e| caught(&ctx, e))?;
            Ok::<_, String>((Persistent::save(&ctx, invoke), registry))
        });
        let booted = Metered {
            fut: Box::pin(boot),
            slot: &slot,
        }
        .await;
        slot.end();
        let (invoke, registry) = match booted {
            None => {
                return Err(format!(
                    "loading {} used more than {} s of CPU",
                    code.entry,
                    LOAD_CPU.as_secs()
                ));
            }
            Some(r) => r?,
        };
        rt.run_gc().await;
        let base_memory = heap_size(&rt).await;
        let sandbox = Sandbox {
            invoke,
            ctx,
            rt,
            slot,
            version: code.version,
            base_memory,
            memory_limit: Cell::new(LOAD_MEMORY),
            uses: Cell::new(0),
        };
        Ok((sandbox, registry))
    }

    /// Runs one invocation: `input` is the dispatcher's JSON request.
    /// `depth`: the invocation's nesting depth and origin ([`crate::Invocation`]).
    pub async fn run(
        &self,
        input: &str,
        limits: &crate::Limits,
        label: String,
        depth: (u32, u64),
    ) -> Ran {
        let memory = self.base_memory.saturating_add(limits.memory);
        if self.memory_limit.get() != memory {
            self.rt.set_memory_limit(memory).await;
            self.memory_limit.set(memory);
        }
        self.uses.set(self.uses.get().wrapping_add(1));
        self.slot.begin(limits.cpu, label, depth);
        let invoke = self.invoke.clone();
        let call = self.ctx.async_with(async |ctx| {
            let f = invoke.restore(&ctx).map_err(|e| caught(&ctx, e))?;
            let p: Promise = f.call((input,)).map_err(|e| caught(&ctx, e))?;
            p.into_future::<String>().await.map_err(|e| caught(&ctx, e))
        });
        let metered = Metered {
            fut: Box::pin(call),
            slot: &self.slot,
        };
        let out = tokio::time::timeout(limits.wall, metered).await;
        self.slot.end();
        match out {
            Err(_) => Ran::Wall,
            // Stopped by the interrupt, whether or not the dispatcher got to answer after it.
            _ if self.slot.tripped() => Ran::Cpu,
            Ok(None) => Ran::Cpu,
            // The dispatcher caught QuickJS's allocation failure and answered it as an error.
            Ok(Some(Ok(answer))) if is_oom_answer(&answer) => Ran::Memory,
            Ok(Some(Ok(answer))) => Ran::Answer(answer),
            Ok(Some(Err(msg))) if is_oom(&msg) => Ran::Memory,
            Ok(Some(Err(msg))) => Ran::Engine(msg),
        }
    }

    /// Invocations this sandbox has run.
    pub fn uses(&self) -> u32 {
        self.uses.get()
    }

    /// CPU charged to the last invocation.
    pub fn cpu_used(&self) -> Duration {
        self.slot.end()
    }

    /// Heap in use above the loaded code, after the last invocation.
    pub async fn memory_used(&self) -> usize {
        heap_size(&self.rt).await.saturating_sub(self.base_memory)
    }
}

async fn heap_size(rt: &AsyncRuntime) -> usize {
    usize::try_from(rt.memory_usage().await.malloc_size).unwrap_or(0)
}

fn eval_script<'js>(ctx: &Ctx<'js>, name: &str, src: &str) -> rquickjs::Result<Value<'js>> {
    let mut opts = EvalOptions::default();
    opts.global = true;
    opts.strict = false;
    opts.filename = Some(name.to_string());
    ctx.eval_with_options(src, opts)
}

/// Defines `__host` for the prelude and SDK, which take what they need and remove it.
fn install_host<'js>(
    ctx: &Ctx<'js>,
    code: &Arc<Source>,
    env: &Arc<Env>,
    slot: &Rc<Slot>,
) -> rquickjs::Result<()> {
    let host = Object::new(ctx.clone())?;

    let (h, e, s) = (env.host.clone(), env.clone(), slot.clone());
    host.set(
        "rest",
        Function::new(
            ctx.clone(),
            Async(
                move |method: String, path: String, body: String, options: String| {
                    let call = crate::RestCall {
                        method,
                        path,
                        body,
                        options,
                        depth: s.depth.get() + 1,
                        origin: s.origin.get(),
                    };
                    s.host_calls.set(s.host_calls.get() + 1);
                    let fut = h.rest(call);
                    let handle = e.handle.clone();
                    async move {
                        let answer = handle.spawn(fut).await.unwrap_or_else(|_| {
                            r#"{"status":500,"body":{"code":1,"error":"Internal server error."}}"#
                                .to_string()
                        });
                        Ok::<String, rquickjs::Error>(answer)
                    }
                },
            ),
        )?,
    )?;

    // Timers: `sleep` resolves after `ms` (the invocation's wall-clock limit bounds it);
    // `epoch` tells the invocation that set a timer from any later one.
    let e = env.clone();
    host.set(
        "sleep",
        Function::new(
            ctx.clone(),
            Async(move |ms: f64| {
                let ms = if ms.is_finite() {
                    ms.clamp(0.0, 2_147_483_647.0)
                } else {
                    0.0
                };
                let handle = e.handle.clone();
                async move {
                    let wait = Duration::from_micros((ms * 1000.0) as u64);
                    let _ = handle.spawn(tokio::time::sleep(wait)).await;
                    Ok::<(), rquickjs::Error>(())
                }
            }),
        )?,
    )?;
    // require('crypto'): hashes, HMACs and random bytes (see crypto.rs).
    host.set(
        "digest",
        Function::new(
            ctx.clone(),
            |algorithm: String, data: Vec<u8>, key: Option<Vec<u8>>| {
                crate::crypto::digest(&algorithm, &data, key.as_deref())
            },
        )?,
    )?;
    host.set(
        "random",
        Function::new(ctx.clone(), |n: usize| crate::crypto::random(n))?,
    )?;
    let s = slot.clone();
    host.set(
        "epoch",
        Function::new(ctx.clone(), move || s.epoch.get() as f64)?,
    )?;

    let (h, e) = (env.host.clone(), env.clone());
    host.set(
        "http",
        Function::new(
            ctx.clone(),
            Async(move |request: String| {
                let fut = h.http(request);
                let handle = e.handle.clone();
                async move {
                    let answer = handle.spawn(fut).await.unwrap_or_else(|_| {
                        r#"{"error":{"code":141,"message":"httpRequest failed"}}"#.to_string()
                    });
                    Ok::<String, rquickjs::Error>(answer)
                }
            }),
        )?,
    )?;

    let s = slot.clone();
    host.set(
        "log",
        Function::new(ctx.clone(), move |level: String, message: String| {
            let label = s.label.borrow();
            match level.as_str() {
                "error" => {
                    tracing::error!(target: "basalt::cloud::log", source = %label, "{message}")
                }
                "warn" => {
                    tracing::warn!(target: "basalt::cloud::log", source = %label, "{message}")
                }
                "debug" => {
                    tracing::debug!(target: "basalt::cloud::log", source = %label, "{message}")
                }
                _ => tracing::info!(target: "basalt::cloud::log", source = %label, "{message}"),
            }
        })?,
    )?;

    let files = code.clone();
    host.set(
        "load",
        Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, path: String| -> rquickjs::Result<Value<'js>> {
                let script = files
                    .script(&path)
                    .map_err(|e| rquickjs::Exception::throw_internal(&ctx, &e))?;
                let Some(src) = script.as_deref() else {
                    return Ok(Value::new_undefined(ctx));
                };
                if path.ends_with(".json") {
                    return ctx.json_parse(src);
                }
                // A package's script may start with a `#!` line, which Node ignores.
                let src = match src.strip_prefix("#!") {
                    Some(rest) => &rest[rest.find('\n').unwrap_or(rest.len())..],
                    None => src,
                };
                // The CommonJS wrapper Node uses; one line, so error lines match the file's.
                let wrapped = format!(
                    "(function (exports, require, module, __filename, __dirname) {{{src}\n}})"
                );
                eval_script(&ctx, &path, &wrapped)
            },
        )?,
    )?;

    host.set("appInfo", ctx.json_parse(env.app_info.as_str())?)?;
    ctx.globals().set("__host", host)?;
    Ok(())
}
