//! The BBS protobuf messages reachable from the event messages.
