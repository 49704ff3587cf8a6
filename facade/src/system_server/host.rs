//! `DYN_SYSTEM_HOST`: which hosts are accepted, and the addresses they bind.
//!
//! A host is an IPv4 address, an IPv6 address (bare or in brackets, with an optional zone:
//! `fe80::1%eth0` or `fe80::1%2`), or a host name. A host with a port (`127.0.0.1:80`) is
//! refused with a message pointing at the port setting.

use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6, ToSocketAddrs};

/// Why `host` cannot be bound, if it cannot. `port_setting` names where the port belongs.
pub(super) fn check(host: &str, port_setting: &str) -> Result<(), String> {
    let bare = match host.strip_prefix('[') {
        Some(inner) => match inner.split_once(']') {
            Some((inner, "")) => return check_ipv6(inner),
            Some((_, after)) if after.starts_with(':') => {
                return Err(port_message(&after[1..], port_setting));
            }
            _ => return Err("an opening '[' without its closing ']'".into()),
        },
        None => host,
    };
    match bare.matches(':').count() {
        0 => check_name(bare),
        1 => {
            let (_, port) = bare.split_once(':').unwrap_or_default();
            Err(port_message(port, port_setting))
        }
        _ => check_ipv6(bare),
    }
}

fn port_message(port: &str, port_setting: &str) -> String {
    if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
        format!(
            "it holds a port (:{port}); give the host alone and set the port with {port_setting}"
        )
    } else {
        "expected an IP address or a host name, without a port".into()
    }
}

fn check_ipv6(text: &str) -> Result<(), String> {
    let (address, zone) = match text.split_once('%') {
        Some((address, zone)) => (address, Some(zone)),
        None => (text, None),
    };
    address
        .parse::<Ipv6Addr>()
        .map_err(|_| format!("{address:?} is not an IPv6 address"))?;
    if let Some(zone) = zone {
        let name_like = zone
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'@'));
        if zone.is_empty() || !name_like {
            return Err(format!(
                "the zone {zone:?} is not an interface name or number"
            ));
        }
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err("expected an IP address or a host name".into())
    }
}

/// The socket addresses `host` (already checked) resolves to, with `port`.
///
/// # Errors
///
/// A zone naming no network interface, or a name that does not resolve.
pub(super) fn addresses(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Some((address, zone)) = bare.split_once('%') {
        let ip: Ipv6Addr = address
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "not an IPv6 address"))?;
        let scope = zone_index(zone)?;
        return Ok(vec![SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope))]);
    }
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    Ok((bare, port).to_socket_addrs()?.collect())
}

/// The index of the network interface a zone names: a number, or a name looked up in
/// `/sys/class/net`.
fn zone_index(zone: &str) -> io::Result<u32> {
    if let Ok(index) = zone.parse::<u32>() {
        return Ok(index);
    }
    let path = std::path::Path::new("/sys/class/net")
        .join(zone)
        .join("ifindex");
    let text = std::fs::read_to_string(&path).map_err(|error| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("no network interface named {zone:?} ({error})"),
        )
    })?;
    text.trim().parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unreadable index of interface {zone:?}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_checked() {
        for good in [
            "0.0.0.0",
            "127.0.0.1",
            "localhost",
            "my-host.example.com",
            "::",
            "::1",
            "[::1]",
            "fe80::1%eth0",
            "[fe80::1%2]",
        ] {
            assert_eq!(check(good, "DYN_SYSTEM_PORT"), Ok(()), "{good}");
        }
        let with_port = check("127.0.0.1:80", "DYN_SYSTEM_PORT").unwrap_err();
        assert_eq!(
            with_port,
            "it holds a port (:80); give the host alone and set the port with DYN_SYSTEM_PORT"
        );
        assert!(check("[::1]:8081", "X").unwrap_err().contains("(:8081)"));
        assert!(
            check("localhost:http", "X")
                .unwrap_err()
                .contains("without a port")
        );
        for bad in [
            "[::1",
            "fe80::1%",
            "fe80::1%a b",
            "no spaces",
            "a/b",
            "1::2::3",
            "",
        ] {
            assert!(check(bad, "X").is_err(), "{bad}");
        }
    }

    #[test]
    fn scoped_hosts_bind_their_interface() {
        let loopback = addresses("fe80::1%lo", 9).unwrap();
        let SocketAddr::V6(v6) = loopback[0] else {
            panic!("not IPv6")
        };
        assert_eq!(v6.port(), 9);
        assert_ne!(v6.scope_id(), 0, "lo has an interface index");
        let numeric = addresses("[fe80::1%7]", 9).unwrap();
        assert_eq!(numeric[0].to_string(), "[fe80::1%7]:9");
        let missing = addresses("fe80::1%nosuchif0", 9).unwrap_err();
        assert!(missing.to_string().contains("nosuchif0"), "{missing}");
        assert_eq!(
            addresses("127.0.0.1", 80).unwrap(),
            [SocketAddr::from(([127, 0, 0, 1], 80))]
        );
    }
}
