//! TLS peers that never send a ClientHello are closed after the default 10-s handshake timeout,
//! and `bbs-events serve` is back to its baseline of descriptors after them. (Some of these
//! connections were once seen unclosed after a minute: the listen backlog was 128; see
//! `serve_queues_a_burst_of_connections_while_it_is_busy`.)
#![cfg(target_os = "linux")]

mod support;

use support::attack::{Target, median_and_max, until_closed};
use tokio::net::TcpStream;

#[tokio::test]
#[ignore = "long: 500 TLS peers that never send a ClientHello, default 10 s timeout (~20 s)"]
async fn tls_peers_that_never_say_hello_are_closed_after_the_handshake_timeout() {
    let dir = env!("CARGO_TARGET_TMPDIR");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let cert_path = format!("{dir}/attack-cert-{}.pem", std::process::id());
    let key_path = format!("{dir}/attack-key-{}.pem", std::process::id());
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let target = Target::start(&["--cert", &cert_path, "--key", &key_path]).await;
    let addr = target.addr;
    let mut attackers = tokio::task::JoinSet::new();
    for _ in 0..500 {
        attackers.spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            // The bound is generous, as for slowloris: on a loaded machine the server may accept
            // a connection seconds after the peer's connect returned; what is asserted is that
            // every peer is closed, and none before the timeout.
            until_closed(&mut stream, 60).await
        });
    }
    let closed = attackers.join_all().await;
    let _ = std::fs::remove_file(&cert_path);
    let _ = std::fs::remove_file(&key_path);
    let (median, max) = median_and_max(closed);
    assert!(median >= 9.0, "closed after {median} s, before the timeout");
    target
        .report(
            "500 silent TLS peers",
            &format!("; each closed after {median:.1} s (median), {max:.1} s (max)"),
        )
        .await;
}
