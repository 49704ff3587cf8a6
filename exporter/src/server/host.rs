//! The `Host` header: present once on HTTP/1.1 (RFC 9112 §3.2), a valid authority, and a
//! loopback name when the server listens on loopback only.
//!
//! The last rule defeats DNS rebinding: a web page whose name an attacker re-points at
//! 127.0.0.1 can make the victim's browser connect to a loopback-only server, but the browser
//! still sends the attacker's name as `Host`. Such requests are answered `421 Misdirected
//! Request`: this server does not answer for that authority.

use std::net::{Ipv4Addr, Ipv6Addr};

use http::header::HOST;
use http::uri::Authority;
use http::{Request, Version};

/// Why a request's `Host` is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HostError {
    /// An HTTP/1.1 request without `Host`: 400.
    Missing,
    /// More than one `Host` line: 400.
    Repeated,
    /// A `Host` that is not an authority (`host[:port]`): 400.
    Invalid,
    /// A name that is not a loopback name, on a loopback-only server: 421.
    NotLoopback,
}

impl HostError {
    pub(super) fn message(self) -> &'static str {
        match self {
            Self::Missing => "an HTTP/1.1 request needs a Host header\n",
            Self::Repeated => "a request may have only one Host header\n",
            Self::Invalid => "the Host header is not a valid host[:port]\n",
            Self::NotLoopback => "this server answers only for localhost and loopback addresses\n",
        }
    }
}

/// Checks the request's `Host`; with `loopback_only`, also that it names a loopback host.
pub(super) fn check<B>(request: &Request<B>, loopback_only: bool) -> Result<(), HostError> {
    let mut hosts = request.headers().get_all(HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(HostError::Repeated);
    }
    let host = match host {
        Some(host) => Some(host.to_str().map_err(|_| HostError::Invalid)?),
        None if request.version() == Version::HTTP_11 => return Err(HostError::Missing),
        None => None,
    };
    let parsed = match host {
        Some("") | None => None,
        Some(text) => {
            let authority: Authority = text.parse().map_err(|_| HostError::Invalid)?;
            if text.contains('@') || !valid_port(text) {
                return Err(HostError::Invalid);
            }
            Some(authority)
        }
    };
    if !loopback_only {
        return Ok(());
    }
    // An absolute-form target names the authority itself, and wins over `Host`.
    let authority = request.uri().authority().cloned().or(parsed);
    match authority {
        Some(authority) if is_loopback_name(authority.host()) => Ok(()),
        // HTTP/1.0 without a Host: no browser sends that, so no rebinding is possible.
        None if host.is_none() => Ok(()),
        _ => Err(HostError::NotLoopback),
    }
}

/// The port of a `host[:port]`, if any, is a number that fits 16 bits.
fn valid_port(authority: &str) -> bool {
    let port = match authority.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((_, "")) => return true,
            Some((_, after)) => after.strip_prefix(':'),
            None => return false,
        },
        None => match authority.split_once(':') {
            Some((_, port)) if port.contains(':') => return false,
            Some((_, port)) => Some(port),
            None => return true,
        },
    };
    port.is_some_and(|p| p.is_empty() || p.parse::<u16>().is_ok())
}

/// `localhost` (and its subdomains, which resolve to loopback by RFC 6761), `127.0.0.0/8`,
/// `[::1]` and IPv4-mapped loopback.
fn is_loopback_name(host: &str) -> bool {
    let lower = host.to_ascii_lowercase();
    let name = lower.strip_suffix('.').unwrap_or(&lower);
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    if let Ok(ip) = name.parse::<Ipv4Addr>() {
        return ip.is_loopback();
    }
    if let Some(inner) = name.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        if let Ok(ip) = inner.parse::<Ipv6Addr>() {
            return ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback());
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(version: Version, hosts: &[&str]) -> Request<()> {
        let mut builder = Request::get("/metrics").version(version);
        for host in hosts {
            builder = builder.header(HOST, *host);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn host_rules_of_rfc_9112() {
        let v11 = Version::HTTP_11;
        assert_eq!(check(&request(v11, &["example.com"]), false), Ok(()));
        assert_eq!(check(&request(v11, &[]), false), Err(HostError::Missing));
        assert_eq!(check(&request(Version::HTTP_10, &[]), false), Ok(()));
        assert_eq!(
            check(&request(v11, &["a", "b"]), false),
            Err(HostError::Repeated)
        );
        assert_eq!(
            check(&request(v11, &["a", "a"]), false),
            Err(HostError::Repeated)
        );
        for bad in ["a b", "x:port", "user@host", "[::1", "host:99999"] {
            assert_eq!(
                check(&request(v11, &[bad]), false),
                Err(HostError::Invalid),
                "{bad}"
            );
        }
    }

    #[test]
    fn loopback_servers_answer_only_loopback_names() {
        let v11 = Version::HTTP_11;
        for good in [
            "localhost",
            "LOCALHOST:9090",
            "localhost.",
            "metrics.localhost:80",
            "127.0.0.1",
            "127.1.2.3:8081",
            "[::1]",
            "[::1]:8081",
            "[::ffff:127.0.0.1]:1",
        ] {
            assert_eq!(check(&request(v11, &[good]), true), Ok(()), "{good}");
        }
        for bad in [
            "example.com",
            "localhost.example.com",
            "128.0.0.1",
            "10.0.0.1:8081",
            "[::2]",
            "",
            "0.0.0.0",
        ] {
            assert_eq!(
                check(&request(v11, &[bad]), true),
                Err(HostError::NotLoopback),
                "{bad}"
            );
        }
        assert_eq!(check(&request(Version::HTTP_10, &[]), true), Ok(()));
    }
}
