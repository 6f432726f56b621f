//! A made-up but realistic stream of LRP lifecycle events, for demos, load tests and
//! `bbs-events serve --synthetic`.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Event;
use crate::models::{
    ActualLrp, ActualLrpCrashedEvent, ActualLrpInfo, ActualLrpInstanceChangedEvent,
    ActualLrpInstanceCreatedEvent, ActualLrpInstanceKey, ActualLrpInstanceRemovedEvent,
    ActualLrpKey, ActualLrpNetInfo, DesiredLrp, DesiredLrpCreatedEvent, DesiredLrpRemovedEvent,
    ModificationTag, PortMapping,
};
use bytes::Bytes;

/// An endless stream of app lifecycles, one event at a time: desire an app, start its
/// instances (UNCLAIMED → CLAIMED → RUNNING), sometimes crash one, then remove everything.
///
/// The stream is the same for the same seed. Events are what the instance route carries:
/// desired-LRP, actual-LRP instance and crash events.
///
/// # Examples
///
/// ```
/// use bbs_events::EventType;
/// use bbs_events::synthetic::SyntheticEvents;
///
/// let mut events = SyntheticEvents::new(7).with_cells(2);
/// let first = events.next_event();
/// assert_eq!(first.event_type(), EventType::DesiredLrpCreated);
/// // Claimed instances are placed on cell-0 or cell-1, so each change passes exactly one
/// // cell's filter.
/// let changed = events
///     .find(|e| e.event_type() == EventType::ActualLrpInstanceChanged)
///     .unwrap();
/// assert!(changed.matches_cell("cell-0").unwrap() != changed.matches_cell("cell-1").unwrap());
/// ```
#[derive(Debug)]
pub struct SyntheticEvents {
    queue: VecDeque<Event>,
    app: u64,
    rng: fastrand::Rng,
    cells: Option<u32>,
}

fn b(s: impl Into<String>) -> Bytes {
    Bytes::from(s.into())
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

impl SyntheticEvents {
    /// A stream seeded with `seed`; instances are spread over cells named like
    /// `cell-z1-7` (three zones of twenty cells).
    pub fn new(seed: u64) -> SyntheticEvents {
        SyntheticEvents {
            queue: VecDeque::new(),
            app: 0,
            rng: fastrand::Rng::with_seed(seed),
            cells: None,
        }
    }

    /// Places instances on `cells` cells named `cell-0`, `cell-1`, …, so that a consumer
    /// per cell can subscribe with a cell filter. Zero keeps the default naming.
    #[must_use]
    pub fn with_cells(mut self, cells: u32) -> SyntheticEvents {
        self.cells = (cells > 0).then_some(cells);
        self
    }

    /// The next event.
    pub fn next_event(&mut self) -> Event {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return event;
            }
            self.plan_app();
        }
    }

    fn plan_app(&mut self) {
        self.app += 1;
        let guid = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            self.rng.u32(..),
            self.rng.u16(..),
            self.rng.u16(..0xfff),
            self.rng.u16(..0xfff),
            self.rng.u64(..1 << 48)
        );
        let instances = self.rng.i32(1..=4);
        let epoch = b(format!("epoch-{}", self.app));
        let desired = DesiredLrp {
            process_guid: b(guid.clone()),
            domain: b("cf-apps"),
            root_fs: b("preloaded:cflinuxfs4"),
            instances,
            memory_mb: 256 * self.rng.i32(1..=4),
            disk_mb: 1024,
            ports: vec![8080],
            log_guid: b(guid.clone()),
            log_source: b("CELL"),
            metrics_guid: b(guid.clone()),
            ..DesiredLrp::default()
        };
        self.queue
            .push_back(Event::DesiredLrpCreated(DesiredLrpCreatedEvent {
                desired_lrp: Some(desired.clone().into()),
                ..Default::default()
            }));
        let mut running = Vec::new();
        for index in 0..instances {
            let key = ActualLrpKey {
                process_guid: b(guid.clone()),
                index,
                domain: b("cf-apps"),
            };
            let cell = match self.cells {
                Some(n) => format!("cell-{}", self.rng.u32(0..n)),
                None => format!("cell-z{}-{}", index % 3 + 1, self.rng.u8(0..20)),
            };
            let instance_key = ActualLrpInstanceKey {
                instance_guid: b(format!("{guid}-i{index}")),
                cell_id: b(cell),
            };
            let tag = |i| ModificationTag {
                epoch: epoch.clone(),
                index: i,
            };
            let unclaimed = ActualLrp {
                actual_lrp_key: key.clone(),
                state: b("UNCLAIMED"),
                since: now_nanos(),
                modification_tag: tag(0),
                ..ActualLrp::default()
            };
            self.queue.push_back(Event::ActualLrpInstanceCreated(
                ActualLrpInstanceCreatedEvent {
                    actual_lrp: Some(unclaimed.into()),
                    ..Default::default()
                },
            ));
            let info = |state: &str, i: u32, net: ActualLrpNetInfo| ActualLrpInfo {
                actual_lrp_net_info: net,
                state: b(state),
                since: now_nanos(),
                modification_tag: tag(i),
                ..ActualLrpInfo::default()
            };
            let net = ActualLrpNetInfo {
                address: b(format!("10.0.{}.{}", index, self.rng.u8(2..250))),
                ports: vec![PortMapping {
                    container_port: 8080,
                    host_port: self.rng.u32(61000..62000),
                    ..PortMapping::default()
                }],
                instance_address: b(format!("10.255.{}.{}", index, self.rng.u8(2..250))),
                ..ActualLrpNetInfo::default()
            };
            let changed = |before: ActualLrpInfo, after: ActualLrpInfo| {
                Event::ActualLrpInstanceChanged(ActualLrpInstanceChangedEvent {
                    actual_lrp_key: key.clone(),
                    actual_lrp_instance_key: instance_key.clone(),
                    before: Some(before.into()),
                    after: Some(after.into()),
                    ..Default::default()
                })
            };
            self.queue.push_back(changed(
                info("UNCLAIMED", 0, ActualLrpNetInfo::default()),
                info("CLAIMED", 1, ActualLrpNetInfo::default()),
            ));
            self.queue.push_back(changed(
                info("CLAIMED", 1, ActualLrpNetInfo::default()),
                info("RUNNING", 2, net.clone()),
            ));
            if self.rng.u8(0..5) == 0 {
                self.queue
                    .push_back(Event::ActualLrpCrashed(ActualLrpCrashedEvent {
                        actual_lrp_key: key.clone(),
                        actual_lrp_instance_key: instance_key.clone(),
                        crash_count: 1,
                        crash_reason: b("APP/PROC/WEB: Exited with status 137 (out of memory)"),
                        since: now_nanos(),
                    }));
            }
            running.push(ActualLrp {
                actual_lrp_key: key,
                actual_lrp_instance_key: instance_key,
                actual_lrp_net_info: net,
                state: b("RUNNING"),
                since: now_nanos(),
                modification_tag: tag(2),
                routable: Some(true),
                ..ActualLrp::default()
            });
        }
        self.queue
            .push_back(Event::DesiredLrpRemoved(DesiredLrpRemovedEvent {
                desired_lrp: Some(desired.into()),
                ..Default::default()
            }));
        for lrp in running {
            self.queue.push_back(Event::ActualLrpInstanceRemoved(
                ActualLrpInstanceRemovedEvent {
                    actual_lrp: Some(lrp.into()),
                    ..Default::default()
                },
            ));
        }
    }
}

impl Iterator for SyntheticEvents {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        Some(self.next_event())
    }
}
