//! TLS trust and client identity for OTLP over `https`: the PEM files the settings name, read
//! and checked once when the settings are read, and the `rustls` configuration built from
//! them for OTLP/HTTP (gRPC hands the same PEM to tonic).
//!
//! The certificates of the trust file are trusted beside the system's roots, as
//! OpenTelemetry's Rust exporter does with tonic: a collector with a certificate from a
//! private CA is reached by naming that CA, and a public one still is.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::{PemObject, SectionKind};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

/// The largest PEM file read: a system bundle of every public root is about 200 KiB.
const MAX_PEM_BYTES: u64 = 4 * 1024 * 1024;

/// A PEM file as it was read, with its path. Its `Debug` shows the path only: a private
/// key's bytes stay out of logs and error messages.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct PemFile {
    path: PathBuf,
    pem: Arc<[u8]>,
}

impl fmt::Debug for PemFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PemFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl PemFile {
    /// The path the file was read from.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The file's bytes (handed to tonic over gRPC).
    #[cfg(feature = "otlp-grpc")]
    pub(crate) fn pem(&self) -> &[u8] {
        &self.pem
    }

    /// The certificates of the file, in order.
    pub(crate) fn certificates(&self) -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_slice_iter(&self.pem)
            .filter_map(Result::ok)
            .collect()
    }

    /// The first private key of the file.
    fn private_key(&self) -> Option<PrivateKeyDer<'static>> {
        PrivateKeyDer::from_pem_slice(&self.pem).ok()
    }
}

/// The TLS files of one exporter, checked: certificates to trust beside the system's roots,
/// and a client certificate chain with its key for mutual TLS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TlsFiles {
    /// Certificates trusted for the collector's certificate, beside the system's roots.
    pub(crate) trusted: Option<PemFile>,
    /// The client's certificate chain and its private key.
    pub(crate) client: Option<(PemFile, PemFile)>,
}

/// Reads a file of PEM certificates: the trusted CAs, or a client's chain.
///
/// # Errors
///
/// Why the file cannot be used: it cannot be read, is not PEM, holds no certificate, or a
/// certificate in it is not one.
pub(crate) fn read_certificates(path: &Path) -> Result<PemFile, String> {
    let file = read_pem(path)?;
    let certificates = file.certificates();
    if certificates.is_empty() {
        return Err("the file holds no certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    // Parsed as trust anchors, which checks each is an X.509 certificate.
    let mut store = RootCertStore::empty();
    for (index, certificate) in certificates.into_iter().enumerate() {
        store.add(certificate).map_err(|error| {
            format!(
                "certificate {} of the file is not a valid X.509 certificate: {error}",
                index + 1
            )
        })?;
    }
    Ok(file)
}

/// Reads a file holding a PEM private key.
///
/// # Errors
///
/// Why the file cannot be used: it cannot be read, is not PEM, or holds no private key.
pub(crate) fn read_private_key(path: &Path) -> Result<PemFile, String> {
    let file = read_pem(path)?;
    if file.private_key().is_none() {
        return Err(
            "the file holds no private key (-----BEGIN PRIVATE KEY-----, RSA PRIVATE KEY or \
             EC PRIVATE KEY)"
                .into(),
        );
    }
    Ok(file)
}

/// Checks that a client certificate chain and a key go together: the key is one the TLS
/// library can sign with, and is the key of the chain's first certificate.
///
/// # Errors
///
/// Why they cannot be used together.
pub(crate) fn check_client_pair(certificate: &PemFile, key: &PemFile) -> Result<(), String> {
    let Some(private_key) = key.private_key() else {
        return Err("the file holds no private key".into());
    };
    builder()
        .with_root_certificates(RootCertStore::empty())
        .with_client_auth_cert(certificate.certificates(), private_key)
        .map(|_| ())
        .map_err(|error| {
            format!(
                "the key cannot be used with the client certificate {}: {error}",
                certificate.path().display()
            )
        })
}

/// Reads a whole file, at most [`MAX_PEM_BYTES`], and checks it is PEM.
fn read_pem(path: &Path) -> Result<PemFile, String> {
    let file =
        std::fs::File::open(path).map_err(|error| format!("cannot read the file: {error}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| format!("cannot read the file: {error}"))?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(format!(
            "the file is larger than {} MiB: expected PEM",
            MAX_PEM_BYTES / 1024 / 1024
        ));
    }
    let mut sections = 0_usize;
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(&bytes) {
        section.map_err(|error| format!("the file is not valid PEM: {error}"))?;
        sections += 1;
    }
    if sections == 0 {
        return Err("the file is not PEM: it holds no -----BEGIN ...----- section".into());
    }
    Ok(PemFile {
        path: path.to_path_buf(),
        pem: bytes.into(),
    })
}

/// A `rustls` configuration with the `ring` provider and the default TLS versions.
fn builder() -> rustls::ConfigBuilder<ClientConfig, rustls::WantsVerifier> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let Ok(builder) =
        ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions()
    else {
        unreachable!("the ring provider supports the default TLS versions")
    };
    builder
}

