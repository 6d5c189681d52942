//! Configuration: command-line flags, then environment variables, then `basalt.toml`, then
//! defaults. Parse Server's own flag and environment names are accepted beside Basalt's, so a
//! Parse Server start-up line or container environment starts Basalt unchanged.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

use crate::storage::DatabaseUri;

#[derive(Debug, Parser)]
#[command(
    name = "basalt",
    version,
    about = "A Parse-compatible backend in one binary: REST API, LiveQuery and Cloud Code on SQLite or PostgreSQL."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub options: Options,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply the embedded database migrations and exit.
    Migrate,
    /// Check the configuration and that the database answers, then exit.
    Doctor,
    /// Send the cloud code (`--cloud`) to the server at `--serverURL`, which runs it from its
    /// next invocation on, without a restart.
    Deploy,
}

/// Every option; each is also an environment variable and a key of `basalt.toml`.
#[derive(Debug, Default, Clone, Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct Options {
    /// Read options from this TOML file [env: BASALT_CONFIG] [default: ./basalt.toml if present]
    #[arg(long = "config", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Application id clients must send [env: BASALT_APP_ID, PARSE_SERVER_APPLICATION_ID] [default: basalt]
    #[arg(long = "app-id", visible_alias = "appId", value_name = "ID")]
    #[serde(alias = "appId")]
    pub app_id: Option<String>,

    /// Master key; generated and kept in the data directory if not given [env: BASALT_MASTER_KEY, PARSE_SERVER_MASTER_KEY]
    #[arg(long = "master-key", visible_alias = "masterKey", value_name = "KEY")]
    #[serde(alias = "masterKey")]
    pub master_key: Option<String>,

    /// Addresses (IPs or CIDR ranges, comma-separated) the master key is accepted from [env: BASALT_MASTER_KEY_IPS, PARSE_SERVER_MASTER_KEY_IPS] [default: 127.0.0.1/32,::1/128]
    #[arg(
        long = "master-key-ips",
        visible_alias = "masterKeyIps",
        value_name = "LIST"
    )]
    #[serde(alias = "masterKeyIps")]
    pub master_key_ips: Option<String>,

    /// A second master key that reads everything and writes nothing [env: BASALT_READ_ONLY_MASTER_KEY, PARSE_SERVER_READ_ONLY_MASTER_KEY]
    #[arg(
        long = "read-only-master-key",
        visible_alias = "readOnlyMasterKey",
        value_name = "KEY"
    )]
    #[serde(alias = "readOnlyMasterKey")]
    pub read_only_master_key: Option<String>,

    /// JavaScript key; when any client key is set, requests must carry one of them [env: BASALT_JAVASCRIPT_KEY, PARSE_SERVER_JAVASCRIPT_KEY]
    #[arg(
        long = "javascript-key",
        visible_alias = "javascriptKey",
        value_name = "KEY"
    )]
    #[serde(alias = "javascriptKey")]
    pub javascript_key: Option<String>,

    /// REST API key [env: BASALT_REST_API_KEY, PARSE_SERVER_REST_API_KEY]
    #[arg(
        long = "rest-api-key",
        visible_alias = "restAPIKey",
        value_name = "KEY"
    )]
    #[serde(alias = "restAPIKey")]
    pub rest_api_key: Option<String>,

    /// Client key (iOS/Android SDKs) [env: BASALT_CLIENT_KEY, PARSE_SERVER_CLIENT_KEY]
    #[arg(long = "client-key", visible_alias = "clientKey", value_name = "KEY")]
    #[serde(alias = "clientKey")]
    pub client_key: Option<String>,

    /// .NET key [env: BASALT_DOTNET_KEY, PARSE_SERVER_DOT_NET_KEY]
    #[arg(long = "dotnet-key", visible_alias = "dotNetKey", value_name = "KEY")]
    #[serde(alias = "dotNetKey")]
    pub dotnet_key: Option<String>,

    /// sqlite://path or postgres://user@host/db [env: BASALT_DATABASE_URL, PARSE_SERVER_DATABASE_URI] [default: sqlite://<data-dir>/basalt.db]
    #[arg(long = "database-uri", visible_aliases = ["databaseURI", "databaseUri"], value_name = "URI")]
    #[serde(alias = "databaseURI", alias = "database_url")]
    pub database_uri: Option<String>,

    /// Port to listen on [env: PORT, BASALT_PORT] [default: 1337]
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Address to listen on [env: BASALT_HOST, PARSE_SERVER_HOST] [default: 127.0.0.1]
    #[arg(long, value_name = "ADDR")]
    pub host: Option<String>,

    /// Path the API is mounted at [env: BASALT_MOUNT_PATH, PARSE_SERVER_MOUNT_PATH] [default: /parse]
    #[arg(long = "mount-path", visible_alias = "mountPath", value_name = "PATH")]
    #[serde(alias = "mountPath")]
    pub mount_path: Option<String>,

    /// This server's own URL [env: BASALT_SERVER_URL, PARSE_SERVER_URL] [default: http://<host>:<port><mount-path>]
    #[arg(long = "server-url", visible_alias = "serverURL", value_name = "URL")]
    #[serde(alias = "serverURL")]
    pub server_url: Option<String>,

    /// The URL clients reach this server at, for links in emails [env: BASALT_PUBLIC_SERVER_URL, PARSE_PUBLIC_SERVER_URL]
    #[arg(
        long = "public-server-url",
        visible_alias = "publicServerURL",
        value_name = "URL"
    )]
    #[serde(alias = "publicServerURL")]
    pub public_server_url: Option<String>,

    /// Cloud code entry file [env: BASALT_CLOUD, PARSE_SERVER_CLOUD] [default: ./cloud-code/main.js if present]
    #[arg(long, value_name = "FILE")]
    pub cloud: Option<PathBuf>,

    /// Reload the cloud code when its files change, without a restart [env: BASALT_CLOUD_WATCH]
    #[arg(long = "cloud-watch", visible_alias = "cloudWatch", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    #[serde(alias = "cloudWatch")]
    pub cloud_watch: Option<bool>,

    /// Hosts cloud code may reach with Parse.Cloud.httpRequest: `api.example.com,*.example.com` or a JSON array [env: BASALT_CLOUD_HTTP_HOSTS] [default: none, httpRequest is off]
    #[arg(
        long = "cloud-http-hosts",
        visible_alias = "cloudHttpHosts",
        value_name = "HOSTS"
    )]
    #[serde(alias = "cloudHttpHosts")]
    pub cloud_http_hosts: Option<String>,

    /// Environment variables cloud code sees in process.env: `STRIPE_KEY,MAIL_FROM` [env: BASALT_CLOUD_ENV] [default: none, process.env is empty]
    #[arg(long = "cloud-env", visible_alias = "cloudEnv", value_name = "NAMES")]
    #[serde(alias = "cloudEnv")]
    pub cloud_env: Option<String>,

    /// Key sent to webhooks as X-Parse-Webhook-Key [env: BASALT_WEBHOOK_KEY, PARSE_SERVER_WEBHOOK_KEY]
    #[arg(long = "webhook-key", visible_alias = "webhookKey", value_name = "KEY")]
    #[serde(alias = "webhookKey")]
    pub webhook_key: Option<String>,

    /// Jobs to run on a schedule, as JSON: `[{"job":"cleanup","cron":"0 3 * * *","params":{}}]` (five cron fields, UTC) [env: BASALT_JOB_SCHEDULES]
    #[arg(
        long = "job-schedules",
        visible_alias = "jobSchedules",
        value_name = "JSON"
    )]
    #[serde(alias = "jobSchedules")]
    pub job_schedules: Option<String>,

    /// Cloud code limits, as JSON: `{"cpuMs":5000,"memoryMB":64,"timeoutMs":30000,"jobTimeoutMs":900000,"concurrency":256,"workers":2,"functions":{"<name> or beforeSave:<Class>":{"cpuMs":…,"memoryMB":…,"timeoutMs":…,"concurrency":…}}}` [env: BASALT_CLOUD_LIMITS]
    #[arg(
        long = "cloud-limits",
        visible_alias = "cloudLimits",
        value_name = "JSON"
    )]
    #[serde(alias = "cloudLimits")]
    pub cloud_limits: Option<String>,

    /// Serve LiveQuery on this server's port (accepted for Parse compatibility; always on) [env: PARSE_SERVER_START_LIVE_QUERY_SERVER]
    #[arg(long = "start-live-query-server", visible_alias = "startLiveQueryServer", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    #[serde(alias = "startLiveQueryServer")]
    pub start_live_query_server: Option<bool>,

    /// LiveQuery options as JSON, e.g. '{"classNames":["Message"]}' [env: PARSE_SERVER_LIVE_QUERY]
    #[arg(long = "live-query", visible_alias = "liveQuery", value_name = "JSON")]
    #[serde(alias = "liveQuery")]
    pub live_query: Option<String>,

    /// Directory for the embedded database and the generated master key [env: BASALT_DATA_DIR] [default: ./data]
    #[arg(long = "data-dir", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Largest `limit` a query may ask for [env: BASALT_MAX_LIMIT, PARSE_SERVER_MAX_LIMIT] [default: 1000]
    #[arg(long = "max-limit", visible_alias = "maxLimit", value_name = "N")]
    #[serde(alias = "maxLimit")]
    pub max_limit: Option<u64>,

    /// Largest request body, e.g. 20mb [env: BASALT_MAX_UPLOAD_SIZE, PARSE_SERVER_MAX_UPLOAD_SIZE] [default: 20mb]
    #[arg(
        long = "max-upload-size",
        visible_alias = "maxUploadSize",
        value_name = "SIZE"
    )]
    #[serde(alias = "maxUploadSize")]
    pub max_upload_size: Option<String>,

    /// Most sub-requests in one /batch [env: BASALT_MAX_BATCH_SIZE] [default: 1000]
    #[arg(
        long = "max-batch-size",
        visible_alias = "maxBatchSize",
        value_name = "N"
    )]
    #[serde(alias = "maxBatchSize")]
    pub max_batch_size: Option<usize>,

    /// Seconds a session lasts after login or sign-up [env: BASALT_SESSION_LENGTH, PARSE_SERVER_SESSION_LENGTH] [default: 31536000, one year]
    #[arg(
        long = "session-length",
        visible_alias = "sessionLength",
        value_name = "SECONDS"
    )]
    #[serde(alias = "sessionLength")]
    pub session_length: Option<u64>,

    /// Let clients without the master key create classes by saving to them [env: BASALT_ALLOW_CLIENT_CLASS_CREATION, PARSE_SERVER_ALLOW_CLIENT_CLASS_CREATION] [default: false, as Parse Server 9]
    #[arg(long = "allow-client-class-creation", visible_alias = "allowClientClassCreation", value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    #[serde(alias = "allowClientClassCreation")]
    pub allow_client_class_creation: Option<bool>,
}

