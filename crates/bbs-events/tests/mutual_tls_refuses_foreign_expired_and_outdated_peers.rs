//! What a mutual-TLS server turns away: client certificates from another CA or expired, peers that
//! offer only TLS 1.0 or 1.1, and plain HTTP. None of them reaches the hub.

#[path = "support/pki.rs"]
mod pki;

use std::time::Duration;

use bbs_events::client::{Client, SubscriptionError};
use bbs_events::server::{Hub, Server, ServerTls};
use events_core::SourceError as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

/// A running mutual-TLS server trusting `pki`'s CA; stops when dropped.
struct TlsServer {
    hub: Hub,
    url: String,
    addr: std::net::SocketAddr,
    shutdown: CancellationToken,
}

impl TlsServer {
    async fn start(pki: &pki::Pki) -> TlsServer {
        let tls = ServerTls::from_pem(
            pki.server.0.as_bytes(),
            pki.server.1.as_bytes(),
            Some(pki.ca_pem.as_bytes()),
        )
        .expect("server TLS");
        let hub = Hub::new();
        let server = Server::builder(hub.clone())
            .tls(tls)
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        let addr = server.local_addr();
        let shutdown = CancellationToken::new();
        tokio::spawn(server.run(shutdown.clone()));
        TlsServer {
            hub,
            url: format!("https://localhost:{}", addr.port()),
            addr,
            shutdown,
        }
    }

    /// The error a client presenting `identity` gets; it must be a terminal TLS error.
    async fn refusal(&self, pki: &pki::Pki, identity: &pki::Leaf) -> SubscriptionError {
        let client = Client::builder(&self.url)
            .ca_pem(pki.ca_pem.clone())
            .identity_pem(identity.0.clone(), identity.1.clone())
            .build()
            .expect("client");
        let err = tokio::time::timeout(Duration::from_secs(10), client.subscribe_to_task_events())
            .await
            .expect("refused in time")
            .unwrap_err();
        assert!(matches!(err, SubscriptionError::Tls { .. }), "{err:?}");
        assert!(err.is_terminal(), "{err:?}");
        assert_eq!(
            self.hub.subscriber_count(),
            0,
            "a refused peer reached the hub"
        );
        err
    }

    /// Sends `bytes` on a raw connection and reads everything the server answers until it closes
    /// the connection (within 10 s).
    async fn raw_answer(&self, bytes: &[u8]) -> Vec<u8> {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        stream.write_all(bytes).await.unwrap();
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), async {
            let mut buf = [0u8; 4096];
            loop {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => answer.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await
        .expect("the server closes the connection");
        answer
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused() {
    let pki = pki::Pki::new();
    let other = pki::Pki::new();
    let server = TlsServer::start(&pki).await;
    let err = server.refusal(&pki, &other.client).await;
    let message = err.to_string();
    assert!(message.contains("UnknownCA"), "{message}");
}

#[tokio::test]
async fn an_expired_client_certificate_is_refused() {
    let pki = pki::Pki::new();
    let server = TlsServer::start(&pki).await;
    let expired = pki.expired_leaf("bbs-client");
    let err = server.refusal(&pki, &expired).await;
    let message = err.to_string();
    assert!(message.contains("CertificateExpired"), "{message}");
    // The same CA's valid certificate still gets in: the refusal was the expiry.
    let client = Client::builder(&server.url)
        .ca_pem(pki.ca_pem.clone())
        .identity_pem(pki.client.0.clone(), pki.client.1.clone())
        .build()
        .unwrap();
    let _subscription =
        tokio::time::timeout(Duration::from_secs(10), client.subscribe_to_task_events())
            .await
            .expect("in time")
            .expect("a valid certificate is accepted");
}

/// A ClientHello that offers only `version` (0x0301 for TLS 1.0, 0x0302 for 1.1): no
/// `supported_versions` extension, only `signature_algorithms`, which a server needs to pick its
/// certificate before it looks at versions.
fn old_client_hello(version: [u8; 2]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&version);
    body.extend_from_slice(&[0x42; 32]); // random
    body.push(0); // no session id
    body.extend_from_slice(&[0x00, 0x04, 0xc0, 0x2f, 0x00, 0x2f]); // ECDHE_RSA_AES_128_GCM_SHA256, RSA_AES_128_CBC_SHA
    body.extend_from_slice(&[0x01, 0x00]); // null compression only
    // signature_algorithms: ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256, ed25519.
    let schemes = [0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x08, 0x07];
    let mut extension = vec![
        0x00,
        0x0d,
        0x00,
        2 + schemes.len() as u8,
        0x00,
        schemes.len() as u8,
    ];
    extension.extend_from_slice(&schemes);
    body.extend_from_slice(&(extension.len() as u16).to_be_bytes());
    body.extend_from_slice(&extension);
    let mut handshake = vec![0x01]; // ClientHello
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, version[0], version[1]]; // handshake record
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

#[tokio::test]
async fn peers_offering_only_tls_1_0_or_1_1_get_a_protocol_version_alert() {
    let pki = pki::Pki::new();
    let server = TlsServer::start(&pki).await;
    for (name, version) in [("TLS 1.0", [3, 1]), ("TLS 1.1", [3, 2])] {
        let answer = server.raw_answer(&old_client_hello(version)).await;
        // One alert record: content type 21, level fatal (2), description protocol_version (70).
        assert!(answer.len() >= 7, "{name}: answer {answer:?}");
        assert_eq!(answer[0], 0x15, "{name}: not an alert record: {answer:?}");
        assert_eq!(
            &answer[5..7],
            &[2, 70],
            "{name}: not protocol_version: {answer:?}"
        );
    }
    assert_eq!(server.hub.subscriber_count(), 0);
}

#[tokio::test]
async fn plain_http_on_the_tls_port_gets_no_http_answer() {
    let pki = pki::Pki::new();
    let server = TlsServer::start(&pki).await;
    let answer = server
        .raw_answer(b"POST /v1/events/tasks.r1 HTTP/1.1\r\nHost: bbs\r\nContent-Length: 0\r\n\r\n")
        .await;
    assert!(
        !answer.windows(5).any(|w| w == b"HTTP/"),
        "answered in plain HTTP: {:?}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(server.hub.subscriber_count(), 0);
}