/// The OTLP/HTTP client's TLS: the system's roots and the trusted file's certificates, and
/// the client certificate when one is given. Without any root (no system roots, no file),
/// `https` requests fail, and are counted, while plain HTTP works.
pub(crate) fn client_config(files: &TlsFiles) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (_, unparsable) = roots.add_parsable_certificates(native.certs);
    if unparsable > 0 || !native.errors.is_empty() {
        tracing::debug!(
            unparsable,
            errors = ?native.errors,
            "some system root certificates could not be loaded"
        );
    }
    if let Some(trusted) = &files.trusted {
        roots.add_parsable_certificates(trusted.certificates());
    }
    if roots.is_empty() {
        tracing::warn!("no root certificates: OTLP export over https will fail");
    }
    let builder = builder().with_root_certificates(roots);
    let Some((certificate, key)) = &files.client else {
        return builder.with_no_client_auth();
    };
    match key.private_key().map(|private_key| {
        builder
            .clone()
            .with_client_auth_cert(certificate.certificates(), private_key)
    }) {
        Some(Ok(config)) => config,
        // Checked when the settings were read.
        Some(Err(error)) => {
            tracing::warn!(%error, "the client certificate cannot be used: sending without it");
            builder.with_no_client_auth()
        }
        None => builder.with_no_client_auth(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary file holding `contents`, removed when dropped.
    fn file(contents: &[u8]) -> (tempfile::TempPath, PathBuf) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, contents).unwrap();
        let path = file.into_temp_path();
        let owned = path.to_path_buf();
        (path, owned)
    }

    #[test]
    fn refuses_files_that_are_missing_not_pem_or_without_what_is_wanted() {
        let missing = Path::new("/nonexistent/ca.pem");
        assert!(
            read_certificates(missing)
                .unwrap_err()
                .starts_with("cannot read the file: ")
        );
        let (_keep, text) = file(b"just some text\n");
        assert_eq!(
            read_certificates(&text).unwrap_err(),
            "the file is not PEM: it holds no -----BEGIN ...----- section"
        );
        let (_keep, broken) =
            file(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
        assert!(
            read_certificates(&broken)
                .unwrap_err()
                .starts_with("the file is not valid PEM"),
        );
        let (_keep, key_only) =
            file(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        assert_eq!(
            read_certificates(&key_only).unwrap_err(),
            "the file holds no certificate (-----BEGIN CERTIFICATE-----)"
        );
        let (_keep, not_x509) =
            file(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        assert!(
            read_certificates(&not_x509)
                .unwrap_err()
                .starts_with("certificate 1 of the file is not a valid X.509 certificate"),
        );
        let (_keep, cert_only) =
            file(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        assert!(
            read_private_key(&cert_only)
                .unwrap_err()
                .starts_with("the file holds no private key")
        );
    }

    #[test]
    fn debug_shows_the_path_not_the_contents() {
        let file = PemFile {
            path: "/etc/key.pem".into(),
            pem: Arc::from(&b"-----BEGIN PRIVATE KEY-----secret"[..]),
        };
        let debug = format!("{file:?}");
        assert!(debug.contains("/etc/key.pem"), "{debug}");
        assert!(!debug.contains("secret"), "{debug}");
    }
}
