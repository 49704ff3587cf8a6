//! A fork waits only for the short sections that hold locks, never for a page being written:
//! a scrape of many series, or one stalled by a slow client, does not delay `fork()`. (The
//! gate is process-wide, so this file holds one test.)

use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread;

use dynamo_exporter::exposition::{Encoder, FamilyInfo, Series};
use dynamo_exporter::{NativeHistogram, Opts, Registry, fork};

/// Stops at the first series of each family until the test lets it go on.
struct Stalling {
    stalled: Sender<String>,
    go_on: Receiver<()>,
    family: String,
    first: bool,
}

impl Encoder for Stalling {
    fn content_type(&self) -> &'static str {
        "text/plain"
    }

    fn family(&mut self, family: &FamilyInfo<'_>) {
        self.family = family.name.to_string();
        self.first = true;
    }

    fn series(&mut self, _series: &Series<'_>) {
        if std::mem::take(&mut self.first) {
            self.stalled.send(self.family.clone()).unwrap();
            self.go_on.recv().unwrap();
        }
    }
}

#[test]
fn a_fork_is_prepared_while_each_kind_of_family_is_being_written() {
    let registry = Registry::new();
    let requests = registry
        .int_counter_vec(&Opts::new("a_requests_total", "Requests"), &["id"])
        .unwrap();
    requests.with_label_values(&["1"]).inc();
    let native = Opts::new("b_latency_seconds", "Latency").with_native(NativeHistogram::new(1.1));
    registry.histogram(&native, Some(&[])).unwrap().observe(0.2);
    let build = registry.info(&Opts::new("c_build", "Build")).unwrap();
    build.info(&[("version", "1.2.3")]).unwrap();
    let state = registry
        .state_set(&Opts::new("d_state", "State"), &["idle", "busy"])
        .unwrap();
    state.state("busy").unwrap();
    requests.with_label_values(&["2"]).inc();

    let (stalled, at) = channel();
    let (go_on, wait) = channel();
    let writer = thread::spawn(move || {
        let mut encoder = Stalling {
            stalled,
            go_on: wait,
            family: String::new(),
            first: false,
        };
        registry.encode(&[], &mut encoder);
    });
    let mut families = Vec::new();
    while let Ok(family) = at.recv() {
        let drained = fork::prepare();
        fork::after_in_parent();
        assert!(
            drained,
            "the fork waited for the page while writing {family}"
        );
        families.push(family);
        go_on.send(()).unwrap();
    }
    writer.join().unwrap();
    assert_eq!(
        families,
        [
            "a_requests_total",
            "b_latency_seconds",
            "c_build",
            "d_state"
        ]
    );
}
