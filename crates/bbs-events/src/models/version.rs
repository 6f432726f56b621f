//! The model versions of the BBS wire format, and the downgrade of desired LRPs and task
//! definitions to V0 that the BBS applies on its event routes without `.r1`.
//!
//! The rules are the BBS's `VersionDownTo` of its models:
//!
//! * **Image layers** (V3 → V2): each shared layer becomes a cached dependency (put before the
//!   existing ones; the cache key is `algorithm:digest`, or the URL when there is no digest), each
//!   exclusive layer a download action run in parallel with the others before the existing setup
//!   (desired LRP) or action (task); layers of any other type are dropped.
//! * **Desired LRPs only** (V1 → V0): every timeout action gets `deprecated_timeout_ns` from its
//!   `timeout_ms`, `deprecated_start_timeout_s` becomes `start_timeout_ms / 1000`, and the cached
//!   dependencies become parallel download actions in a serial action before the setup.
//!
//! Two places where the BBS's own code misbehaves are done sanely here: a task without a
//! definition keeps none (the BBS adds an empty one), and a missing task or desired LRP stays
//! missing (the BBS process panics).

use std::borrow::Cow;

use bytes::Bytes;

use super::{
    Action, CachedDependency, DesiredLrp, DigestAlgorithm, DownloadAction, ImageLayer, LayerType,
    ParallelAction, ProtoEnum, SerialAction, Task, TaskDefinition,
};

/// A version of the BBS models on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum Version {
    /// The format of the routes without `.r1` (`/v1/events`, `/v1/events/lrp_instances`,
    /// `/v1/events/tasks`): desired LRPs and task definitions downgraded as the module explains.
    V0,
    /// The current format, served on the `.r1` routes.
    #[default]
    V3,
}

impl crate::Event {
    /// This event in the format of `version`: the desired LRPs and tasks it carries downgraded
    /// as the BBS does on its routes without `.r1`; borrowed when nothing changes (every
    /// actual-LRP event, and every event for [`Version::V3`]).
    pub fn version_down_to(&self, version: Version) -> Cow<'_, crate::Event> {
        use super::{
            DesiredLrpChangedEvent as DChanged, DesiredLrpCreatedEvent as DCreated,
            DesiredLrpRemovedEvent as DRemoved, TaskChangedEvent as TChanged,
            TaskCreatedEvent as TCreated, TaskRemovedEvent as TRemoved,
        };
        use crate::Event as E;
        fn lrp(lrp: &Option<Box<DesiredLrp>>, v: Version) -> Option<Box<DesiredLrp>> {
            lrp.as_deref()
                .map(|l| Box::new(l.version_down_to(v).into_owned()))
        }
        fn task(task: &Option<Box<Task>>, v: Version) -> Option<Box<Task>> {
            task.as_deref()
                .map(|t| Box::new(t.version_down_to(v).into_owned()))
        }
        if version == Version::V3 {
            return Cow::Borrowed(self);
        }
        Cow::Owned(match self {
            E::DesiredLrpCreated(e) => E::DesiredLrpCreated(DCreated {
                desired_lrp: lrp(&e.desired_lrp, version),
                trace_id: e.trace_id.clone(),
            }),
            E::DesiredLrpChanged(e) => E::DesiredLrpChanged(DChanged {
                before: lrp(&e.before, version),
                after: lrp(&e.after, version),
                trace_id: e.trace_id.clone(),
            }),
            E::DesiredLrpRemoved(e) => E::DesiredLrpRemoved(DRemoved {
                desired_lrp: lrp(&e.desired_lrp, version),
                trace_id: e.trace_id.clone(),
            }),
            E::TaskCreated(e) => E::TaskCreated(TCreated {
                task: task(&e.task, version),
            }),
            E::TaskChanged(e) => E::TaskChanged(TChanged {
                before: task(&e.before, version),
                after: task(&e.after, version),
            }),
            E::TaskRemoved(e) => E::TaskRemoved(TRemoved {
                task: task(&e.task, version),
            }),
            _ => return Cow::Borrowed(self),
        })
    }
}