/// The resolved configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub app_id: String,
    pub master_key: String,
    /// Set when the master key was generated at this start (print it once).
    pub generated_master_key: bool,
    pub master_key_ips: Vec<IpRange>,
    pub read_only_master_key: Option<String>,
    pub session_length: std::time::Duration,
    pub client_keys: ClientKeys,
    pub database: DatabaseUri,
    pub host: String,
    pub port: u16,
    pub mount_path: String,
    pub server_url: String,
    pub public_server_url: Option<String>,
    pub cloud: Option<PathBuf>,
    pub cloud_limits: CloudLimits,
    pub cloud_watch: bool,
    pub job_schedules: Vec<crate::cloud::schedule::Configured>,
    pub cloud_http_hosts: crate::cloud::outbound::Allowed,
    /// `process.env` of cloud code: the named variables of Basalt's environment that are set.
    pub cloud_env: std::collections::BTreeMap<String, String>,
    pub webhook_key: Option<String>,
    pub live_query_classes: Option<Vec<String>>,
    /// `--liveQuery {"redisURL": …}`: nodes share LiveQuery events through Redis pub/sub
    /// instead of PostgreSQL's NOTIFY.
    pub live_query_redis: Option<String>,
    pub data_dir: PathBuf,
    pub max_limit: u64,
    pub max_body_bytes: usize,
    pub max_batch_size: usize,
    pub allow_client_class_creation: bool,
}

