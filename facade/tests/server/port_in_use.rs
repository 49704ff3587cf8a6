//! A port already in use is an error from the runtime's creation, naming the variable, the
//! value and the address.

use std::net::TcpListener;

use crate::common;
use dynamo_runtime::{DistributedRuntime, MetricsError, SettingSource};

#[test]
fn a_port_in_use_is_an_error_naming_variable_value_and_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let port_text = port.to_string();
    let error = DistributedRuntime::builder()
        .global_recorder(false)
        .system_server_env(move |var| match var {
            "DYN_SYSTEM_PORT" => Some(port_text.clone()),
            "DYN_SYSTEM_HOST" => Some("127.0.0.1".into()),
            _ => None,
        })
        .build()
        .unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "cannot start the system status server on 127.0.0.1:{port} (DYN_SYSTEM_PORT={port}): "
        )),
        "{message}"
    );
    match error {
        MetricsError::ServerStart {
            port: given,
            addr,
            source,
        } => {
            assert_eq!(
                given,
                SettingSource::Env {
                    var: "DYN_SYSTEM_PORT",
                    value: port.to_string()
                }
            );
            assert_eq!(addr, format!("127.0.0.1:{port}"));
            assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
        }
        other => panic!("expected ServerStart, got {other:?}"),
    }
    drop(taken);
}

#[test]
fn a_second_runtime_on_the_same_port_is_refused() {
    let first = DistributedRuntime::builder()
        .global_recorder(false)
        .system_host("127.0.0.1")
        .system_port(Some(0))
        .build()
        .unwrap();
    let port = first.system_status_server_info().unwrap().port();
    let error = DistributedRuntime::builder()
        .global_recorder(false)
        .system_host("127.0.0.1")
        .system_port(Some(port))
        .build()
        .unwrap_err();
    // The port was given in code: the message says so, and names no variable.
    let message = error.to_string();
    assert!(
        message.starts_with(&format!(
            "cannot start the system status server on 127.0.0.1:{port} \
             (RuntimeBuilder::system_port(Some({port}))): "
        )),
        "{message}"
    );
    assert!(
        matches!(
            &error,
            MetricsError::ServerStart {
                port: SettingSource::Code { setting: "RuntimeBuilder::system_port", value },
                source,
                ..
            } if *value == format!("Some({port})")
                && source.kind() == std::io::ErrorKind::AddrInUse
        ),
        "{error:?}"
    );
    // The first server is unharmed.
    let addr = first.system_status_server_info().unwrap();
    assert_eq!(common::get(addr, "/live").status, 200);
}
