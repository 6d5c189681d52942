//! From one event to the frames each subscriber may see, following Parse's rules: the query
//! decides which of `original` and `object` match; class-level permissions (with pointer
//! permissions) and each object's ACL decide which of them the subscriber may read; the pair
//! gives `create`, `enter`, `update`, `leave` or nothing. A `leave` caused by losing read access
//! shows the last state the subscriber could read, an `enter` caused by gaining it shows no
//! `original`. Protected fields are removed from both, and a query or `watch` on a field hidden
//! from the subscriber yields nothing at all.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use basalt_query::ClassSchema;
use serde_json::{Map, Value};

use super::{Event, Profile, Sub, protocol};
use crate::auth::Auth;
use crate::clp::{self, Access};
use crate::state::AppState;

/// Fields every trimmed (`keys`) object keeps, as in Parse.
const ALWAYS: [&str; 5] = ["className", "objectId", "updatedAt", "createdAt", "ACL"];

pub(super) async fn dispatch(state: &AppState, e: &Event) {
    let schema = state
        .schemas
        .get(&e.class)
        .unwrap_or_else(|| Arc::new(ClassSchema::new(&e.class)));
    // Match under the lock (no awaiting there), then decide per subscriber.
    let candidates: Vec<(Arc<Sub>, bool, bool)> = {
        let hub = state.realtime.hub.read().unwrap_or_else(|e| e.into_inner());
        let Some(groups) = hub.classes.get(&e.class) else {
            return;
        };
        let mut out = Vec::new();
        for g in groups.values() {
            let before = e.original.as_ref().is_some_and(|o| g.matches(&schema, o));
            let after = g.matches(&schema, &e.object);
            if before || after {
                out.extend(g.subs.iter().map(|s| (s.clone(), before, after)));
            }
        }
        out
    };
    let mut auths: HashMap<String, Auth> = HashMap::new();
    let mut shown: HashMap<View, Shown> = HashMap::new();
    let mut decided: HashMap<(&Profile, bool, bool), Decision> = HashMap::new();
    // Neighbouring subscriptions usually share a profile (one query, many anonymous clients):
    // the last decision is checked before hashing.
    let mut last: Option<((&Profile, bool, bool), Decision)> = None;
    for (sub, before, after) in &candidates {
        let key = (&sub.profile, *before, *after);
        let reuse = last
            .as_ref()
            .is_some_and(|(k, _)| k.1 == key.1 && k.2 == key.2 && *k.0 == *key.0);
        if !reuse {
            if let Entry::Vacant(slot) = decided.entry(key) {
                let auth = auth_of(state, &sub.profile, &mut auths).await;
                let decision =
                    view_for(&schema, e, &sub.profile, &auth, *before, *after).map(|view| {
                        let kind = view.kind;
                        let text = shown
                            .entry(view)
                            .or_insert_with_key(|v| v.render(e))
                            .clone();
                        (kind, text)
                    });
                slot.insert(decision);
            }
            last = Some((key, decided.get(&key).cloned().flatten()));
        }
        if let Some((_, Some((kind, (object, original))))) = &last {
            sub.client.send(protocol::event_frame(
                kind,
                &sub.client.frame_ids,
                &sub.request_id,
                object,
                original.as_deref(),
            ));
        }
    }
}

/// An event's object (and original) as JSON text, shared by every subscriber with one view.
type Shown = (Arc<str>, Option<Arc<str>>);

/// What subscribers of one profile get of an event: an event kind and its text, or nothing.
type Decision = Option<(&'static str, Shown)>;

/// Everything that decides what a subscriber is shown of one event. Subscribers with equal
/// views get the same text, rendered once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct View {
    kind: &'static str,
    /// A `leave` after losing read access shows the original as the object.
    original_as_object: bool,
    with_original: bool,
    hidden_object: Vec<String>,
    hidden_original: Vec<String>,
    keys: Option<Vec<String>>,
    /// `_User.authData` is removed for everyone but its user and the master key.
    strip_auth_data: bool,
}

impl View {
    fn render(&self, e: &Event) -> Shown {
        let shape = |o: &Map<String, Value>, hidden: &[String]| -> Arc<str> {
            let mut out = o.clone();
            for f in hidden {
                out.remove(f);
            }
            if self.strip_auth_data {
                out.remove("authData");
            }
            out.insert("className".into(), Value::from(e.class.clone()));
            if let Some(keys) = &self.keys {
                out.retain(|k, _| ALWAYS.contains(&k.as_str()) || keys.contains(k));
            }
            Value::Object(out).to_string().into()
        };
        let (object, original) = match (&e.original, self.original_as_object) {
            (Some(o), true) => (o, Some(o)),
            (o, _) => (&e.object, o.as_ref()),
        };
        let object = shape(object, &self.hidden_object);
        let original = original
            .filter(|_| self.with_original)
            .map(|o| shape(o, &self.hidden_original));
        (object, original)
    }
}