/// `--cloudLimits`: what one cloud-code invocation may use; unset fields keep the defaults
/// (5 s CPU, 64 MB heap, 30 s wall clock, 15 min for jobs, 256 at once, a worker per core).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CloudLimits {
    pub cpu_ms: Option<u64>,
    #[serde(rename = "memoryMB")]
    pub memory_mb: Option<usize>,
    pub timeout_ms: Option<u64>,
    pub job_timeout_ms: Option<u64>,
    pub concurrency: Option<usize>,
    pub workers: Option<usize>,
    /// Per function or job name, or `beforeSave:<Class>` for a trigger.
    #[serde(default)]
    pub functions: std::collections::HashMap<String, CloudLimit>,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CloudLimit {
    pub cpu_ms: Option<u64>,
    #[serde(rename = "memoryMB")]
    pub memory_mb: Option<usize>,
    pub timeout_ms: Option<u64>,
    pub concurrency: Option<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct ClientKeys {
    pub javascript: Option<String>,
    pub rest: Option<String>,
    pub client: Option<String>,
    pub dotnet: Option<String>,
}

impl ClientKeys {
    pub fn any_configured(&self) -> bool {
        self.javascript.is_some()
            || self.rest.is_some()
            || self.client.is_some()
            || self.dotnet.is_some()
    }
}

/// An address range in `--masterKeyIps`.
#[derive(Debug, Clone, PartialEq)]
pub struct IpRange {
    net: IpAddr,
    prefix: u8,
}

impl IpRange {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or CIDR range"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}` has a bad prefix length"))?,
        };
        Ok(Self { net, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), self.prefix),
            (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), self.prefix),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let bits = bits as usize;
    let (bytes, rest) = (bits / 8, bits % 8);
    if a[..bytes] != b[..bytes] {
        return false;
    }
    rest == 0 || (a[bytes] ^ b[bytes]) >> (8 - rest) == 0
}

