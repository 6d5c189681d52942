//! `Parse.Cloud.httpRequest`: cloud code's outbound HTTP, off unless `--cloudHttpHosts` names
//! the hosts it may reach (`api.example.com`, or `*.example.com` for its subdomains). A
//! redirect is followed only when the script asks and only to an allowed host; answers are
//! cut off at 8 MB and requests at 10 s.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value, json};

const TIMEOUT: Duration = Duration::from_secs(10);
const MAX_ANSWER: usize = 8 << 20;
const MAX_REDIRECTS: usize = 5;

/// The hosts scripts may call.
#[derive(Debug, Clone, Default)]
pub struct Allowed(Vec<String>);

impl Allowed {
    /// `--cloudHttpHosts`: a JSON array or a comma-separated list.
    pub fn parse(spec: &str) -> Result<Allowed, String> {
        let hosts: Vec<String> = if spec.trim_start().starts_with('[') {
            serde_json::from_str(spec).map_err(|e| format!("--cloudHttpHosts: {e}"))?
        } else {
            spec.split(',').map(|h| h.trim().to_string()).collect()
        };
        let hosts: Vec<String> = hosts
            .into_iter()
            .filter(|h| !h.is_empty())
            .map(|h| h.to_ascii_lowercase())
            .collect();
        if let Some(bad) = hosts.iter().find(|h| {
            h.contains('/') || h.contains(':') || h.trim_start_matches("*.").contains('*')
        }) {
            return Err(format!(
                "--cloudHttpHosts: `{bad}` is not a host name (api.example.com or *.example.com)"
            ));
        }
        Ok(Allowed(hosts))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn allows(&self, url: &reqwest::Url) -> bool {
        if !matches!(url.scheme(), "http" | "https") {
            return false;
        }
        let Some(host) = url.host_str().map(str::to_ascii_lowercase) else {
            return false;
        };
        self.0.iter().any(|a| match a.strip_prefix("*.") {
            Some(suffix) => host.ends_with(&format!(".{suffix}")),
            None => *a == host,
        })
    }
}

/// An HTTP client for calls out of the server (httpRequest, webhooks): rustls on ring, the
/// system's trust store.
pub fn client(
    timeout: Duration,
    redirects: reqwest::redirect::Policy,
) -> Result<reqwest::Client, String> {
    // rustls needs one process-wide crypto provider; a second install is refused harmlessly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(redirects)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

pub struct Outbound {
    allowed: Arc<Allowed>,
    follow: reqwest::Client,
    stay: reqwest::Client,
}

#[derive(Deserialize)]
struct Request {
    #[serde(default = "get")]
    method: String,
    url: String,
    #[serde(default)]
    headers: Map<String, Value>,
    body: Option<String>,
    #[serde(default, rename = "followRedirects")]
    follow_redirects: bool,
}

fn get() -> String {
    "GET".into()
}

/// An error with its causes (reqwest's own text names only the request, not why it failed).
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

fn refused(message: impl Into<String>) -> String {
    json!({"error": {"code": 141, "message": message.into()}}).to_string()
}

impl Outbound {
    pub fn new(allowed: Allowed) -> Result<Outbound, String> {
        let allowed = Arc::new(allowed);
        let policy_hosts = allowed.clone();
        let follow = client(
            TIMEOUT,
            reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS || !policy_hosts.allows(attempt.url())
                {
                    attempt.stop()
                } else {
                    attempt.follow()
                }
            }),
        )?;
        let stay = client(TIMEOUT, reqwest::redirect::Policy::none())?;
        Ok(Outbound {
            allowed,
            follow,
            stay,
        })
    }

    /// Runs the script's request; answers `{"status","headers","text"}` or `{"error"}`.
    pub async fn request(&self, request: &str) -> String {
        if self.allowed.is_empty() {
            return refused(
                "Parse.Cloud.httpRequest is off: no host is allowed (--cloudHttpHosts)",
            );
        }
        let req: Request = match serde_json::from_str(request) {
            Ok(r) => r,
            Err(e) => return refused(format!("httpRequest: {e}")),
        };
        let Ok(url) = reqwest::Url::parse(&req.url) else {
            return refused(format!("httpRequest: `{}` is not a URL", req.url));
        };
        if !self.allowed.allows(&url) {
            return refused(format!(
                "httpRequest: {} is not an allowed host (--cloudHttpHosts)",
                url.host_str().unwrap_or("")
            ));
        }
        let Ok(method) = reqwest::Method::from_bytes(req.method.to_ascii_uppercase().as_bytes())
        else {
            return refused(format!("httpRequest: bad method {}", req.method));
        };
        let client = if req.follow_redirects {
            &self.follow
        } else {
            &self.stay
        };
        let mut builder = client.request(method, url);
        for (k, v) in &req.headers {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            builder = builder.header(k.as_str(), v);
        }
        if let Some(body) = req.body {
            builder = builder.body(body);
        }
        let mut res = match builder.send().await {
            Ok(r) => r,
            Err(e) => return refused(format!("httpRequest failed: {}", chain(&e))),
        };
        let status = res.status().as_u16();
        let mut headers = Map::new();
        for (k, v) in res.headers() {
            let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            match headers.get_mut(k.as_str()) {
                Some(Value::String(prev)) => {
                    prev.push_str(", ");
                    prev.push_str(&v);
                }
                _ => {
                    headers.insert(k.as_str().to_string(), Value::from(v));
                }
            }
        }
        let mut body = Vec::new();
        loop {
            match res.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_ANSWER {
                        return refused("httpRequest: the answer is larger than 8 MB");
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return refused(format!("httpRequest failed: {}", chain(&e))),
            }
        }
        json!({
            "status": status,
            "headers": headers,
            "text": String::from_utf8_lossy(&body),
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_matched_exactly_or_by_suffix() {
        let a = Allowed::parse("api.example.com, *.stripe.com").unwrap();
        let ok = |u: &str| a.allows(&reqwest::Url::parse(u).unwrap());
        assert!(ok("https://api.example.com/v1"));
        assert!(ok("http://API.example.com:8080/"));
        assert!(ok("https://hooks.stripe.com/x"));
        assert!(
            !ok("https://stripe.com/"),
            "the suffix form is for subdomains"
        );
        assert!(!ok("https://api.example.com.evil.io/"));
        assert!(!ok("https://evilapi.example.com/"));
        assert!(!ok("file:///etc/passwd"));
        assert!(Allowed::parse(r#"["a.b","c.d"]"#).unwrap().0.len() == 2);
        assert!(Allowed::parse("http://a.b").is_err());
        assert!(Allowed::parse("a.*.b").is_err());
    }
}
