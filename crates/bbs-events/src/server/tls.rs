//! TLS for the server, with optional client-certificate verification.

use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::server::error::ServerError;

/// A server TLS configuration (rustls with the ring provider).
#[derive(Debug, Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
}

impl ServerTls {
    /// TLS with this certificate chain and key (PEM); with `client_ca_pem`, clients must present a
    /// certificate signed by one of those CAs (mutual TLS, as a production BBS requires).
    ///
    /// # Errors
    ///
    /// [`ServerError::Tls`] when the PEM input or the resulting configuration is not usable.
    pub fn from_pem(
        cert_pem: &[u8],
        key_pem: &[u8],
        client_ca_pem: Option<&[u8]>,
    ) -> Result<ServerTls, ServerError> {
        let certs = read_certs(cert_pem, "server certificate")?;
        let key = PrivateKeyDer::from_pem_slice_compat(key_pem)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| ServerError::Tls(e.to_string()))?;
        let builder = match client_ca_pem {
            Some(pem) => {
                let mut roots = RootCertStore::empty();
                for cert in read_certs(pem, "client CA")? {
                    roots
                        .add(cert)
                        .map_err(|e| ServerError::Tls(format!("client CA: {e}")))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| ServerError::Tls(format!("client verifier: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(certs, key)
            .map_err(|e| ServerError::Tls(format!("certificate and key: {e}")))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls {
            config: Arc::new(config),
        })
    }

    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(Arc::clone(&self.config))
    }
}

fn read_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, ServerError> {
    let certs = rustls_pemfile::certs(&mut &*pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ServerError::Tls(format!("{what}: {e}")))?;
    if certs.is_empty() {
        return Err(ServerError::Tls(format!(
            "{what}: no PEM certificate found"
        )));
    }
    Ok(certs)
}

/// Reading a private key from PEM through rustls-pemfile.
trait FromPemCompat: Sized {
    fn from_pem_slice_compat(pem: &[u8]) -> Result<Self, ServerError>;
}

impl FromPemCompat for PrivateKeyDer<'static> {
    fn from_pem_slice_compat(pem: &[u8]) -> Result<Self, ServerError> {
        rustls_pemfile::private_key(&mut &*pem)
            .map_err(|e| ServerError::Tls(format!("private key: {e}")))?
            .ok_or_else(|| ServerError::Tls("private key: no PEM key found".to_owned()))
    }
}
