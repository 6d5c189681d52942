//! Validator rate limits (`rateLimit` in a `Parse.Cloud.define`/trigger validator), enforced
//! as Parse enforces them: on the route the hook serves (`/functions/name`, `/classes/Post`…),
//! per client address by default (`zone`: `ip`, `session`, `user`, `global`), in fixed windows
//! of `requestTimeWindow` ms; past `requestCount` the request is refused before it runs.
//! Counts are kept in this node's memory, as Parse's default store keeps them.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

#[derive(Debug, Clone)]
struct Route {
    /// The path (relative to the mount) and whether anything may follow it (`{/*id}`).
    prefix: String,
    any_suffix: bool,
    methods: Option<Vec<String>>,
    window: Duration,
    count: u32,
    message: String,
    include_master: bool,
    include_internal: bool,
    zone: String,
}

/// Who is asking, as far as rate limits care.
#[derive(Debug, Default)]
pub struct Caller<'a> {
    pub ip: Option<&'a str>,
    pub session: Option<&'a str>,
    pub master: bool,
    /// A request cloud code made, or one from 127.0.0.1 (Parse's "internal" requests).
    pub internal: bool,
}

#[derive(Debug, Default)]
pub struct RateLimits {
    routes: Vec<Route>,
    windows: Mutex<HashMap<(usize, String), (Instant, u32)>>,
}

const MAX_TRACKED: usize = 100_000;

impl RateLimits {
    /// From the registry's `rateLimits` list; entries it cannot read are skipped.
    pub fn new(list: &[Value]) -> RateLimits {
        let routes = list
            .iter()
            .filter_map(|r| {
                let path = r.get("requestPath")?.as_str()?;
                let (prefix, any_suffix) = match path.find('{') {
                    Some(i) => (path[..i].to_string(), true),
                    None => (path.trim_end_matches('*').to_string(), path.ends_with('*')),
                };
                let methods = r.get("requestMethods").map(|m| match m {
                    Value::String(s) => vec![s.to_ascii_uppercase()],
                    Value::Array(a) => a
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_ascii_uppercase)
                        .collect(),
                    _ => Vec::new(),
                });
                Some(Route {
                    prefix,
                    any_suffix,
                    methods,
                    window: Duration::from_millis(r.get("requestTimeWindow")?.as_u64()?),
                    count: u32::try_from(r.get("requestCount")?.as_u64()?).ok()?,
                    message: r
                        .get("errorResponseMessage")
                        .and_then(Value::as_str)
                        .unwrap_or("Too many requests.")
                        .to_string(),
                    include_master: r.get("includeMasterKey") == Some(&Value::Bool(true)),
                    include_internal: r.get("includeInternalRequests") == Some(&Value::Bool(true)),
                    zone: r
                        .get("zone")
                        .and_then(Value::as_str)
                        .unwrap_or("ip")
                        .to_string(),
                })
            })
            .collect();
        RateLimits {
            routes,
            windows: Mutex::new(HashMap::new()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Counts the request; `Err(message)` when a limit on its route is exceeded.
    pub fn check(&self, path: &str, method: &str, caller: &Caller<'_>) -> Result<(), String> {
        let now = Instant::now();
        for (i, r) in self.routes.iter().enumerate() {
            let on_route = path == r.prefix
                || (r.any_suffix
                    && path
                        .strip_prefix(r.prefix.as_str())
                        .is_some_and(|rest| rest.starts_with('/')));
            if !on_route
                || r.methods
                    .as_ref()
                    .is_some_and(|m| !m.iter().any(|x| x == method))
                || (caller.master && !r.include_master)
                || (caller.internal && !r.include_internal)
            {
                continue;
            }
            let key = match r.zone.as_str() {
                "global" => String::new(),
                "session" | "user" => caller.session.unwrap_or("").to_string(),
                _ => caller.ip.unwrap_or("").to_string(),
            };
            let mut windows = match self.windows.lock() {
                Ok(w) => w,
                Err(poisoned) => poisoned.into_inner(),
            };
            if windows.len() > MAX_TRACKED {
                windows.retain(|(j, _), (start, _)| {
                    self.routes
                        .get(*j)
                        .is_some_and(|r| now.duration_since(*start) < r.window)
                });
            }
            let slot = windows.entry((i, key)).or_insert((now, 0));
            if now.duration_since(slot.0) >= r.window {
                *slot = (now, 0);
            }
            slot.1 += 1;
            if slot.1 > r.count {
                return Err(r.message.clone());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn counts_per_route_method_and_zone() {
        let limits = RateLimits::new(&[
            json!({"requestPath": "/functions/hi", "requestTimeWindow": 60000, "requestCount": 2}),
            json!({"requestPath": "/classes/Post{/*id}", "requestMethods": ["POST"], "requestTimeWindow": 60000,
                   "requestCount": 1, "errorResponseMessage": "slow down", "zone": "global"}),
        ]);
        let a = Caller {
            ip: Some("1.1.1.1"),
            ..Caller::default()
        };
        let b = Caller {
            ip: Some("2.2.2.2"),
            ..Caller::default()
        };
        assert!(limits.check("/functions/hi", "POST", &a).is_ok());
        assert!(limits.check("/functions/hi", "POST", &a).is_ok());
        assert_eq!(
            limits.check("/functions/hi", "POST", &a),
            Err("Too many requests.".into())
        );
        assert!(
            limits.check("/functions/hi", "POST", &b).is_ok(),
            "per address"
        );
        let master = Caller {
            master: true,
            ..Caller {
                ip: Some("1.1.1.1"),
                ..Caller::default()
            }
        };
        assert!(
            limits.check("/functions/hi", "POST", &master).is_ok(),
            "the master key is not limited"
        );
        assert!(limits.check("/classes/Post", "POST", &a).is_ok());
        assert!(
            limits.check("/classes/Post/abc", "GET", &a).is_ok(),
            "other methods are not limited"
        );
        assert_eq!(
            limits.check("/classes/Post", "POST", &b),
            Err("slow down".into()),
            "global zone"
        );
        assert!(limits.check("/classes/Poster", "POST", &b).is_ok());
    }
}
