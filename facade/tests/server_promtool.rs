//! `promtool check metrics` accepts a scrape of the examples' metrics, lint included.

mod common;

use common::{
    assert_promtool_accepts, builder, example_metrics, scrape, serve, set_example_values,
};

#[test]
fn promtool_accepts_the_example_scrape() {
    let (runtime, addr) = serve(builder());
    set_example_values(&example_metrics(&runtime, "callback"));
    let text = scrape(addr);
    assert!(
        text.contains("dynamo_component_worker_active_requests{"),
        "{text}"
    );
    assert_promtool_accepts(&text);
}
