//! A private Azurite: it answers, stops answering while paused and answers again once
//! resumed, refuses connections once killed and comes back on the same port. Skipped
//! (loudly) without `FLOWGATE_AZURITE_BIN`.

use std::io::Write as _;
use std::time::Duration;

use testkit::{Azurite, bin_from_env};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// Sends a plain HTTP request and returns the status line, if any within `within`.
async fn status_line(port: u16, within: Duration) -> Option<String> {
    let ask = async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        s.write_all(b"GET /devstoreaccount1?comp=list HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut buf = vec![0u8; 64];
        let n = s.read(&mut buf).await.ok()?;
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        text.lines().next().map(str::to_owned)
    };
    timeout(within, ask).await.ok().flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_is_killed_restarted_paused_and_resumed() {
    let Some(bin) = bin_from_env() else {
        if std::env::var_os("FLOWGATE_REQUIRE_AZURITE").is_some_and(|v| v == "1") {
            panic!("FLOWGATE_AZURITE_BIN is not set but FLOWGATE_REQUIRE_AZURITE=1");
        }
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED: FLOWGATE_AZURITE_BIN is not set ***\n"
        );
        return;
    };
    let mut azurite = Azurite::start(bin).await.unwrap();
    let port = azurite.port();
    let line = status_line(port, Duration::from_secs(5)).await;
    assert!(
        line.as_deref().is_some_and(|l| l.starts_with("HTTP/1.1")),
        "{line:?}"
    );

    azurite.pause().unwrap();
    assert_eq!(
        status_line(port, Duration::from_millis(500)).await,
        None,
        "answered while paused"
    );
    azurite.resume().unwrap();
    assert!(
        status_line(port, Duration::from_secs(5)).await.is_some(),
        "silent after resume"
    );

    azurite.kill().await.unwrap();
    assert!(
        TcpStream::connect(("127.0.0.1", port)).await.is_err(),
        "listening after kill"
    );
    assert_eq!(azurite.pid(), None);
    azurite.restart().await.unwrap();
    assert_eq!(azurite.port(), port);
    assert!(
        status_line(port, Duration::from_secs(5)).await.is_some(),
        "silent after restart"
    );
}
