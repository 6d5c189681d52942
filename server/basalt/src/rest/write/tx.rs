//! [`WriteTx`]: a request's writes, their lazily opened transaction, and what the schema and
//! session caches learn once it commits.

use std::sync::Arc;

use basalt_query::{ClassSchema, Dialect, FieldType, Sql};

use crate::cloud::triggers::After;
use crate::error::{ApiError, ApiResult};
use crate::ids::ClassName;
use crate::realtime::Event;
use crate::realtime::bus::Invalidation;
use crate::rest::codec::Projection;
use crate::schema::{Ensured, Growth};
use crate::state::AppState;
use crate::storage::{Cell, Col, Storage, Tx};

/// A request's writes. The transaction opens lazily: a write that turns out to be one
/// statement runs it autocommitted (one round trip instead of three on PostgreSQL); one that
/// needs more (schema growth, relations, a read-modify-write) opens it at its first statement.
/// Schema changes are published when it commits.
pub struct WriteTx {
    storage: Storage,
    tx: Option<Tx>,
    /// `/batch` with `transaction: true`: every statement joins one transaction.
    whole: bool,
    /// On SQLite, marks the writer as this batch's (see `SqliteStore::hold_for_batch`).
    hold: Option<crate::storage::BatchHold>,
    ensured: Vec<Ensured>,
    /// What the session cache must learn once this commits.
    effects: Vec<Effect>,
    /// What LiveQuery subscribers hear once this commits.
    events: Vec<Event>,
    /// `afterSave`/`afterDelete` hooks to run once this commits.
    after: Vec<After>,
    /// The client's installation id, recorded on sessions it opens.
    pub installation_id: Option<String>,
}

/// A change to sessions or roles, applied to the session cache after commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// A session was revoked (by its token hash).
    SessionRevoked(String),
    /// A user's sessions were revoked (deleted, or its password changed).
    UserSessionsRevoked(String),
    /// A role or its membership changed.
    RolesChanged,
}

impl WriteTx {
    pub fn new(state: &AppState) -> Self {
        Self {
            storage: state.storage.clone(),
            tx: None,
            whole: false,
            hold: None,
            ensured: Vec::new(),
            effects: Vec::new(),
            events: Vec::new(),
            after: Vec::new(),
            installation_id: None,
        }
    }

    /// Records what the session cache must learn once this commits.
    pub fn after_commit(&mut self, effect: Effect) {
        if !self.effects.contains(&effect) {
            self.effects.push(effect);
        }
    }

    /// How rows of `schema`'s class are read back, if writes to it publish LiveQuery events
    /// or have `afterSave`/`afterDelete` hooks (which both need the rows).
    pub fn event_projection(&self, state: &AppState, schema: &ClassSchema) -> Option<Projection> {
        (state.realtime.publishes(&schema.class_name)
            || crate::cloud::triggers::wants_rows(state, &schema.class_name))
        .then(|| Projection::new(&state.files_base(), schema, None, &[]))
    }

    /// Runs `hook` (if there is one) once this commits.
    pub fn after_hook(&mut self, hook: Option<After>) {
        self.after.extend(hook);
    }

    /// Publishes `event` once this commits.
    pub fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    /// One transaction for everything that follows (a transactional batch).
    pub async fn whole(state: &AppState) -> ApiResult<Self> {
        let mut w = Self::new(state);
        w.whole = true;
        w.tx().await?;
        let root = crate::cloud::Origin::current_root();
        if let (Storage::Sqlite(s), true) = (&state.storage, root != 0) {
            w.hold = Some(s.hold_for_batch(root));
        }
        Ok(w)
    }

    pub(super) fn dialect(&self) -> Dialect {
        self.storage.dialect()
    }

    /// The open transaction, begun now if there is none.
    pub async fn tx(&mut self) -> ApiResult<&mut Tx> {
        if self.tx.is_none() {
            self.tx = Some(self.storage.begin().await?);
        }
        self.tx
            .as_mut()
            .ok_or_else(|| ApiError::internal("transaction vanished"))
    }

    /// Whether a transaction is open (a failed statement has aborted it, on PostgreSQL).
    pub fn has_tx(&self) -> bool {
        self.tx.is_some()
    }

    /// A statement that is the request's only write: autocommitted unless a transaction is open.
    pub async fn execute_alone(&mut self, sql: &Sql) -> ApiResult<u64> {
        match self.tx.as_mut() {
            Some(tx) => Ok(tx.execute(sql).await?),
            None => Ok(self.storage.execute(sql).await?),
        }
    }

    /// As [`Self::execute_alone`], for a statement with `RETURNING`.
    pub(super) async fn fetch_alone(
        &mut self,
        sql: &Sql,
        cols: &[Col],
    ) -> ApiResult<Vec<Vec<Cell>>> {
        match self.tx.as_mut() {
            Some(tx) => Ok(tx.fetch(sql, cols).await?),
            None => Ok(self.storage.write_fetch(sql, cols).await?),
        }
    }

    /// Grows the schema as the write needs, inside the transaction when it must change.
    pub(super) async fn ensure(
        &mut self,
        state: &AppState,
        class: &ClassName,
        types: &[(String, FieldType)],
        growth: Growth,
    ) -> ApiResult<Arc<ClassSchema>> {
        if let Some(s) = state.schemas.cached(class.as_str(), types)? {
            return Ok(s);
        }
        let tx = self.tx().await?;
        let ensured = state
            .schemas
            .ensure(tx, class.as_str(), types, growth)
            .await?;
        let schema = ensured.schema.clone();
        self.ensured.push(ensured);
        Ok(schema)
    }

    pub async fn commit(self, state: &AppState) -> ApiResult<()> {
        if let Some(tx) = self.tx {
            tx.commit().await?;
        }
        drop(self.hold);
        for e in &self.ensured {
            state.schemas.commit(e);
        }
        if self.ensured.iter().any(|e| e.changed) {
            state.realtime.invalidate(Invalidation::Schema);
        }
        for e in self.effects {
            let shared = match e {
                Effect::SessionRevoked(hash) => {
                    state.sessions.forget(&hash);
                    Invalidation::Session(hash)
                }
                Effect::UserSessionsRevoked(user) => {
                    state.sessions.forget_user(&user);
                    Invalidation::User(user)
                }
                Effect::RolesChanged => {
                    state.sessions.roles_changed();
                    Invalidation::Roles
                }
            };
            state.realtime.invalidate(shared);
        }
        // Subscribers hear the write first; the hooks then see the same rows.
        let mut events = self.events;
        let rows = if self.after.is_empty() {
            Vec::new()
        } else {
            events.clone()
        };
        events.retain(|e| state.realtime.publishes(&e.class));
        if !events.is_empty() {
            state.realtime.publish(events);
        }
        // Every hook runs; the first failure that is the client's to hear is the answer.
        let mut failed = None;
        for hook in self.after {
            if let Err(e) = hook.run(state, &rows).await {
                failed.get_or_insert(e);
            }
        }
        failed.map_or(Ok(()), Err)
    }
}
