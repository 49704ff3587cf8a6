//! What every metric handle has: cheap clones, introspection and a no-op form.

/// Defines a handle type over `Arc<Series<$cell>>` with its shared methods.
macro_rules! handle {
    ($(#[$meta:meta])* $name:ident($cell:ty)) => {
        $(#[$meta])*
        #[derive(Clone)]
        #[must_use]
        pub struct $name(pub(crate) std::sync::Arc<crate::series::Series<$cell>>);

        impl $name {
            /// The full exported name.
            #[must_use]
            pub fn name(&self) -> &str {
                &self.0.core.name
            }

            /// The constant labels (for a vec child, its vec's), sorted by name.
            #[must_use]
            pub fn const_labels(&self) -> Vec<(&str, &str)> {
                self.0.core.const_label_refs()
            }

            /// A handle registered nowhere: it records, but no scrape shows it.
            pub fn noop() -> Self {
                let core = crate::series::MetricCore::new("".into(), Vec::new(), Vec::new(), None);
                Self(std::sync::Arc::new(crate::series::Series::new(std::sync::Arc::new(core), &[] as &[&str], 0)))
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("name", &self.name())
                    .field("const_labels", &self.const_labels())
                    .finish_non_exhaustive()
            }
        }

        impl crate::vec::VecChild for $name {
            type Cell = $cell;

            fn from_series(series: std::sync::Arc<crate::series::Series<$cell>>) -> Self {
                Self(series)
            }

            fn series(&self) -> &std::sync::Arc<crate::series::Series<$cell>> {
                &self.0
            }

            fn noop_child() -> Self {
                Self::noop()
            }
        }
    };
}

pub(crate) use handle;