impl DesiredLrp {
    /// This desired LRP in the format of `version`, as the BBS downgrades it (see
    /// [`Version`] and the module rules); borrowed when nothing changes.
    pub fn version_down_to(&self, version: Version) -> Cow<'_, DesiredLrp> {
        if version == Version::V3 {
            return Cow::Borrowed(self);
        }
        let mut lrp = self.clone();
        // V3 to V2: image layers.
        let layers = std::mem::take(&mut lrp.image_layers);
        let mut cached = shared_layers_as_cached_dependencies(&layers);
        cached.append(&mut lrp.cached_dependencies);
        lrp.cached_dependencies = cached;
        lrp.setup = exclusive_layers_before(&layers, &lrp.legacy_download_user, lrp.setup.take());
        // V1 to V0: deprecated timeouts, then cached dependencies as setup downloads.
        lrp.action = lrp.action.as_ref().and_then(with_deprecated_timeout_ns);
        lrp.setup = lrp.setup.as_ref().and_then(with_deprecated_timeout_ns);
        lrp.monitor = lrp.monitor.as_ref().and_then(with_deprecated_timeout_ns);
        // The BBS converts through a 32-bit unsigned integer, keeping the low 32 bits.
        lrp.deprecated_start_timeout_s = (lrp.start_timeout_ms as u32) / 1000;
        if !lrp.cached_dependencies.is_empty() {
            let downloads = std::mem::take(&mut lrp.cached_dependencies)
                .into_iter()
                .map(|dep| {
                    download(DownloadAction {
                        artifact: dep.name,
                        r#from: dep.r#from,
                        to: dep.to,
                        cache_key: dep.cache_key,
                        log_source: dep.log_source,
                        user: lrp.legacy_download_user.clone(),
                        ..DownloadAction::default()
                    })
                })
                .collect();
            let mut steps = vec![parallel(downloads)];
            steps.extend(lrp.setup.as_ref().map(unwrap));
            lrp.setup = Some(serial(steps));
        }
        Cow::Owned(lrp)
    }
}

impl Task {
    /// This task in the format of `version`, as the BBS downgrades it (only the image layers of
    /// its definition change; see [`Version`]); borrowed when nothing changes.
    pub fn version_down_to(&self, version: Version) -> Cow<'_, Task> {
        match (&self.task_definition, version) {
            (Some(definition), Version::V0) => {
                let mut task = self.clone();
                task.task_definition = Some(definition.version_down_to(version).into_owned());
                Cow::Owned(task)
            }
            _ => Cow::Borrowed(self),
        }
    }
}

impl TaskDefinition {
    /// This task definition in the format of `version`: for V0 its image layers become cached
    /// dependencies and download actions before its action.
    pub fn version_down_to(&self, version: Version) -> Cow<'_, TaskDefinition> {
        if version == Version::V3 {
            return Cow::Borrowed(self);
        }
        let mut def = self.clone();
        let layers = std::mem::take(&mut def.image_layers);
        let mut cached = shared_layers_as_cached_dependencies(&layers);
        cached.append(&mut def.cached_dependencies);
        def.cached_dependencies = cached;
        def.action = exclusive_layers_before(&layers, &def.legacy_download_user, def.action.take());
        Cow::Owned(def)
    }
}

/// The lower-case name of a digest algorithm as the BBS prints it (the number for an unknown one).
fn algorithm_name(value: i32) -> String {
    DigestAlgorithm::name_of(value)
        .map(str::to_ascii_lowercase)
        .unwrap_or_else(|| value.to_string())
}

fn cache_key(algorithm: &str, digest: &Bytes) -> Bytes {
    let mut key = Vec::with_capacity(algorithm.len() + 1 + digest.len());
    key.extend_from_slice(algorithm.as_bytes());
    key.push(b':');
    key.extend_from_slice(digest);
    Bytes::from(key)
}

fn shared_layers_as_cached_dependencies(layers: &[ImageLayer]) -> Vec<CachedDependency> {
    layers
        .iter()
        .filter(|l| l.layer_type == LayerType::Shared as i32)
        .map(|layer| {
            let algorithm = if layer.digest_algorithm == DigestAlgorithm::Invalid as i32 {
                String::new()
            } else {
                algorithm_name(layer.digest_algorithm)
            };
            let cache_key = if layer.digest_value.is_empty() {
                layer.url.clone()
            } else {
                cache_key(&algorithm, &layer.digest_value)
            };
            CachedDependency {
                name: layer.name.clone(),
                r#from: layer.url.clone(),
                to: layer.destination_path.clone(),
                cache_key,
                log_source: Bytes::new(),
                checksum_algorithm: Bytes::from(algorithm),
                checksum_value: layer.digest_value.clone(),
            }
        })
        .collect()
}

