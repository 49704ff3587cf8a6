//! The routes of the status server, dispatched by hand.
//!
//! The health and live paths come from configuration; matching them as plain strings (rather
//! than as router patterns) means no configured path can be mistaken for a pattern, and
//! unknown paths and wrong methods get the same answers everywhere: `404 Route not found`
//! (Dynamo's answer) and `405` with `Allow`.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{
    ACCEPT, ACCEPT_ENCODING, ALLOW, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue, RETRY_AFTER, VARY,
};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;

use super::conn::{BusyGuard, ConnState};
use super::host::{self, HostError};
use super::peer::Peer;
use super::query;
use super::scrape::{PageSpec, ScrapeError, Scraper};
use super::waiting;
use super::{Health, HealthFn, METRICS_PATH, ScrapeFn};
use crate::exposition::{Format, NameFilter};

/// The body of Dynamo's answer to an unknown path.
pub(super) const NOT_FOUND_BODY: &str = "Route not found";

const JSON: &str = "application/json";
const PLAIN: &str = "text/plain; charset=utf-8";

/// What the routes are built from.
pub(super) struct RouteConfig {
    pub(super) scrape: Arc<ScrapeFn>,
    pub(super) health: Arc<HealthFn>,
    pub(super) health_path: String,
    pub(super) live_path: String,
    /// The formats `/metrics` offers, the preferred first.
    pub(super) formats: Vec<Format>,
    /// The server listens on a loopback address: only loopback `Host` names are answered.
    pub(super) loopback_only: bool,
    pub(super) max_pending_scrapes: usize,
}

/// Every route of one server.
pub(super) struct Routes {
    scraper: Arc<Scraper>,
    health: Arc<HealthFn>,
    health_path: String,
    live_path: String,
    formats: Vec<Format>,
    loopback_only: bool,
}

enum Route {
    Metrics,
    Health,
    Live,
}

