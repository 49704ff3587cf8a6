//! The hierarchy below the runtime: namespaces, components and endpoints.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Weak};

use crate::health_checks::Activity;
use crate::names::sanitize_hierarchy_name;
use crate::prometheus_names::labels;
use crate::requests::RequestSlot;
use crate::runtime::RuntimeInner;
use crate::scope::{self, Scoped};
use crate::system_server::HealthStatus;
use crate::{Metrics, MetricsError};

/// A place in the hierarchy: the runtime it belongs to and the labels it adds.
#[derive(Clone)]
pub(crate) struct Place {
    pub(crate) runtime: Arc<RuntimeInner>,
    pub(crate) path: Arc<Path>,
}

/// A place that does not keep its runtime alive, for state the runtime itself owns.
pub(crate) struct WeakPlace {
    runtime: Weak<RuntimeInner>,
    path: Weak<Path>,
}

impl WeakPlace {
    /// The place, while its runtime lives.
    pub(crate) fn upgrade(&self) -> Option<Place> {
        Some(Place {
            runtime: self.runtime.upgrade()?,
            path: self.path.upgrade()?,
        })
    }
}

/// The hierarchy labels of a place, in hierarchy order, or why its names are unusable.
///
/// A runtime keeps one `Arc<Path>` per distinct path, so its address names the place, and
/// state kept per place (the request metrics of an endpoint) lives here. Equality and hashing
/// look at the labels and the invalid name only.
#[derive(Debug, Default)]
pub(crate) struct Path {
    pub(crate) labels: Vec<(&'static str, String)>,
    /// The first level whose name sanitizes to nothing: `(level, name as given)`.
    pub(crate) invalid: Option<(&'static str, String)>,
    /// The request metrics of this place, created on first use (endpoints only).
    pub(crate) requests: RequestSlot,
    /// What request tracking tells the health checks (endpoints only).
    pub(crate) activity: Arc<Activity>,
}

impl PartialEq for Path {
    fn eq(&self, other: &Self) -> bool {
        self.labels == other.labels && self.invalid == other.invalid
    }
}

impl Eq for Path {}

impl Hash for Path {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.labels.hash(state);
        self.invalid.hash(state);
    }
}

impl Path {
    fn child(&self, level: &'static str, label: &'static str, name: &str) -> Self {
        let mut labels = self.labels.clone();
        let mut invalid = self.invalid.clone();
        match sanitize_hierarchy_name(name) {
            Some(value) => labels.push((label, value)),
            None => {
                invalid.get_or_insert((level, name.into()));
            }
        }
        Self {
            labels,
            invalid,
            requests: RequestSlot::default(),
            activity: Arc::default(),
        }
    }

    /// The labels, or the error of the first invalid level name.
    pub(crate) fn checked_labels(&self) -> Result<&[(&'static str, String)], MetricsError> {
        match &self.invalid {
            None => Ok(&self.labels),
            Some((level, name)) => Err(MetricsError::InvalidHierarchyName {
                level,
                name: name.clone(),
                reason: "it is empty or only underscores once sanitized",
            }),
        }
    }

    /// True when `self` is this place or below it.
    pub(crate) fn is_within(&self, place: &Path) -> bool {
        self.labels.starts_with(&place.labels)
    }
}

impl Place {
    pub(crate) fn child(&self, level: &'static str, label: &'static str, name: &str) -> Self {
        let path = self.runtime.intern(self.path.child(level, label, name));
        Self {
            runtime: Arc::clone(&self.runtime),
            path,
        }
    }

    /// A number naming this place among the places of its runtime.
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.path) as usize
    }

    /// This place without keeping its runtime alive.
    pub(crate) fn downgrade(&self) -> WeakPlace {
        WeakPlace {
            runtime: Arc::downgrade(&self.runtime),
            path: Arc::downgrade(&self.path),
        }
    }

    /// `namespace/component/endpoint`, as far as this place goes, for messages.
    pub(crate) fn display_path(&self) -> String {
        let names: Vec<&str> = self.path.labels.iter().map(|(_, v)| v.as_str()).collect();
        names.join("/")
    }
}

macro_rules! level {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        #[must_use]
        pub struct $name {
            pub(crate) place: Place,
        }

        impl $name {
            /// The metrics of this level: creators, scrape text and callbacks.
            pub fn metrics(&self) -> Metrics {
                Metrics::new(self.place.clone())
            }

            /// Runs `f` in this level's scope: `metrics` macro calls made inside it carry this
            /// level's hierarchy labels and land in this runtime.
            pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
                scope::in_scope(&self.place, f)
            }

            /// Wraps `future` so that every poll runs in this level's scope.
            pub fn instrument<F: Future>(&self, future: F) -> Scoped<F> {
                Scoped::new(self.place.clone(), future)
            }

            /// The hierarchy labels this level adds to its metrics, in hierarchy order.
            #[must_use]
            pub fn hierarchy_labels(&self) -> Vec<(&'static str, &str)> {
                self.place.path.labels.iter().map(|(k, v)| (*k, v.as_str())).collect()
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).field("labels", &self.place.path.labels).finish()
            }
        }
    };
}

level! {
    /// A namespace: its metrics carry `dynamo_namespace`.
    Namespace
}

level! {
    /// A component of a namespace: its metrics also carry `dynamo_component`.
    Component
}

level! {
    /// An endpoint of a component: its metrics also carry `dynamo_endpoint`.
    Endpoint
}

impl Namespace {
    /// The component `name` of this namespace. Names are sanitized (`test-component` becomes
    /// `test_component`); a name that sanitizes to nothing makes metric creation fail.
    pub fn component(&self, name: impl AsRef<str>) -> Component {
        Component {
            place: self
                .place
                .child("component", labels::COMPONENT, name.as_ref()),
        }
    }
}

impl Endpoint {
    /// Sets this endpoint's readiness. From then on `/health` lists it in its `endpoints`
    /// map (by the endpoint's name) and reports `ready` only while it, every other endpoint
    /// that set one, and the runtime are ready; with `DYN_SYSTEM_USE_ENDPOINT_HEALTH_STATUS`
    /// ([`crate::RuntimeBuilder::use_endpoint_health_status`]), only while every listed
    /// endpoint is. `/live` is unaffected.
    pub fn set_health_status(&self, status: HealthStatus) {
        self.place
            .runtime
            .system
            .set_endpoint_health(&self.name(), self.place.id(), status);
    }

    /// The readiness this endpoint set, if it set one.
    #[must_use]
    pub fn health_status(&self) -> Option<HealthStatus> {
        self.place
            .runtime
            .system
            .endpoint_health(&self.name(), self.place.id())
    }

    /// The endpoint's name as `/health` shows it: its `dynamo_endpoint` label, or the name
    /// as given when it sanitizes to nothing.
    pub(crate) fn name(&self) -> String {
        let path = &self.place.path;
        match (path.labels.last(), &path.invalid) {
            (Some((label, value)), _) if *label == labels::ENDPOINT => value.clone(),
            (_, Some((_, given))) => given.clone(),
            _ => String::new(),
        }
    }
}

impl Component {
    /// The endpoint `name` of this component.
    pub fn endpoint(&self, name: impl AsRef<str>) -> Endpoint {
        Endpoint {
            place: self
                .place
                .child("endpoint", labels::ENDPOINT, name.as_ref()),
        }
    }
}