/// Reads an environment variable under any of its names.
fn env_any(env: &dyn Fn(&str) -> Option<String>, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| env(n).filter(|v| !v.is_empty()))
}

fn parse_env<T: std::str::FromStr>(
    env: &dyn Fn(&str) -> Option<String>,
    names: &[&str],
) -> Result<Option<T>, String> {
    match env_any(env, names) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            format!(
                "environment variable {} has an invalid value `{v}`",
                names[0]
            )
        }),
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

impl Options {
    /// The options given by environment variables.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let bool_env = |names: &[&str]| -> Result<Option<bool>, String> {
            match env_any(env, names) {
                None => Ok(None),
                Some(v) => parse_bool(&v).map(Some).ok_or_else(|| {
                    format!(
                        "environment variable {} must be true or false, not `{v}`",
                        names[0]
                    )
                }),
            }
        };
        Ok(Self {
            config: env_any(env, &["BASALT_CONFIG"]).map(PathBuf::from),
            app_id: env_any(env, &["BASALT_APP_ID", "PARSE_SERVER_APPLICATION_ID"]),
            master_key: env_any(env, &["BASALT_MASTER_KEY", "PARSE_SERVER_MASTER_KEY"]),
            master_key_ips: env_any(
                env,
                &["BASALT_MASTER_KEY_IPS", "PARSE_SERVER_MASTER_KEY_IPS"],
            ),
            read_only_master_key: env_any(
                env,
                &[
                    "BASALT_READ_ONLY_MASTER_KEY",
                    "PARSE_SERVER_READ_ONLY_MASTER_KEY",
                ],
            ),
            session_length: parse_env(
                env,
                &["BASALT_SESSION_LENGTH", "PARSE_SERVER_SESSION_LENGTH"],
            )?,
            javascript_key: env_any(
                env,
                &["BASALT_JAVASCRIPT_KEY", "PARSE_SERVER_JAVASCRIPT_KEY"],
            ),
            rest_api_key: env_any(env, &["BASALT_REST_API_KEY", "PARSE_SERVER_REST_API_KEY"]),
            client_key: env_any(env, &["BASALT_CLIENT_KEY", "PARSE_SERVER_CLIENT_KEY"]),
            dotnet_key: env_any(env, &["BASALT_DOTNET_KEY", "PARSE_SERVER_DOT_NET_KEY"]),
            database_uri: env_any(env, &["BASALT_DATABASE_URL", "PARSE_SERVER_DATABASE_URI"]),
            port: parse_env(env, &["PORT", "BASALT_PORT"])?,
            host: env_any(env, &["BASALT_HOST", "PARSE_SERVER_HOST"]),
            mount_path: env_any(env, &["BASALT_MOUNT_PATH", "PARSE_SERVER_MOUNT_PATH"]),
            server_url: env_any(env, &["BASALT_SERVER_URL", "PARSE_SERVER_URL"]),
            public_server_url: env_any(
                env,
                &["BASALT_PUBLIC_SERVER_URL", "PARSE_PUBLIC_SERVER_URL"],
            ),
            cloud: env_any(env, &["BASALT_CLOUD", "PARSE_SERVER_CLOUD"]).map(PathBuf::from),
            cloud_limits: env_any(env, &["BASALT_CLOUD_LIMITS"]),
            cloud_watch: bool_env(&["BASALT_CLOUD_WATCH"])?,
            job_schedules: env_any(env, &["BASALT_JOB_SCHEDULES"]),
            cloud_http_hosts: env_any(env, &["BASALT_CLOUD_HTTP_HOSTS"]),
            cloud_env: env_any(env, &["BASALT_CLOUD_ENV"]),
            webhook_key: env_any(env, &["BASALT_WEBHOOK_KEY", "PARSE_SERVER_WEBHOOK_KEY"]),
            start_live_query_server: bool_env(&[
                "BASALT_START_LIVE_QUERY_SERVER",
                "PARSE_SERVER_START_LIVE_QUERY_SERVER",
            ])?,
            live_query: env_any(env, &["BASALT_LIVE_QUERY", "PARSE_SERVER_LIVE_QUERY"]),
            data_dir: env_any(env, &["BASALT_DATA_DIR"]).map(PathBuf::from),
            max_limit: parse_env(env, &["BASALT_MAX_LIMIT", "PARSE_SERVER_MAX_LIMIT"])?,
            max_upload_size: env_any(
                env,
                &["BASALT_MAX_UPLOAD_SIZE", "PARSE_SERVER_MAX_UPLOAD_SIZE"],
            ),
            max_batch_size: parse_env(env, &["BASALT_MAX_BATCH_SIZE"])?,
            allow_client_class_creation: bool_env(&[
                "BASALT_ALLOW_CLIENT_CLASS_CREATION",
                "PARSE_SERVER_ALLOW_CLIENT_CLASS_CREATION",
            ])?,
        })
    }

    /// Fills every unset option from `other` (lower precedence).
    pub fn or(self, other: Options) -> Options {
        Options {
            config: self.config.or(other.config),
            app_id: self.app_id.or(other.app_id),
            master_key: self.master_key.or(other.master_key),
            master_key_ips: self.master_key_ips.or(other.master_key_ips),
            read_only_master_key: self.read_only_master_key.or(other.read_only_master_key),
            session_length: self.session_length.or(other.session_length),
            javascript_key: self.javascript_key.or(other.javascript_key),
            rest_api_key: self.rest_api_key.or(other.rest_api_key),
            client_key: self.client_key.or(other.client_key),
            dotnet_key: self.dotnet_key.or(other.dotnet_key),
            database_uri: self.database_uri.or(other.database_uri),
            port: self.port.or(other.port),
            host: self.host.or(other.host),
            mount_path: self.mount_path.or(other.mount_path),
            server_url: self.server_url.or(other.server_url),
            public_server_url: self.public_server_url.or(other.public_server_url),
            cloud: self.cloud.or(other.cloud),
            cloud_limits: self.cloud_limits.or(other.cloud_limits),
            cloud_watch: self.cloud_watch.or(other.cloud_watch),
            job_schedules: self.job_schedules.or(other.job_schedules),
            cloud_http_hosts: self.cloud_http_hosts.or(other.cloud_http_hosts),
            cloud_env: self.cloud_env.or(other.cloud_env),
            webhook_key: self.webhook_key.or(other.webhook_key),
            start_live_query_server: self
                .start_live_query_server
                .or(other.start_live_query_server),
            live_query: self.live_query.or(other.live_query),
            data_dir: self.data_dir.or(other.data_dir),
            max_limit: self.max_limit.or(other.max_limit),
            max_upload_size: self.max_upload_size.or(other.max_upload_size),
            max_batch_size: self.max_batch_size.or(other.max_batch_size),
            allow_client_class_creation: self
                .allow_client_class_creation
                .or(other.allow_client_class_creation),
        }
    }

    /// Reads `basalt.toml` (or the `--config` file). A missing default file is not an error.
    pub fn from_file(path: Option<&Path>) -> Result<Self, String> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from("basalt.toml"), false),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }
}

