//! A client and server for the Cloud Foundry BBS event stream, wire-compatible with a real BBS.
//!
//! The BBS publishes DesiredLRP, ActualLRP and Task lifecycle events as server-sent events whose data
//! lines are base64 protobuf messages. This crate provides:
//!
//! * [`Event`] and [`EventType`]: the 13 event types with their wire names, and [`models`], every
//!   protobuf message they reach, decoded with the Go client's leniency and re-encoded byte for byte
//!   as the BBS does; the serde form is the proto3 JSON mapping.
//! * [`client`]: [`Client`](client::Client) subscribes to the BBS routes (with mutual TLS) and returns
//!   an [`EventSubscription`](client::EventSubscription), an [`events_core::EventSource`] and a
//!   [`futures::Stream`] of [`StreamItem`](client::StreamItem)s and per-event errors that
//!   reconnects by itself. A reconnect is not an error: it arrives as the item
//!   [`StreamItem::Resync`](client::StreamItem::Resync), since a real BBS does not replay and the
//!   consumer should list the current state again, and a `try_next()?` loop keeps going.
//! * [`server`]: a fan-out [`Hub`](server::Hub) with one shared, bounded ring of events encoded
//!   once and an HTTP [`Server`](server::Server) for the BBS routes, headers and framing, with optional mutual TLS.
//! * [`sse`]: the incremental SSE parser (bounded memory) and the server's SSE writer.
//! * [`synthetic`]: a made-up but realistic stream of LRP lifecycle events for demos and load
//!   tests.
//!
//! # Feature flags
//!
//! None: the library needs no feature. The `bbs-events` command line (`tail` and `serve`) lives in
//! the `bbs-events-cli` crate, so that a library user does not build clap and its kin.
//!
//! # Examples
//!
//! Serve a hub's events and read them with the client:
//!
//! ```
//! use bbs_events::client::{Client, StreamItem};
//! use bbs_events::models::{Task, TaskCreatedEvent};
//! use bbs_events::server::{Hub, Server};
//! use bbs_events::{Event, EventType};
//! use tokio_util::sync::CancellationToken;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let hub = Hub::new();
//! let server = Server::builder(hub.clone()).bind("127.0.0.1:0").await?;
//! let url = format!("http://{}", server.local_addr());
//! let shutdown = CancellationToken::new();
//! tokio::spawn(server.run(shutdown.clone()));
//!
//! let client = Client::new(&url)?;
//! let mut tasks = client.subscribe_to_task_events().await?;
//! # while hub.subscriber_count() == 0 { tokio::task::yield_now().await; }
//!
//! let task = Task { task_guid: "task-1".into(), ..Task::default() };
//! hub.emit(Event::TaskCreated(TaskCreatedEvent { task: Some(task.into()) }))?;
//!
//! match tasks.next().await? {
//!     StreamItem::Event(received) => {
//!         assert_eq!(received.id.as_deref(), Some("0"));
//!         assert_eq!(received.event.event_type(), EventType::TaskCreated);
//!         assert_eq!(received.event.key(), "task-1");
//!     }
//!     // After a reconnect: events may have been missed, list the current state again.
//!     StreamItem::Resync(_) => unreachable!("the connection did not drop"),
//!     _ => {}
//! }
//! shutdown.cancel();
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod client;
mod event;
pub mod models;
pub mod server;
pub mod sse;
pub mod synthetic;

#[doc(inline)]
pub use crate::event::{CellFilterError, DecodeError, Event, EventType, UnknownEventType};

/// The event and error traits the client implements (`SourceError::is_terminal`, ...),
/// re-exported so that the common path needs no extra dependency.
#[doc(no_inline)]
pub use events_core;
