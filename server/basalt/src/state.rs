//! Application state shared by every request: configuration, storage, the schema cache and the
//! session cache.

use std::ops::Deref;
use std::sync::Arc;

use crate::auth::session::Sessions;
use crate::config::Config;
use crate::realtime::Realtime;
use crate::realtime::bus::{Bus, Transport};
use crate::realtime::redis::Endpoint;
use crate::schema::Schemas;
use crate::storage::Storage;

pub struct Inner {
    pub config: Config,
    pub storage: Storage,
    pub schemas: Schemas,
    pub sessions: Sessions,
    pub realtime: Realtime,
    /// Webhooks (`_Hooks`), looked up beside the cloud code.
    pub webhooks: crate::cloud::webhooks::Webhooks,
    /// Cloud code, once `cloud::start` has loaded it.
    pub cloud: std::sync::OnceLock<std::sync::Arc<basalt_cloud::Engine>>,
}

#[derive(Clone)]
pub struct AppState(pub Arc<Inner>);

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Where uploaded files are served: `<publicServerURL or serverURL>/files/<appId>`.
    pub fn files_base(&self) -> String {
        let base = self
            .config
            .public_server_url
            .as_deref()
            .unwrap_or(&self.config.server_url);
        format!(
            "{}/files/{}",
            base.trim_end_matches('/'),
            self.config.app_id
        )
    }

    pub async fn new(config: Config) -> Result<Self, String> {
        let storage = Storage::open(&config.database).await?;
        let schemas = Schemas::load(&storage).await?;
        // Nodes share events through Redis when configured, else, on PostgreSQL, through the
        // database they share.
        let transport = match (&config.live_query_redis, &storage) {
            (Some(url), _) => Some(Transport::Redis(
                Endpoint::parse(url).map_err(|e| format!("--liveQuery redisURL: {e}"))?,
            )),
            (None, Storage::Postgres(pg)) => Some(Transport::Postgres(pg.pool.clone())),
            (None, Storage::Sqlite(_)) => None,
        };
        let realtime = Realtime::new(
            config.live_query_classes.as_deref(),
            transport.as_ref().map(|_| Bus::new()),
        );
        let config_webhook_key = config.webhook_key.clone();
        let state = Self(Arc::new(Inner {
            config,
            storage,
            schemas,
            sessions: Sessions::default(),
            realtime,
            cloud: std::sync::OnceLock::new(),
            webhooks: crate::cloud::webhooks::Webhooks::new(config_webhook_key)?,
        }));
        Realtime::start(&state);
        crate::cloud::webhooks::start(&state);
        if let Some(t) = transport {
            Bus::start(&state, t);
        }
        Ok(state)
    }
}