/// `20mb`, `512kb`, `1gb` or a plain number of bytes.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = [("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10), ("b", 1)]
        .iter()
        .find_map(|(suffix, m)| t.strip_suffix(suffix).map(|n| (n.trim().to_string(), *m)))
        .unwrap_or((t.clone(), 1));
    num.parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n > 0.0)
        .map(|n| (n * mult as f64) as usize)
        .ok_or_else(|| format!("`{s}` is not a size (e.g. 20mb)"))
}

impl Config {
    /// Resolves flags > environment > file > defaults. Errors name the option at fault.
    pub fn resolve(cli: Options, env: &dyn Fn(&str) -> Option<String>) -> Result<Self, String> {
        let env_opts = Options::from_env(env)?;
        let file = Options::from_file(cli.config.as_deref().or(env_opts.config.as_deref()))?;
        let o = cli.or(env_opts).or(file);

        let data_dir = o.data_dir.clone().unwrap_or_else(|| PathBuf::from("data"));
        let database = match &o.database_uri {
            Some(uri) => DatabaseUri::parse(uri).map_err(|e| format!("--databaseURI: {e}"))?,
            None => DatabaseUri::Sqlite(data_dir.join("basalt.db")),
        };
        let (master_key, generated_master_key) = match o.master_key.clone() {
            Some(k) if k.is_empty() => return Err("--masterKey must not be empty".into()),
            Some(k) => (k, false),
            None => load_or_generate_master_key(&data_dir)?,
        };
        let master_key_ips = o
            .master_key_ips
            .as_deref()
            .unwrap_or("127.0.0.1/32,::1/128")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| IpRange::parse(s).map_err(|e| format!("--masterKeyIps: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut mount_path = o.mount_path.clone().unwrap_or_else(|| "/parse".into());
        if !mount_path.starts_with('/') {
            return Err(format!(
                "--mountPath must start with `/`, got `{mount_path}`"
            ));
        }
        while mount_path.len() > 1 && mount_path.ends_with('/') {
            mount_path.pop();
        }
        let host = o.host.clone().unwrap_or_else(|| "127.0.0.1".into());
        let port = o.port.unwrap_or(1337);
        let server_url = o.server_url.clone().unwrap_or_else(|| {
            let h = if host == "0.0.0.0" || host == "::" {
                "localhost"
            } else {
                &host
            };
            format!("http://{h}:{port}{mount_path}")
        });
        if !(server_url.starts_with("http://") || server_url.starts_with("https://")) {
            return Err(format!(
                "--serverURL must be an http:// or https:// URL, got `{server_url}`"
            ));
        }
        let live_query: Option<serde_json::Value> = match &o.live_query {
            None => None,
            Some(json) => Some(
                serde_json::from_str(json).map_err(|e| format!("--liveQuery is not JSON: {e}"))?,
            ),
        };
        let live_query_redis = match live_query.as_ref().and_then(|v| v.get("redisURL")) {
            None => None,
            Some(serde_json::Value::String(u))
                if u.starts_with("redis://")
                    && crate::realtime::redis::Endpoint::parse(u).is_ok() =>
            {
                Some(u.clone())
            }
            Some(_) => {
                return Err(
                    "--liveQuery: redisURL must be a redis://[:password@]host[:port][/db] URL"
                        .into(),
                );
            }
        };
        let live_query_classes = match &live_query {
            None => None,
            Some(v) => match v.get("classNames") {
                None => None,
                Some(serde_json::Value::Array(a)) => Some(
                    a.iter()
                        .map(|c| {
                            c.as_str()
                                .map(str::to_string)
                                .ok_or("--liveQuery: classNames must be strings")
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                ),
                Some(_) => {
                    return Err("--liveQuery: classNames must be an array of class names".into());
                }
            },
        };
        let cloud = o.cloud.clone().or_else(|| {
            let default = PathBuf::from("cloud-code/main.js");
            default.exists().then_some(default)
        });
        if let Some(c) = &cloud
            && !c.exists()
        {
            return Err(format!("--cloud: {} does not exist", c.display()));
        }
        let cloud_limits = match &o.cloud_limits {
            Some(json) => serde_json::from_str(json).map_err(|e| format!("--cloudLimits: {e}"))?,
            None => CloudLimits::default(),
        };
        let job_schedules: Vec<crate::cloud::schedule::Configured> = match &o.job_schedules {
            Some(json) => serde_json::from_str(json).map_err(|e| format!("--jobSchedules: {e}"))?,
            None => Vec::new(),
        };
        for s in &job_schedules {
            crate::cloud::cron::Cron::parse(&s.cron).map_err(|e| format!("--jobSchedules: {e}"))?;
        }
        let cloud_http_hosts = match &o.cloud_http_hosts {
            Some(spec) => crate::cloud::outbound::Allowed::parse(spec)?,
            None => crate::cloud::outbound::Allowed::default(),
        };
        let mut cloud_env = std::collections::BTreeMap::new();
        for name in o.cloud_env.iter().flat_map(|s| s.split(',')).map(str::trim) {
            if name.is_empty() {
                continue;
            }
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("--cloudEnv: {name:?} is not a variable name"));
            }
            if let Some(value) = env(name) {
                cloud_env.insert(name.to_string(), value);
            }
        }
        let max_body_bytes = match &o.max_upload_size {
            Some(s) => parse_size(s).map_err(|e| format!("--maxUploadSize: {e}"))?,
            None => 20 << 20,
        };
        let read_only_master_key = match o.read_only_master_key.clone() {
            Some(k) if k.is_empty() => return Err("--readOnlyMasterKey must not be empty".into()),
            Some(k) if k == master_key => {
                return Err("--readOnlyMasterKey must differ from --masterKey".into());
            }
            other => other,
        };
        let session_length = match o.session_length {
            Some(0) => return Err("--sessionLength must be at least 1 second".into()),
            Some(n) => std::time::Duration::from_secs(n),
            None => std::time::Duration::from_secs(365 * 24 * 3600),
        };
        let max_limit = o.max_limit.unwrap_or(1000);
        if max_limit == 0 {
            return Err("--max-limit must be at least 1".into());
        }
        Ok(Config {
            app_id: o.app_id.clone().unwrap_or_else(|| "basalt".into()),
            master_key,
            generated_master_key,
            master_key_ips,
            read_only_master_key,
            session_length,
            client_keys: ClientKeys {
                javascript: o.javascript_key.clone(),
                rest: o.rest_api_key.clone(),
                client: o.client_key.clone(),
                dotnet: o.dotnet_key.clone(),
            },
            database,
            host,
            port,
            mount_path,
            server_url,
            public_server_url: o.public_server_url.clone(),
            cloud,
            cloud_limits,
            cloud_watch: o.cloud_watch.unwrap_or(false),
            job_schedules,
            cloud_http_hosts,
            cloud_env,
            webhook_key: o.webhook_key.clone(),
            live_query_classes,
            live_query_redis,
            data_dir,
            max_limit,
            max_body_bytes,
            max_batch_size: o.max_batch_size.unwrap_or(1000).max(1),
            allow_client_class_creation: o.allow_client_class_creation.unwrap_or(false),
        })
    }
}

/// Reads `<data>/master.key`, or writes a new random key there (mode 0600) on first start.
fn load_or_generate_master_key(data_dir: &Path) -> Result<(String, bool), String> {
    let path = data_dir.join("master.key");
    match std::fs::read_to_string(&path) {
        Ok(k) if !k.trim().is_empty() => return Ok((k.trim().to_string(), false)),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|e| format!("cannot create {}: {e}", data_dir.display()))?;
    let key = crate::ids::random_token(32);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(&path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    std::io::Write::write_all(&mut f, key.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok((key, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn parse_names_and_env_are_accepted() {
        let cli = Cli::try_parse_from([
            "basalt",
            "--appId",
            "a",
            "--masterKey",
            "m",
            "--databaseURI",
            "postgres://u:p@h/db",
            "--mountPath",
            "/api/",
        ])
        .expect("parse-style flags");
        let env = |k: &str| (k == "PORT").then(|| "4000".to_string());
        let c = Config::resolve(cli.options, &env).expect("valid");
        assert_eq!(c.app_id, "a");
        assert_eq!(c.port, 4000);
        assert_eq!(c.mount_path, "/api");
        assert_eq!(
            c.database,
            DatabaseUri::Postgres("postgres://u:p@h/db".into())
        );
        assert_eq!(c.server_url, "http://127.0.0.1:4000/api");
    }

    #[test]
    fn flags_beat_env() {
        let cli = Cli::try_parse_from(["basalt", "--app-id", "flag", "--master-key", "m"])
            .expect("valid");
        let env = |k: &str| (k == "PARSE_SERVER_APPLICATION_ID").then(|| "env".to_string());
        assert_eq!(
            Config::resolve(cli.options, &env).expect("valid").app_id,
            "flag"
        );
        let cli = Cli::try_parse_from(["basalt", "--master-key", "m"]).expect("valid");
        assert_eq!(
            Config::resolve(cli.options, &env).expect("valid").app_id,
            "env"
        );
    }

    #[test]
    fn cloud_env_names_the_variables_scripts_see() {
        let env = |k: &str| match k {
            "SHOWN" => Some("1".to_string()),
            "HIDDEN" => Some("2".to_string()),
            "BASALT_CLOUD_ENV" => Some("SHOWN, UNSET".to_string()),
            _ => None,
        };
        let cli = Cli::try_parse_from(["basalt", "--master-key", "m"]).expect("valid");
        let c = Config::resolve(cli.options, &env).expect("valid");
        assert_eq!(
            c.cloud_env.into_iter().collect::<Vec<_>>(),
            [("SHOWN".to_string(), "1".to_string())]
        );
        let cli = Cli::try_parse_from(["basalt", "--master-key", "m", "--cloudEnv", "A,B-C"])
            .expect("parses");
        let err = Config::resolve(cli.options, &no_env).unwrap_err();
        assert!(err.contains("--cloudEnv") && err.contains("B-C"), "{err}");
    }

    #[test]
    fn bad_options_are_named() {
        assert!(Cli::try_parse_from(["basalt", "--no-such-flag"]).is_err());
        let cli =
            Cli::try_parse_from(["basalt", "--master-key", "m", "--databaseURI", "mysql://x"])
                .expect("parses");
        let err = Config::resolve(cli.options, &no_env).unwrap_err();
        assert!(err.contains("--databaseURI"), "{err}");
        let env = |k: &str| (k == "PORT").then(|| "http".to_string());
        let cli = Cli::try_parse_from(["basalt", "--master-key", "m"]).expect("parses");
        assert!(
            Config::resolve(cli.options, &env)
                .unwrap_err()
                .contains("PORT")
        );
    }

    #[test]
    fn ip_ranges() {
        let r = IpRange::parse("10.0.0.0/8").expect("valid");
        assert!(r.contains("10.1.2.3".parse().expect("ip")));
        assert!(!r.contains("11.1.2.3".parse().expect("ip")));
        let lo = IpRange::parse("127.0.0.1").expect("valid");
        assert!(lo.contains("::ffff:127.0.0.1".parse().expect("ip")));
        assert!(IpRange::parse("1.2.3.4/33").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("20mb"), Ok(20 << 20));
        assert_eq!(parse_size("512"), Ok(512));
        assert!(parse_size("lots").is_err());
    }
}