/// The subscriber's rights now (a revoked session or a removed role counts at once), once per
/// token per event.
async fn auth_of(state: &AppState, sub: &Profile, cache: &mut HashMap<String, Auth>) -> Auth {
    let Some(token) = sub.session_token.as_deref().filter(|_| !sub.master) else {
        return super::rights(state, sub.master, None).await;
    };
    if let Some(a) = cache.get(token) {
        return a.clone();
    }
    let auth = super::rights(state, false, Some(token)).await;
    cache.insert(token.to_string(), auth.clone());
    auth
}

/// Whether `perms` may read `obj` by its ACL (none: public).
fn readable(obj: &Map<String, Value>, perms: Option<&[String]>) -> bool {
    let Some(perms) = perms else {
        return true;
    };
    let Some(acl) = obj.get("ACL").and_then(Value::as_object) else {
        return true;
    };
    perms.iter().any(|p| {
        acl.get(p)
            .and_then(|e| e.get("read"))
            .and_then(Value::as_bool)
            == Some(true)
    })
}

/// Whether one of `fields` of `obj` is a pointer (or holds one) to `user`.
fn points_to(obj: &Map<String, Value>, fields: &[String], user: Option<&str>) -> bool {
    let Some(user) = user else {
        return false;
    };
    let is_me = |v: &Value| v.get("objectId").and_then(Value::as_str) == Some(user);
    fields.iter().any(|f| match obj.get(f) {
        Some(Value::Array(items)) => items.iter().any(is_me),
        Some(v) => is_me(v),
        None => false,
    })
}

fn view_for(
    schema: &ClassSchema,
    e: &Event,
    sub: &Profile,
    auth: &Auth,
    before: bool,
    after: bool,
) -> Option<View> {
    let op = if sub.by_id {
        clp::Op::Get
    } else {
        clp::Op::Find
    };
    match clp::access(schema, op, auth) {
        Err(_) => return None,
        Ok(Access::Pointers(fields)) if !points_to(&e.object, &fields, auth.user_id()) => {
            return None;
        }
        Ok(_) => {}
    }
    let perms = auth.perms();
    let perms = perms.as_deref();
    let original = e.original.as_ref();
    // (kind, the original is shown as the object, the original is shown)
    let (kind, original_as_object, with_original) = if e.deleted {
        if !(after && readable(&e.object, perms)) {
            return None;
        }
        ("delete", false, false)
    } else {
        let was = before && original.is_some_and(|o| readable(o, perms));
        let is = after && readable(&e.object, perms);
        match (was, is, original) {
            (true, true, Some(_)) => ("update", false, true),
            // Lost read access: show the last state it could read.
            (true, false, Some(_)) => ("leave", !readable(&e.object, perms), true),
            (false, true, Some(o)) => ("enter", false, readable(o, perms)),
            (false, true, None) => ("create", false, false),
            _ => return None,
        }
    };
    if let (Some(watch), "update" | "create") = (&sub.watch, kind) {
        let changed = watch
            .iter()
            .any(|f| e.object.get(f) != original.and_then(|o| o.get(f)));
        if !changed {
            return None;
        }
    }
    let protection = clp::protection(schema, auth);
    let shown_object = match (original_as_object, original) {
        (true, Some(o)) => o,
        _ => &e.object,
    };
    let hidden_object = protection.hidden_in(shown_object);
    let hidden_original = match (with_original, original) {
        (true, Some(o)) => protection.hidden_in(o),
        _ => Vec::new(),
    };
    // A query or watch on a hidden field would tell, event by event, what the field holds.
    let reveals = |f: &String| hidden_object.contains(f) || hidden_original.contains(f);
    if sub.fields.iter().any(reveals) || sub.watch.iter().flatten().any(reveals) {
        return None;
    }
    let strip_auth_data = e.class == "_User"
        && !auth.reads_everything()
        && e.object.get("objectId").and_then(Value::as_str) != auth.user_id();
    Some(View {
        kind,
        original_as_object,
        with_original,
        hidden_object,
        hidden_original,
        keys: sub.keys.clone(),
        strip_auth_data,
    })
}
