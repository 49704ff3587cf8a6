//! `os.fork()` in a process that uses the metrics: the child neither hangs nor panics.
//!
//! The module registers `os.register_at_fork` handlers when it is imported. Before a fork,
//! the storage's critical sections are drained and held back (`dynamo_exporter::fork`), so
//! the child never inherits a lock another thread held. After it, the parent opens them
//! again; the child opens them too and closes the status server's sockets it inherited (the
//! listening socket and the parent's connections), leaving the port to the parent. In the
//! child the parent's server is not running: `system_status_server_info()` is `None`,
//! `shutdown()` and exit forget it, and metrics and `prometheus_expfmt()` work as before.

use dynamo_exporter::fork;
use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyDict, PyTuple};

/// Registers the fork handlers with `os.register_at_fork`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let before = PyCFunction::new_closure(
        py,
        Some(c"_metrics_before_fork"),
        None,
        |_: &Bound<'_, PyTuple>, _: Option<&Bound<'_, PyDict>>| {
            // Past its timeout the fork goes on (a warning is logged): a fork is never refused.
            let _drained = fork::prepare();
        },
    )?;
    let after_in_parent = PyCFunction::new_closure(
        py,
        Some(c"_metrics_after_fork_in_parent"),
        None,
        |_: &Bound<'_, PyTuple>, _: Option<&Bound<'_, PyDict>>| fork::after_in_parent(),
    )?;
    let after_in_child = PyCFunction::new_closure(
        py,
        Some(c"_metrics_after_fork_in_child"),
        None,
        |args: &Bound<'_, PyTuple>, _: Option<&Bound<'_, PyDict>>| -> PyResult<()> {
            fork::after_in_child();
            crate::exit::after_fork_in_child();
            let os = args.py().import("os")?;
            for fd in fork::inherited_fds() {
                // Already closed or never ours in this process: nothing to do.
                let _ = os.call_method1("close", (fd,));
            }
            Ok(())
        },
    )?;
    let handlers = PyDict::new(py);
    handlers.set_item("before", before)?;
    handlers.set_item("after_in_parent", after_in_parent)?;
    handlers.set_item("after_in_child", after_in_child)?;
    py.import("os")?
        .call_method("register_at_fork", (), Some(&handlers))?;
    Ok(())
}
