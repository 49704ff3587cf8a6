//! A `tracing` subscriber that keeps what is logged on the current thread, so a test can
//! assert on what a call logs (a refused macro call logs its error and returns nothing).

use std::fmt;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// One logged event: its level and its fields (`message` included) as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    /// The event's level.
    pub level: Level,
    /// Its fields in the order recorded, each as its name and its text.
    pub fields: Vec<(String, String)>,
}

impl LoggedEvent {
    /// The text of the field `name`: strings as they are, other values as `Debug` (or, for
    /// `%value`, `Display`) prints them.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Runs `f` and returns its result with the events it logged on this thread.
pub fn logged<R>(f: impl FnOnce() -> R) -> (R, Vec<LoggedEvent>) {
    let capture = Capture::default();
    let result = tracing::subscriber::with_default(capture.clone(), f);
    let events = capture.events.lock().unwrap().clone();
    (result, events)
}

#[derive(Clone, Default)]
struct Capture {
    events: Arc<Mutex<Vec<LoggedEvent>>>,
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        self.events.lock().unwrap().push(LoggedEvent {
            level: *event.metadata().level(),
            fields: fields.0,
        });
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().into(), value.into()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push((field.name().into(), format!("{value:?}")));
    }
}
