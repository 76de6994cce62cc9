//! TLS for the SQL endpoint, so `sslmode=require` clients connect: a certificate and key from
//! PEM files, or a self-signed certificate made once and kept beside the project, whose
//! SHA-256 fingerprint is printed so a client can pin it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

use crate::error::{Result, ServeError};

/// Where the endpoint's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// PEM files: the certificate chain and its private key.
    Files { cert: PathBuf, key: PathBuf },
    /// Made on first use in this folder (`cert.pem`, `key.pem`) and reused after.
    SelfSigned { dir: PathBuf },
}

/// A ready acceptor and what to tell users about it.
#[derive(Clone)]
pub struct Tls {
    pub acceptor: TlsAcceptor,
    /// SHA-256 of the leaf certificate, as `AB:CD:...`.
    pub fingerprint: String,
    pub cert_path: PathBuf,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tls({})", self.fingerprint)
    }
}

fn invalid(path: &Path, what: impl std::fmt::Display) -> ServeError {
    ServeError::Invalid(format!("{}: {what}", path.display()))
}

/// Loads (or makes) the certificate and builds the acceptor.
pub fn load(source: &TlsSource) -> Result<Tls> {
    let (cert, key) = match source {
        TlsSource::Files { cert, key } => (cert.clone(), key.clone()),
        TlsSource::SelfSigned { dir } => self_signed(dir)?,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&cert)
        .map_err(|e| invalid(&cert, format!("cannot read the certificate: {e}")))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| invalid(&cert, format!("not a PEM certificate: {e}")))?;
    let Some(leaf) = chain.first() else {
        return Err(invalid(&cert, "no certificate in the file (expected PEM)"));
    };
    let fingerprint = Sha256::digest(leaf.as_ref())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    let private_key = PrivateKeyDer::from_pem_file(&key)
        .map_err(|e| invalid(&key, format!("not a PEM private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServeError::Invalid(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(|e| invalid(&key, format!("does not fit the certificate: {e}")))?;
    // PostgreSQL 17's direct TLS negotiation asks for this protocol by ALPN.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        fingerprint,
        cert_path: cert,
    })
}

/// The self-signed pair in `dir`, made the first time (for localhost and 127.0.0.1).
fn self_signed(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    if cert.is_file() && key.is_file() {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(dir).map_err(|e| ServeError::io(dir, e))?;
    let made = rcgen::generate_simple_self_signed(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])
    .map_err(|e| ServeError::Invalid(format!("making a self-signed certificate: {e}")))?;
    write_private(&key, made.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(&cert, made.cert.pem()).map_err(|e| ServeError::io(&cert, e))?;
    Ok((cert, key))
}

/// Writes a key readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| ServeError::io(path, e))?;
    file.write_all(bytes).map_err(|e| ServeError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_self_signed_certificate_is_made_once_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let source = TlsSource::SelfSigned {
            dir: dir.path().join("tls"),
        };
        let first = load(&source).expect("made");
        let second = load(&source).expect("reused");
        assert_eq!(first.fingerprint, second.fingerprint);
        assert_eq!(first.fingerprint.split(':').count(), 32);
    }

    #[test]
    fn a_missing_or_bad_certificate_names_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cert = dir.path().join("cert.pem");
        std::fs::write(&cert, "not a certificate").expect("write");
        let err = load(&TlsSource::Files {
            cert: cert.clone(),
            key: dir.path().join("key.pem"),
        })
        .expect_err("refused");
        assert!(err.to_string().contains("cert.pem"), "{err}");
    }
}
