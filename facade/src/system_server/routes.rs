//! The routes whose paths can be configured, each declared once: its variable, its builder
//! method and its default. A path read from the environment and one given in code go through
//! the same checks, so a new configurable route is one more entry here.

use dynamo_exporter::{DEFAULT_HEALTH_PATH, DEFAULT_LIVE_PATH, check_route_path};

use super::{HEALTH_PATH_VAR, LIVE_PATH_VAR};
use crate::MetricsError;
use dynamo_exporter::SettingSource;

/// A route of the status server whose path can be configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Readiness (`/health`).
    Health,
    /// Liveness (`/live`).
    Live,
}

/// How a configurable route is set, and its default.
struct Declaration {
    /// What the route answers, as messages name it.
    name: &'static str,
    /// The variable that sets its path.
    var: &'static str,
    /// The builder method that sets its path.
    method: &'static str,
    /// Its path when nothing sets it.
    default: &'static str,
}

impl Route {
    /// Every configurable route, in the order of its declaration.
    pub(crate) const ALL: [Self; 2] = [Self::Health, Self::Live];

    const fn declaration(self) -> Declaration {
        match self {
            Self::Health => Declaration {
                name: "health",
                var: HEALTH_PATH_VAR,
                method: "RuntimeBuilder::health_path",
                default: DEFAULT_HEALTH_PATH,
            },
            Self::Live => Declaration {
                name: "live",
                var: LIVE_PATH_VAR,
                method: "RuntimeBuilder::live_path",
                default: DEFAULT_LIVE_PATH,
            },
        }
    }

    /// The variable that sets the route's path.
    pub(crate) const fn var(self) -> &'static str {
        self.declaration().var
    }

    /// The builder method that sets the route's path.
    pub(crate) const fn method(self) -> &'static str {
        self.declaration().method
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// The path of every configurable route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoutePaths([String; Route::ALL.len()]);

impl Default for RoutePaths {
    fn default() -> Self {
        Self(Route::ALL.map(|route| route.declaration().default.to_string()))
    }
}

impl RoutePaths {
    /// The path of `route`.
    pub(crate) fn get(&self, route: Route) -> &str {
        &self.0[route.index()]
    }
}

/// Paths being chosen, from the defaults, the environment and code in turn, with where each
/// came from (`None`: its default) so that a clash names the setting that caused it.
#[derive(Debug, Default)]
pub(crate) struct RouteChoice {
    paths: RoutePaths,
    sources: [Option<SettingSource>; Route::ALL.len()],
}

impl RouteChoice {
    /// Sets the path of `route`, given as `source` says.
    ///
    /// # Errors
    ///
    /// A path that cannot be a route ([`check_route_path`]: a leading `/`, visible ASCII
    /// without `?` or `#`, not `/metrics`), as [`SettingSource::invalid`] reports it.
    pub(crate) fn set(
        &mut self,
        route: Route,
        path: String,
        source: SettingSource,
    ) -> Result<(), MetricsError> {
        check_route_path(&path)
            .map_err(|reason| MetricsError::from(source.clone().invalid(reason)))?;
        self.paths.0[route.index()] = path;
        self.sources[route.index()] = Some(source);
        Ok(())
    }

    /// The chosen paths, once no two routes share one.
    ///
    /// # Errors
    ///
    /// Two routes on one path: the error names the setting that put the second there (code
    /// before the environment before a default; on a tie, the route declared later).
    pub(crate) fn finish(self) -> Result<RoutePaths, MetricsError> {
        for (at, first) in Route::ALL.iter().enumerate() {
            for second in &Route::ALL[at + 1..] {
                if self.paths.get(*first) != self.paths.get(*second) {
                    continue;
                }
                let (blamed, other) =
                    if rank(&self.sources[first.index()]) > rank(&self.sources[second.index()]) {
                        (*first, *second)
                    } else {
                        (*second, *first)
                    };
                // Two defaults never clash (a test holds them apart), so the blamed path
                // was set.
                if let Some(source) = self.sources[blamed.index()].clone() {
                    let reason = format!("it is the {} path too", other.declaration().name);
                    return Err(source.invalid(reason).into());
                }
            }
        }
        Ok(self.paths)
    }
}

/// Which setting wins: code over the environment over a default.
fn rank(source: &Option<SettingSource>) -> u8 {
    match source {
        None => 0,
        Some(SettingSource::Env { .. }) => 1,
        Some(SettingSource::Code { .. }) => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_listed_once_in_order_with_its_own_default() {
        for (index, route) in Route::ALL.iter().enumerate() {
            assert_eq!(route.index(), index);
        }
        let defaults = RoutePaths::default();
        for (at, first) in Route::ALL.iter().enumerate() {
            check_route_path(defaults.get(*first)).expect("a default is a valid path");
            for second in &Route::ALL[at + 1..] {
                assert_ne!(defaults.get(*first), defaults.get(*second));
            }
        }
        assert_eq!(defaults.get(Route::Health), "/health");
        assert_eq!(defaults.get(Route::Live), "/live");
    }

    #[test]
    fn a_clash_names_the_setting_that_made_it() {
        let env = |route: Route, path: &str| SettingSource::env(route.var(), path);
        let code = |route: Route, path: &str| SettingSource::code(route.method(), &path);

        let mut choice = RouteChoice::default();
        choice
            .set(Route::Health, "/live".into(), env(Route::Health, "/live"))
            .unwrap();
        assert_eq!(
            choice.finish().unwrap_err().to_string(),
            "DYN_SYSTEM_HEALTH_PATH=\"/live\" is invalid: it is the live path too"
        );

        let mut choice = RouteChoice::default();
        choice
            .set(Route::Health, "/x".into(), env(Route::Health, "/x"))
            .unwrap();
        choice
            .set(Route::Live, "/x".into(), env(Route::Live, "/x"))
            .unwrap();
        assert_eq!(
            choice.finish().unwrap_err().to_string(),
            "DYN_SYSTEM_LIVE_PATH=\"/x\" is invalid: it is the health path too"
        );

        let mut choice = RouteChoice::default();
        choice
            .set(Route::Live, "/x".into(), env(Route::Live, "/x"))
            .unwrap();
        choice
            .set(Route::Health, "/x".into(), code(Route::Health, "/x"))
            .unwrap();
        assert_eq!(
            choice.finish().unwrap_err().to_string(),
            "RuntimeBuilder::health_path(\"/x\") is invalid: it is the live path too"
        );
    }
}
