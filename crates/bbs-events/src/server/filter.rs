//! Which events a subscriber receives: the route's event kinds and an optional cell.

use std::sync::Arc;

use crate::models::Version;
use crate::{CellFilterError, Event, EventType};

/// The event routes of the BBS, as served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerRoute {
    /// `GET /v1/events` and `/v1/events.r1`.
    Events,
    /// `POST /v1/events/lrp_instances` and `.r1`.
    Instances,
    /// `POST /v1/events/tasks` and `.r1`.
    Tasks,
}

impl ServerRoute {
    /// The route of a request, if `method` and `path` name one (with or without `.r1`).
    pub fn from_request(method: &http::Method, path: &str) -> Option<ServerRoute> {
        match (method.as_str(), path) {
            ("GET", "/v1/events" | "/v1/events.r1") => Some(ServerRoute::Events),
            ("POST", "/v1/events/lrp_instances" | "/v1/events/lrp_instances.r1") => {
                Some(ServerRoute::Instances)
            }
            ("POST", "/v1/events/tasks" | "/v1/events/tasks.r1") => Some(ServerRoute::Tasks),
            _ => None,
        }
    }

    /// The model version served on `path`: [`Version::V0`] on the routes without `.r1`, as the
    /// BBS does.
    pub fn version_of(path: &str) -> Version {
        if path.ends_with(".r1") {
            Version::V3
        } else {
            Version::V0
        }
    }

    /// Whether the route sends events of type `kind`.
    pub fn sends(self, kind: EventType) -> bool {
        use EventType as T;
        match self {
            ServerRoute::Events => matches!(
                kind,
                T::DesiredLrpCreated
                    | T::DesiredLrpChanged
                    | T::DesiredLrpRemoved
                    | T::ActualLrpCreated
                    | T::ActualLrpChanged
                    | T::ActualLrpRemoved
                    | T::ActualLrpCrashed
            ),
            ServerRoute::Instances => matches!(
                kind,
                T::DesiredLrpCreated
                    | T::DesiredLrpChanged
                    | T::DesiredLrpRemoved
                    | T::ActualLrpInstanceCreated
                    | T::ActualLrpInstanceChanged
                    | T::ActualLrpInstanceRemoved
                    | T::ActualLrpCrashed
            ),
            ServerRoute::Tasks => matches!(kind, T::TaskCreated | T::TaskChanged | T::TaskRemoved),
        }
    }

    /// Whether the route applies a cell filter from the request body.
    pub fn filters_by_cell(self) -> bool {
        !matches!(self, ServerRoute::Tasks)
    }
}

/// What a hub subscriber receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    route: Option<ServerRoute>,
    cell_id: Option<Arc<str>>,
}

impl Filter {
    /// Every event.
    pub fn all() -> Filter {
        Filter {
            route: None,
            cell_id: None,
        }
    }

    /// The events of `route`.
    pub fn route(route: ServerRoute) -> Filter {
        Filter {
            route: Some(route),
            cell_id: None,
        }
    }

    /// Keeps only the actual-LRP events of `cell_id` (an empty id filters nothing), with the BBS
    /// rules of [`Event::matches_cell`].
    #[must_use]
    pub fn with_cell_id(mut self, cell_id: &str) -> Filter {
        self.cell_id = (!cell_id.is_empty()).then(|| Arc::from(cell_id));
        self
    }

    /// Whether the subscriber receives `event`.
    ///
    /// # Errors
    ///
    /// [`CellFilterError`] when the event cannot be placed on a cell.
    pub fn accepts(&self, event: &Event) -> Result<bool, CellFilterError> {
        if let Some(route) = self.route {
            if !route.sends(event.event_type()) {
                return Ok(false);
            }
        }
        match &self.cell_id {
            Some(cell) => event.matches_cell(cell),
            None => Ok(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_with_and_without_r1() {
        use http::Method;
        assert_eq!(
            ServerRoute::from_request(&Method::GET, "/v1/events"),
            Some(ServerRoute::Events)
        );
        assert_eq!(
            ServerRoute::from_request(&Method::POST, "/v1/events/tasks.r1"),
            Some(ServerRoute::Tasks)
        );
        assert_eq!(ServerRoute::from_request(&Method::POST, "/v1/events"), None);
        assert_eq!(
            ServerRoute::from_request(&Method::GET, "/v1/events/tasks"),
            None
        );
    }

    #[test]
    fn each_route_sends_seven_or_three_kinds() {
        let count = |r: ServerRoute| EventType::ALL.iter().filter(|k| r.sends(**k)).count();
        assert_eq!(count(ServerRoute::Events), 7);
        assert_eq!(count(ServerRoute::Instances), 7);
        assert_eq!(count(ServerRoute::Tasks), 3);
    }
}