/// `existing` preceded by parallel downloads of the exclusive layers (none: `existing` as is).
fn exclusive_layers_before(
    layers: &[ImageLayer],
    user: &Bytes,
    existing: Option<Action>,
) -> Option<Action> {
    let downloads: Vec<Action> = layers
        .iter()
        .filter(|l| l.layer_type == LayerType::Exclusive as i32)
        .map(|layer| {
            let algorithm = algorithm_name(layer.digest_algorithm);
            download(DownloadAction {
                artifact: layer.name.clone(),
                r#from: layer.url.clone(),
                to: layer.destination_path.clone(),
                cache_key: cache_key(&algorithm, &layer.digest_value),
                log_source: Bytes::new(),
                user: user.clone(),
                checksum_algorithm: Bytes::from(algorithm),
                checksum_value: layer.digest_value.clone(),
            })
        })
        .collect();
    if downloads.is_empty() {
        return existing;
    }
    Some(match existing {
        Some(existing) => serial(vec![parallel(downloads), unwrap(&existing)]),
        None => parallel(downloads),
    })
}

fn download(action: DownloadAction) -> Action {
    Action {
        download_action: Some(Box::new(action)),
        ..Action::default()
    }
}

fn parallel(actions: Vec<Action>) -> Action {
    Action {
        parallel_action: Some(Box::new(ParallelAction {
            actions,
            log_source: Bytes::new(),
        })),
        ..Action::default()
    }
}

fn serial(actions: Vec<Action>) -> Action {
    Action {
        serial_action: Some(Box::new(SerialAction {
            actions,
            log_source: Bytes::new(),
        })),
        ..Action::default()
    }
}

/// Which of an action's fields the BBS treats as its value: the first one set, in field order.
enum Value<'a> {
    None,
    Leaf,
    Timeout,
    Wrapper(Option<&'a Action>),
    Group(&'a [Action]),
}

fn value(action: &Action) -> Value<'_> {
    if action.download_action.is_some()
        || action.upload_action.is_some()
        || action.run_action.is_some()
    {
        Value::Leaf
    } else if action.timeout_action.is_some() {
        Value::Timeout
    } else if let Some(a) = &action.emit_progress_action {
        Value::Wrapper(a.action.as_deref())
    } else if let Some(a) = &action.try_action {
        Value::Wrapper(a.action.as_deref())
    } else if let Some(a) = &action.parallel_action {
        Value::Group(&a.actions)
    } else if let Some(a) = &action.serial_action {
        Value::Group(&a.actions)
    } else if let Some(a) = &action.codependent_action {
        Value::Group(&a.actions)
    } else {
        Value::None
    }
}

/// The action holding only its value, as the BBS re-wraps an action it nests in a serial action.
fn unwrap(action: &Action) -> Action {
    let mut out = Action::default();
    if let Some(a) = &action.download_action {
        out.download_action = Some(a.clone());
    } else if let Some(a) = &action.upload_action {
        out.upload_action = Some(a.clone());
    } else if let Some(a) = &action.run_action {
        out.run_action = Some(a.clone());
    } else if let Some(a) = &action.timeout_action {
        out.timeout_action = Some(a.clone());
    } else if let Some(a) = &action.emit_progress_action {
        out.emit_progress_action = Some(a.clone());
    } else if let Some(a) = &action.try_action {
        out.try_action = Some(a.clone());
    } else if let Some(a) = &action.parallel_action {
        out.parallel_action = Some(a.clone());
    } else if let Some(a) = &action.serial_action {
        out.serial_action = Some(a.clone());
    } else if let Some(a) = &action.codependent_action {
        out.codependent_action = Some(a.clone());
    }
    out
}

/// The BBS's `SetDeprecatedTimeoutNs`: timeout actions get `deprecated_timeout_ns`; emit-progress
/// and try actions are replaced by their (converted) inner action, which the BBS does too.
fn with_deprecated_timeout_ns(action: &Action) -> Option<Action> {
    match value(action) {
        Value::None | Value::Leaf => Some(action.clone()),
        Value::Timeout => {
            let mut timeout = action.timeout_action.clone()?;
            timeout.deprecated_timeout_ns = timeout.timeout_ms.wrapping_mul(1_000_000);
            Some(Action {
                timeout_action: Some(timeout),
                ..Action::default()
            })
        }
        Value::Wrapper(inner) => inner.and_then(with_deprecated_timeout_ns),
        Value::Group(actions) => {
            // A nested wrapper without an inner action converts to nothing; the BBS then cannot
            // encode the group, here it keeps an empty action in its place.
            let converted = actions
                .iter()
                .map(|a| with_deprecated_timeout_ns(a).unwrap_or_default())
                .collect();
            let mut out = unwrap(action);
            if let Some(a) = &mut out.parallel_action {
                a.actions = converted;
            } else if let Some(a) = &mut out.serial_action {
                a.actions = converted;
            } else if let Some(a) = &mut out.codependent_action {
                a.actions = converted;
            }
            Some(out)
        }
    }
}
