//! The server's timeouts and caps: defaults safe on the open internet, and their checks.

use std::time::Duration;

use crate::server::error::ServerError;

/// Default for [`ServerBuilder::header_read_timeout`](super::ServerBuilder::header_read_timeout).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for [`ServerBuilder::tls_handshake_timeout`](super::ServerBuilder::tls_handshake_timeout).
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for [`ServerBuilder::request_body_timeout`](super::ServerBuilder::request_body_timeout).
pub const DEFAULT_REQUEST_BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Default for [`ServerBuilder::write_timeout`](super::ServerBuilder::write_timeout).
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for [`ServerBuilder::max_connections`](super::ServerBuilder::max_connections).
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Default for [`ServerBuilder::max_subscribers`](super::ServerBuilder::max_subscribers).
pub const DEFAULT_MAX_SUBSCRIBERS: usize = 2048;
/// Default for [`ServerBuilder::listen_backlog`](super::ServerBuilder::listen_backlog).
pub const DEFAULT_LISTEN_BACKLOG: u32 = 1024;
/// Default for [`ServerBuilder::connection_buffer`](super::ServerBuilder::connection_buffer).
pub const DEFAULT_CONNECTION_BUFFER: usize = 16 * 1024;
/// The smallest [`ServerBuilder::connection_buffer`](super::ServerBuilder::connection_buffer).
pub const MIN_CONNECTION_BUFFER: usize = 8 * 1024;
/// The largest [`ServerBuilder::connection_buffer`](super::ServerBuilder::connection_buffer);
/// a larger one is lowered to it.
pub const MAX_CONNECTION_BUFFER: usize = 16 * 1024 * 1024;
/// Default for [`ServerBuilder::shutdown_grace`](super::ServerBuilder::shutdown_grace).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The longest timeout honoured; longer ones (up to `Duration::MAX`) mean "practically never" and
/// are shortened to this so that deadline arithmetic cannot overflow.
const LONGEST: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The checked limits of one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) header_read_timeout: Duration,
    pub(crate) tls_handshake_timeout: Duration,
    pub(crate) request_body_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_subscribers: usize,
    pub(crate) connection_buffer: usize,
    pub(crate) listen_backlog: u32,
    pub(crate) shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            tls_handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            request_body_timeout: DEFAULT_REQUEST_BODY_TIMEOUT,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_subscribers: DEFAULT_MAX_SUBSCRIBERS,
            connection_buffer: DEFAULT_CONNECTION_BUFFER,
            listen_backlog: DEFAULT_LISTEN_BACKLOG,
            shutdown_grace: SHUTDOWN_GRACE,
        }
    }
}

impl Limits {
    /// Rejects zeros (which would refuse every peer) and shortens absurdly long values.
    pub(crate) fn checked(self) -> Result<Limits, ServerError> {
        let timeout = |option: &'static str, value: Duration| {
            if value.is_zero() {
                Err(ServerError::InvalidOption {
                    option,
                    reason: "must be longer than zero (zero would drop every peer); \
                             give a very long duration for practically no limit"
                        .to_owned(),
                })
            } else {
                Ok(value.min(LONGEST))
            }
        };
        let cap = |option: &'static str, value: usize| {
            if value == 0 {
                Err(ServerError::InvalidOption {
                    option,
                    reason: "must be at least 1 (zero would refuse every peer); \
                             give a very large number for practically no limit"
                        .to_owned(),
                })
            } else {
                Ok(value.min(tokio::sync::Semaphore::MAX_PERMITS))
            }
        };
        Ok(Limits {
            header_read_timeout: timeout("header_read_timeout", self.header_read_timeout)?,
            tls_handshake_timeout: timeout("tls_handshake_timeout", self.tls_handshake_timeout)?,
            request_body_timeout: timeout("request_body_timeout", self.request_body_timeout)?,
            write_timeout: timeout("write_timeout", self.write_timeout)?,
            max_connections: cap("max_connections", self.max_connections)?,
            max_subscribers: cap("max_subscribers", self.max_subscribers)?,
            connection_buffer: if self.connection_buffer < MIN_CONNECTION_BUFFER {
                return Err(ServerError::InvalidOption {
                    option: "connection_buffer",
                    reason: format!(
                        "{} bytes is below the least a connection works with \
                         ({MIN_CONNECTION_BUFFER} bytes); give at least that",
                        self.connection_buffer
                    ),
                });
            } else {
                self.connection_buffer.min(MAX_CONNECTION_BUFFER)
            },
            // At most what listen(2) takes; the kernel lowers it further to somaxconn.
            listen_backlog: cap("listen_backlog", self.listen_backlog as usize)?
                .min(i32::MAX as usize) as u32,
            // Zero is a legitimate grace: do not wait for streams at all.
            shutdown_grace: self.shutdown_grace.min(LONGEST),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_are_refused_with_the_option_named() {
        let limits = Limits {
            write_timeout: Duration::ZERO,
            ..Limits::default()
        };
        let error = limits.checked().unwrap_err().to_string();
        assert!(error.contains("write_timeout"), "{error}");
        let limits = Limits {
            max_subscribers: 0,
            ..Limits::default()
        };
        let error = limits.checked().unwrap_err().to_string();
        assert!(error.contains("max_subscribers"), "{error}");
        let limits = Limits {
            listen_backlog: 0,
            ..Limits::default()
        };
        let error = limits.checked().unwrap_err().to_string();
        assert!(error.contains("listen_backlog"), "{error}");
        for small in [0, MIN_CONNECTION_BUFFER - 1] {
            let limits = Limits {
                connection_buffer: small,
                ..Limits::default()
            };
            let error = limits.checked().unwrap_err().to_string();
            assert!(error.contains("connection_buffer"), "{error}");
        }
    }

    #[test]
    fn absurdly_large_values_are_shortened_not_overflowed() {
        let limits = Limits {
            header_read_timeout: Duration::MAX,
            tls_handshake_timeout: Duration::MAX,
            request_body_timeout: Duration::MAX,
            write_timeout: Duration::MAX,
            max_connections: usize::MAX,
            max_subscribers: usize::MAX,
            connection_buffer: usize::MAX,
            listen_backlog: u32::MAX,
            shutdown_grace: Duration::MAX,
        }
        .checked()
        .unwrap();
        assert_eq!(limits.connection_buffer, MAX_CONNECTION_BUFFER);
        assert_eq!(limits.listen_backlog, i32::MAX as u32);
        assert_eq!(limits.write_timeout, LONGEST);
        assert_eq!(limits.max_connections, tokio::sync::Semaphore::MAX_PERMITS);
        // The deadlines built from them do not overflow.
        let _ = std::time::Instant::now() + limits.header_read_timeout;
        let _ = tokio::sync::Semaphore::new(limits.max_subscribers);
    }

    #[test]
    fn defaults_pass_unchanged() {
        assert_eq!(Limits::default().checked().unwrap(), Limits::default());
    }
}
