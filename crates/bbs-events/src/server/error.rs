//! Errors of the hub and the HTTP server.

use crate::CellFilterError;

/// Why a hub operation failed or a subscription ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// The hub is closed.
    #[error("the event hub is closed; no more events will be sent")]
    Closed,
    /// The subscriber fell `capacity` events behind and was disconnected so as not to slow the others.
    #[error(
        "subscriber disconnected: it fell {capacity} events behind; read faster or raise the \
         subscriber capacity, then subscribe again and resynchronise"
    )]
    SlowSubscriber {
        /// The hub's ring length, which the subscriber fell further behind than.
        capacity: usize,
    },
    /// An event could not be filtered by cell, which ends the subscription as in the BBS.
    #[error(transparent)]
    CellFilter(#[from] CellFilterError),
}

/// An error starting or running the HTTP server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}; pick a free address or port")]
    Bind {
        /// The address.
        addr: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The TLS configuration is not usable.
    #[error(
        "invalid TLS configuration: {0}; pass PEM certificates and a PKCS#8, PKCS#1 or SEC1 key"
    )]
    Tls(String),
    /// A server option is out of range.
    #[error("invalid server option `{option}`: {reason}")]
    InvalidOption {
        /// The builder method (and `serve` flag, with dashes) of the option.
        option: &'static str,
        /// What is wrong and what to pass instead.
        reason: String,
    },
    /// Accepting connections failed.
    #[error("accepting connections failed: {0}")]
    Accept(#[source] std::io::Error),
}