/// A response body that marks its connection idle again once hyper is done with it.
pub(super) struct TrackedBody {
    inner: Full<Bytes>,
    _busy: BusyGuard,
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

type Plain = Response<Full<Bytes>>;

fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Plain {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

impl Routes {
    pub(super) fn new(config: RouteConfig) -> Self {
        Self {
            scraper: Arc::new(Scraper::new(config.scrape, config.max_pending_scrapes)),
            health: config.health,
            health_path: config.health_path,
            live_path: config.live_path,
            formats: config.formats,
            loopback_only: config.loopback_only,
        }
    }

    /// Answers one request; the connection counts as busy until the body is sent.
    pub(super) async fn handle<B>(
        &self,
        request: Request<B>,
        conn: Arc<ConnState>,
        peer: Arc<Peer>,
    ) -> Response<TrackedBody> {
        let busy = BusyGuard::new(Arc::clone(&conn));
        self.route(&request, &conn, &peer)
            .await
            .map(|inner| TrackedBody { inner, _busy: busy })
    }

    async fn route<B>(&self, request: &Request<B>, conn: &ConnState, peer: &Peer) -> Plain {
        if let Err(error) = host::check(request, self.loopback_only) {
            let status = match error {
                HostError::NotLoopback => StatusCode::MISDIRECTED_REQUEST,
                HostError::Missing | HostError::Repeated | HostError::Invalid => {
                    StatusCode::BAD_REQUEST
                }
            };
            return respond(status, PLAIN, error.message());
        }
        let path = request.uri().path();
        let route = if path == METRICS_PATH {
            Route::Metrics
        } else if path == self.health_path {
            Route::Health
        } else if path == self.live_path {
            Route::Live
        } else {
            return respond(StatusCode::NOT_FOUND, PLAIN, NOT_FOUND_BODY);
        };
        let method = request.method();
        if !matches!(*method, Method::GET | Method::HEAD) {
            let mut response = respond(
                StatusCode::METHOD_NOT_ALLOWED,
                PLAIN,
                "method not allowed\n",
            );
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        match route {
            Route::Metrics => {
                let only = match query::name_filter(request.uri().query()) {
                    Ok(only) => only.map(Arc::new),
                    Err(error) => return respond(error.status(), PLAIN, error.message()),
                };
                let headers = request.headers();
                let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok());
                let page = Page {
                    format: Format::negotiate(accept, &self.formats),
                    only,
                    gzip: accepts_gzip(headers),
                    varies_by_format: self.formats.len() > 1,
                };
                if *method == Method::HEAD {
                    // The headers a GET would get, without rendering: no length, no body.
                    page.response(Bytes::new())
                } else {
                    self.metrics(page, conn, peer).await
                }
            }
            Route::Health => {
                let health = (self.health)();
                let status = if health.ready {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                respond(status, JSON, health_json(&health))
            }
            // Shallow: 200 while the server answers, whatever the readiness.
            Route::Live => respond(StatusCode::OK, JSON, health_json(&(self.health)())),
        }
    }

    /// Joins the render in flight of the page (or starts one) and answers with its shared
    /// body.
    async fn metrics(&self, page: Page, conn: &ConnState, peer: &Peer) -> Plain {
        let spec = PageSpec {
            format: page.format,
            only: page.only.clone(),
        };
        let (_ticket, rendered) = match waiting::render(&self.scraper, spec, conn, peer).await {
            Ok(rendered) => rendered,
            Err(error) => return scrape_error(error),
        };
        if page.gzip {
            match rendered.gzip().await {
                Some(body) => page.response(body),
                None => scrape_error(ScrapeError::Failed),
            }
        } else {
            page.response(rendered.body.clone())
        }
    }
}

/// What a `/metrics` request asked for.
struct Page {
    format: Format,
    /// The families a `name[]` query restricts it to; `None` for every family.
    only: Option<Arc<NameFilter>>,
    gzip: bool,
    /// More than one format is offered, so the format depends on `Accept`.
    varies_by_format: bool,
}

impl Page {
    fn response(&self, body: Bytes) -> Plain {
        let mut response = respond(StatusCode::OK, self.format.content_type(), body);
        let headers = response.headers_mut();
        let vary = if self.varies_by_format {
            "Accept, Accept-Encoding"
        } else {
            "Accept-Encoding"
        };
        headers.insert(VARY, HeaderValue::from_static(vary));
        if self.gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response
    }
}

fn scrape_error(error: ScrapeError) -> Plain {
    match error {
        ScrapeError::Busy => {
            let mut response = respond(
                StatusCode::SERVICE_UNAVAILABLE,
                PLAIN,
                "too many scrapes waiting; retry later\n",
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        ScrapeError::Failed => respond(StatusCode::INTERNAL_SERVER_ERROR, PLAIN, "scrape failed\n"),
        // Nobody reads it: its write fails and closes the connection.
        ScrapeError::Gone => respond(StatusCode::SERVICE_UNAVAILABLE, PLAIN, "client gone\n"),
    }
}

/// Dynamo's readiness JSON:
/// `{"status":"ready","uptime":{"secs":1,"nanos":500000000},"endpoints":{"generate":"ready"}}`.
pub(super) fn health_json(health: &Health) -> String {
    fn status(ready: bool) -> &'static str {
        if ready { "ready" } else { "notready" }
    }
    let mut out = format!(
        "{{\"status\":\"{}\",\"uptime\":{{\"secs\":{},\"nanos\":{}}},\"endpoints\":{{",
        status(health.ready),
        health.uptime.as_secs(),
        health.uptime.subsec_nanos()
    );
    for (index, (name, ready)) in health.endpoints.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        push_json_string(&mut out, name);
        out.push(':');
        push_json_string(&mut out, status(*ready));
    }
    out.push_str("}}");
    out
}

fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// True when `Accept-Encoding` accepts gzip with a weight above zero, by name or by `*`.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let mut gzip: Option<f32> = None;
    let mut any: Option<f32> = None;
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else {
            continue;
        };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let weight = parts
                .filter_map(|param| param.split_once('='))
                .find(|(key, _)| key.trim().eq_ignore_ascii_case("q"))
                .map_or(Some(1.0), |(_, q)| q.trim().parse::<f32>().ok())
                .filter(|q| (0.0..=1.0).contains(q))
                .unwrap_or(0.0);
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                gzip = Some(gzip.map_or(weight, |w| w.max(weight)));
            } else if coding == "*" {
                any = Some(weight);
            }
        }
    }
    gzip.or(any).is_some_and(|weight| weight > 0.0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn accepts(values: &[&str]) -> bool {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(ACCEPT_ENCODING, HeaderValue::from_str(value).unwrap());
        }
        accepts_gzip(&headers)
    }

    #[test]
    fn reads_accept_encoding_weights() {
        let cases: &[(&[&str], bool)] = &[
            (&[], false),
            (&[""], false),
            (&["gzip"], true),
            (&["GZIP"], true),
            (&["x-gzip"], true),
            (&["deflate, gzip;q=0.5"], true),
            (&["gzip;q=0"], false),
            (&["gzip; q=0.000"], false),
            (&["gzip;q=0.001"], true),
            (&["gzip;q=abc"], false),
            (&["gzip;q=2"], false),
            (&["identity"], false),
            (&["br, deflate"], false),
            (&["*"], true),
            (&["*;q=0"], false),
            (&["*, gzip;q=0"], false),
            (&["gzip;q=0, *"], false),
            (&["identity", "gzip"], true),
        ];
        for (values, expected) in cases {
            assert_eq!(accepts(values), *expected, "Accept-Encoding {values:?}");
        }
    }

    #[test]
    fn route_paths_are_checked() {
        use super::super::check_route_path;
        assert_eq!(check_route_path("/health"), Ok(()));
        assert_eq!(check_route_path("/a/b-c_d.e"), Ok(()));
        let cases = [
            ("health", "it must start with '/'"),
            ("", "it must start with '/'"),
            (
                "/a b",
                "it may hold only visible ASCII characters, without '?' or '#'",
            ),
            (
                "/a?b",
                "it may hold only visible ASCII characters, without '?' or '#'",
            ),
            (
                "/a#b",
                "it may hold only visible ASCII characters, without '?' or '#'",
            ),
            (
                "/é",
                "it may hold only visible ASCII characters, without '?' or '#'",
            ),
            ("/metrics", "it is the metrics route"),
        ];
        for (path, reason) in cases {
            assert_eq!(check_route_path(path), Err(reason), "{path:?}");
        }
    }

    #[test]
    fn a_refused_route_path_is_named_in_the_start_error() {
        let error = crate::server::StatusServer::builder(
            Arc::new(|_: &mut dyn crate::exposition::Encoder| {}),
            Arc::new(|| Health {
                ready: true,
                uptime: Duration::ZERO,
                endpoints: Vec::new(),
            }),
        )
        .health_path("/a b")
        .start("127.0.0.1:0")
        .unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
        assert_eq!(
            error.to_string(),
            "route path \"/a b\": it may hold only visible ASCII characters, without '?' or '#'"
        );
    }

    #[test]
    fn health_json_has_dynamos_fields_and_escapes_names() {
        let health = Health {
            ready: false,
            uptime: Duration::new(3, 250),
            endpoints: vec![("generate".into(), true), ("odd \"name\"\n".into(), false)],
        };
        assert_eq!(
            health_json(&health),
            concat!(
                r#"{"status":"notready","uptime":{"secs":3,"nanos":250},"#,
                r#""endpoints":{"generate":"ready","odd \"name\"\n":"notready"}}"#
            )
        );
        assert_eq!(
            health_json(&Health::default()),
            r#"{"status":"notready","uptime":{"secs":0,"nanos":0},"endpoints":{}}"#
        );
    }
}
