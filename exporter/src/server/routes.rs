//! The routes of the status server, dispatched by hand.
//!
//! The health and live paths come from configuration; matching them as plain strings in one
//! handler (rather than as router patterns) means no configured path can be mistaken for a
//! pattern, and unknown paths and wrong methods get the same answers everywhere.

use std::io::Write;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{ACCEPT_ENCODING, ALLOW, CONTENT_ENCODING, CONTENT_TYPE, VARY};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use flate2::Compression;
use flate2::write::GzEncoder;

use super::{Health, HealthFn, METRICS_PATH, ScrapeFn};
use crate::TEXT_CONTENT_TYPE;

fn json_type() -> HeaderValue {
    HeaderValue::from_static("application/json")
}

fn plain() -> HeaderValue {
    HeaderValue::from_static("text/plain; charset=utf-8")
}

/// What every request can see.
pub(super) struct Shared {
    pub(super) scrape: Arc<ScrapeFn>,
    pub(super) health: Arc<HealthFn>,
    pub(super) health_path: String,
    pub(super) live_path: String,
}

enum Route {
    Metrics,
    Health,
    Live,
}

pub(super) fn router(shared: Shared) -> Router {
    Router::new().fallback(handle).with_state(Arc::new(shared))
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path();
    let route = if path == METRICS_PATH {
        Route::Metrics
    } else if path == shared.health_path {
        Route::Health
    } else if path == shared.live_path {
        Route::Live
    } else {
        return (
            StatusCode::NOT_FOUND,
            [(CONTENT_TYPE, plain())],
            "not found\n",
        )
            .into_response();
    };
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [
                (ALLOW, HeaderValue::from_static("GET, HEAD")),
                (CONTENT_TYPE, plain()),
            ],
            "method not allowed\n",
        )
            .into_response();
    }
    match route {
        Route::Metrics => metrics(&shared, accepts_gzip(request.headers())).await,
        Route::Health => {
            let health = (shared.health)();
            let (code, status) = if health.ready {
                (StatusCode::OK, "ready")
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, "notready")
            };
            json(code, status, health)
        }
        Route::Live => json(StatusCode::OK, "live", (shared.health)()),
    }
}

/// Runs the scrape on the blocking pool and compresses it there too when asked.
async fn metrics(shared: &Shared, gzip: bool) -> Response {
    let scrape = Arc::clone(&shared.scrape);
    let rendered = tokio::task::spawn_blocking(move || {
        let text = scrape();
        if gzip {
            compress(text.as_bytes())
        } else {
            Ok(text.into_bytes())
        }
    })
    .await;
    let body = match rendered {
        Ok(Ok(body)) => body,
        Ok(Err(error)) => {
            tracing::error!(%error, "could not compress the scrape");
            return server_error();
        }
        Err(error) => {
            tracing::error!(%error, "the scrape failed");
            return server_error();
        }
    };
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_CONTENT_TYPE));
    headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    if gzip {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    (StatusCode::OK, headers, Body::from(body)).into_response()
}

fn server_error() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(CONTENT_TYPE, plain())],
        "scrape failed\n",
    )
        .into_response()
}

/// `{"status":"<status>","uptime":<seconds>}`.
fn json(code: StatusCode, status: &str, health: Health) -> Response {
    let body = format!(
        "{{\"status\":\"{status}\",\"uptime\":{}}}",
        health.uptime.as_secs_f64()
    );
    (code, [(CONTENT_TYPE, json_type())], body).into_response()
}

fn compress(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 4), Compression::fast());
    encoder.write_all(bytes)?;
    encoder.finish()
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
        assert!(check_route_path("health").is_err());
        assert!(check_route_path("").is_err());
        assert!(check_route_path("/a b").is_err());
        assert!(check_route_path("/a?b").is_err());
        assert!(check_route_path("/metrics").is_err());
        assert!(check_route_path("/é").is_err());
    }
}
