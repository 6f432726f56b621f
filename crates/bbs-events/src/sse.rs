//! Server-sent events: an incremental parser over byte chunks and the writer of the BBS framing.
//!
//! The parser follows the SSE specification as the Go `go-sse` library implements it, which is what a
//! BBS client uses: lines end at LF (a CR just before it is dropped), `field:value` works with or
//! without a space after the colon, comments and unknown fields are ignored, `retry:` sets the
//! reconnect delay, several `data` lines are joined with LF, a block without data is not dispatched
//! (its `id` and `event` stay set), an event without `id` takes the last id seen, and a partial event
//! at the end of the stream is dropped.
//!
//! The resume id ([`SseParser::last_event_id`]) is, like the specification's "last event ID
//! string", the id in force when the last block ended: never the id of an event cut off mid-way.
//!
//! There is no line length limit, so a valid event of any size below the configured
//! [`max_event_size`](SseParser::with_max_event_size) goes through; an event above it yields
//! [`SseError::EventTooLarge`] and the parser skips to the next blank line, so memory stays bounded
//! even against an endless line.

use std::time::Duration;

use memchr::memchr;

/// The default cap on the bytes of one event (its lines, including field names): 16 MiB.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 16 * 1024 * 1024;

/// One dispatched server-sent event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The event's id, or the last id seen on the stream when the event has none.
    pub id: Option<String>,
    /// The event name (`event:` field); empty when the stream never named one.
    pub event: String,
    /// The `data` lines joined with LF.
    pub data: Vec<u8>,
}

/// A stream-level SSE error that belongs to one event; the parser carries on after it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// An event grew above the configured maximum size and was skipped.
    #[error(
        "server-sent event larger than the limit of {limit} bytes was skipped; \
         raise the limit with `with_max_event_size` if such events are expected"
    )]
    EventTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
}

/// An incremental server-sent events parser.
///
/// Feed it byte chunks of any size with [`push`](SseParser::push) and take the dispatched events
/// with [`next_event`](SseParser::next_event) until it returns `None`.
///
/// # Examples
///
/// ```
/// use bbs_events::sse::SseParser;
///
/// let mut parser = SseParser::new();
/// parser.push(b"id: 7\nevent: task_removed\nda");
/// assert!(parser.next_event().is_none());
/// parser.push(b"ta: Cg==\n\n");
/// let event = parser.next_event().unwrap().unwrap();
/// assert_eq!(event.id.as_deref(), Some("7"));
/// assert_eq!(event.event, "task_removed");
/// assert_eq!(event.data, b"Cg==");
/// ```
#[derive(Debug)]
pub struct SseParser {
    /// Received bytes not yet consumed; `buf[pos..]` is unparsed.
    buf: Vec<u8>,
    pos: usize,
    /// How far past `pos` the search for LF has already looked (no LF before it).
    scanned: usize,
    // The event under construction.
    data: Vec<u8>,
    has_data: bool,
    event: String,
    last_id: Option<String>,
    /// The id in force at the end of the last complete block: the resume point.
    dispatched_id: Option<String>,
    /// Bytes of the event under construction, counted against `max_event_size`.
    event_size: usize,
    max_event_size: usize,
    /// Skipping an oversized event until the next blank line.
    discarding: bool,
    /// While discarding: the current line has content (so the next LF does not end a blank line).
    discard_line_has_content: bool,
    retry: Option<Duration>,
}

impl Default for SseParser {
    fn default() -> Self {
        SseParser::new()
    }
}

impl SseParser {
    /// A parser with the default maximum event size ([`DEFAULT_MAX_EVENT_SIZE`]).
    pub fn new() -> Self {
        SseParser {
            buf: Vec::new(),
            pos: 0,
            scanned: 0,
            data: Vec::new(),
            has_data: false,
            event: String::new(),
            last_id: None,
            dispatched_id: None,
            event_size: 0,
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
            discarding: false,
            discard_line_has_content: false,
            retry: None,
        }
    }

    /// Sets the maximum size in bytes of one event (all its lines); larger events are skipped with
    /// [`SseError::EventTooLarge`]. A limit of 0 is treated as 1.
    #[must_use]
    pub fn with_max_event_size(mut self, limit: usize) -> Self {
        self.max_event_size = limit.max(1);
        self
    }

    /// The maximum event size in bytes.
    pub fn max_event_size(&self) -> usize {
        self.max_event_size
    }

    /// The id to send as `Last-Event-ID` when reconnecting: the id in force at the end of the
    /// last complete block; an `id:` of an unfinished event does not count.
    pub fn last_event_id(&self) -> Option<&str> {
        self.dispatched_id.as_deref()
    }

    /// The reconnect delay the stream asked for with `retry:`, if any.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Forgets any partial line or event (and its id), as at the end of a connection; the resume
    /// id and the retry delay are kept, as the SSE specification asks across reconnects.
    pub fn reset_connection(&mut self) {
        self.last_id.clone_from(&self.dispatched_id);
        self.buf.clear();
        self.pos = 0;
        self.scanned = 0;
        self.data.clear();
        self.has_data = false;
        self.event.clear();
        self.event_size = 0;
        self.discarding = false;
        self.discard_line_has_content = false;
    }

    /// Whether bytes of an unfinished event are buffered.
    pub fn has_partial_event(&self) -> bool {
        self.pos < self.buf.len() || self.has_data || !self.event.is_empty()
    }

    /// Appends received bytes.
    pub fn push(&mut self, chunk: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            self.scanned = 0;
        } else if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            // Compact now and then so the buffer does not grow with the stream.
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// Parses buffered bytes and returns the next dispatched event, an error for a skipped event,
    /// or `None` when more bytes are needed.
    pub fn next_event(&mut self) -> Option<Result<SseEvent, SseError>> {
        loop {
            if self.discarding {
                if !self.skip_discarded() {
                    return None;
                }
                continue;
            }
            let start = self.pos;
            let search_from = start + self.scanned;
            let Some(offset) = memchr(b'\n', &self.buf[search_from..]) else {
                let pending = self.buf.len() - start;
                self.scanned = pending;
                if self.event_size + pending > self.max_event_size {
                    return Some(Err(self.start_discarding(true)));
                }
                return None;
            };
            let end = search_from + offset;
            self.pos = end + 1;
            self.scanned = 0;
            let mut line_end = end;
            if line_end > start && self.buf[line_end - 1] == b'\r' {
                line_end -= 1;
            }
            let line_len = line_end - start;
            if line_len == 0 {
                if let Some(event) = self.dispatch() {
                    return Some(Ok(event));
                }
                continue;
            }
            self.event_size += line_len + 1;
            if self.event_size > self.max_event_size {
                return Some(Err(self.start_discarding(false)));
            }
            self.field(start, line_end);
        }
    }

    /// Handles one non-empty line `buf[start..end]`.
    fn field(&mut self, start: usize, end: usize) {
        let line = &self.buf[start..end];
        let (name, value) = match memchr(b':', line) {
            Some(0) => return, // A comment.
            Some(colon) => {
                let value = &line[colon + 1..];
                let value = value.strip_prefix(b" ").unwrap_or(value);
                (&line[..colon], value)
            }
            None => (line, &line[line.len()..]),
        };
        match name {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                }
                self.data.extend_from_slice(value);
                self.has_data = true;
            }
            b"event" => {
                self.event.clear();
                self.event.push_str(&String::from_utf8_lossy(value));
            }
            // The specification ignores an id that contains NUL.
            b"id" if memchr(0, value).is_none() => {
                self.last_id = Some(String::from_utf8_lossy(value).into_owned());
            }
            b"retry" => {
                if let Some(ms) = std::str::from_utf8(value)
                    .ok()
                    .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    self.retry = Some(Duration::from_millis(ms));
                }
            }
            _ => {}
        }
    }

    /// Ends the block at a blank line; returns an event if the block had data.
    fn dispatch(&mut self) -> Option<SseEvent> {
        self.event_size = 0;
        if self.dispatched_id != self.last_id {
            self.dispatched_id.clone_from(&self.last_id);
        }
        if !self.has_data {
            return None;
        }
        self.has_data = false;
        Some(SseEvent {
            id: self.last_id.clone(),
            event: std::mem::take(&mut self.event),
            data: std::mem::take(&mut self.data),
        })
    }

    /// Starts skipping the event under construction. With `in_partial_line`, the buffered bytes are
    /// the start of the oversized line and are dropped at once.
    fn start_discarding(&mut self, in_partial_line: bool) -> SseError {
        tracing::warn!(
            limit = self.max_event_size,
            "server-sent event too large, skipping to the next blank line"
        );
        self.data.clear();
        self.has_data = false;
        self.event.clear();
        self.event_size = 0;
        self.discarding = true;
        self.discard_line_has_content = false;
        if in_partial_line {
            self.discard_line_has_content = self.buf[self.pos..].iter().any(|&b| b != b'\r');
            self.pos = self.buf.len();
        }
        self.scanned = 0;
        SseError::EventTooLarge {
            limit: self.max_event_size,
        }
    }

    /// Skips bytes of an oversized event; returns `true` once a blank line ended it.
    fn skip_discarded(&mut self) -> bool {
        while self.pos < self.buf.len() {
            let rest = &self.buf[self.pos..];
            match memchr(b'\n', rest) {
                None => {
                    if rest.iter().any(|&b| b != b'\r') {
                        self.discard_line_has_content = true;
                    }
                    self.pos = self.buf.len();
                    return false;
                }
                Some(i) => {
                    let line = &rest[..i];
                    let content = self.discard_line_has_content || line.iter().any(|&b| b != b'\r');
                    self.pos += i + 1;
                    self.discard_line_has_content = false;
                    if !content {
                        // The skipped event was reported (EventTooLarge): resume after it.
                        self.discarding = false;
                        self.dispatched_id.clone_from(&self.last_id);
                        return true;
                    }
                }
            }
        }
        false
    }
}

/// Writes events in the BBS server's SSE framing: `id: N`, `event: NAME`, `data: BASE64`, blank line.
///
/// A zero-byte payload is written as a bare `data` line, as the Go writer does.
///
/// # Examples
///
/// ```
/// use bbs_events::sse::write_event;
///
/// let mut out = Vec::new();
/// write_event(&mut out, 0, "task_removed", b"\x0a\x00");
/// assert_eq!(out, b"id: 0\nevent: task_removed\ndata: CgA=\n\n");
/// ```
pub fn write_event(out: &mut Vec<u8>, id: u64, event: &str, payload: &[u8]) {
    let mut b64 = Vec::new();
    base64::engine::general_purpose::STANDARD.encode_slice_into_vec(payload, &mut b64);
    write_event_base64(out, id, event, &b64);
}

/// Like [`write_event`] with the payload already base64-encoded (so a server encodes each event
/// once, whatever the number of subscribers).
pub fn write_event_base64(out: &mut Vec<u8>, id: u64, event: &str, payload_b64: &[u8]) {
    out.reserve(payload_b64.len() + event.len() + 40);
    write_id_line(out, id);
    write_event_fields(out, event, payload_b64);
}

/// The lines of an event after its `id:` line (`event:` and `data:`, and the blank line), which
/// the server encodes once per event and shares between its subscribers.
pub(crate) fn write_event_fields(out: &mut Vec<u8>, event: &str, payload_b64: &[u8]) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.as_bytes());
    out.push(b'\n');
    if payload_b64.is_empty() {
        out.extend_from_slice(b"data\n\n");
    } else {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(payload_b64);
        out.extend_from_slice(b"\n\n");
    }
}

/// Appends the line `id: {id}\n`, the one part of a server frame that is each connection's own.
pub(crate) fn write_id_line(out: &mut Vec<u8>, id: u64) {
    out.extend_from_slice(IdLine::new(id).as_bytes());
}

/// The line `id: {id}\n` as text, which [`advance`](Self::advance) moves on to the next id in
/// place: a connection's ids count up by one, and adding one to the last digits costs less than
/// formatting every id afresh.
#[derive(Debug, Clone)]
pub(crate) struct IdLine {
    /// `id: `, then the digits right-aligned before the final newline. One digit more than
    /// `u64::MAX` has, so that counting on past it never runs out of room.
    text: [u8; IdLine::LEN],
    /// Where the line starts in `text`.
    start: usize,
}

impl IdLine {
    const LEN: usize = 4 + 21 + 1;

    /// The line of `id`.
    pub(crate) fn new(id: u64) -> IdLine {
        let mut text = [b'0'; IdLine::LEN];
        text[IdLine::LEN - 1] = b'\n';
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(id).as_bytes();
        let first = IdLine::LEN - 1 - digits.len();
        text[first..IdLine::LEN - 1].copy_from_slice(digits);
        let start = first - 4;
        text[start..first].copy_from_slice(b"id: ");
        IdLine { text, start }
    }

    /// The whole line, newline included.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.text[self.start..]
    }

    /// Moves on to the next id.
    pub(crate) fn advance(&mut self) {
        let digits = &mut self.text[self.start + 4..IdLine::LEN - 1];
        match digits.iter().rposition(|d| *d != b'9') {
            Some(at) => {
                digits[at] += 1;
                digits[at + 1..].fill(b'0');
            }
            // Every digit a 9: a digit more, a leading 1, with `id: ` moved left to meet it.
            None if self.start > 0 => {
                digits.fill(b'0');
                self.start -= 1;
                self.text[self.start..self.start + 4].copy_from_slice(b"id: ");
                self.text[self.start + 4] = b'1';
            }
            // 21 nines, which no count of u64 ids reaches: the line stays as it is.
            None => {}
        }
    }
}

/// Base64-encoding into a growing buffer (a small extension over the engine).
trait EncodeIntoVec {
    fn encode_slice_into_vec(&self, input: &[u8], out: &mut Vec<u8>);
}

impl<E: base64::Engine> EncodeIntoVec for E {
    fn encode_slice_into_vec(&self, input: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(
            start + base64::encoded_len(input.len(), true).unwrap_or(0),
            0,
        );
        let written = self.encode_slice(input, &mut out[start..]).unwrap_or(0);
        out.truncate(start + written);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn id_lines_hold_every_u64_after_what_is_there() {
        let mut out = b"x".to_vec();
        for id in [0, 1234, u64::MAX] {
            super::write_id_line(&mut out, id);
        }
        let want = format!("xid: 0\nid: 1234\nid: {}\n", u64::MAX);
        assert_eq!(out, want.as_bytes());
    }

    #[test]
    fn an_id_line_counted_up_in_place_reads_as_each_next_id() {
        let line = |id: &super::IdLine| String::from_utf8(id.as_bytes().to_vec()).unwrap();
        // From 0 across every carry up to 100,000, and across the carries of large ids.
        let mut id = super::IdLine::new(0);
        for n in 0..100_000u64 {
            assert_eq!(line(&id), format!("id: {n}\n"));
            id.advance();
        }
        for start in [999_999_999u64, 10u64.pow(19) - 2, u64::MAX - 3] {
            let mut id = super::IdLine::new(start);
            for n in start..=start.saturating_add(3) {
                assert_eq!(line(&id), format!("id: {n}\n"));
                id.advance();
            }
        }
        // Past u64::MAX the text counts on (ids from a count never get there).
        let mut id = super::IdLine::new(u64::MAX);
        id.advance();
        assert_eq!(line(&id), "id: 18446744073709551616\n");
        let mut nines = super::IdLine::new(0);
        nines.text[..].copy_from_slice(b"id: 999999999999999999999\n");
        nines.start = 0;
        nines.advance();
        assert_eq!(line(&nines), "id: 999999999999999999999\n");
    }

    use super::*;

    fn parse_all(parser: &mut SseParser, input: &[u8]) -> Vec<Result<SseEvent, SseError>> {
        parser.push(input);
        std::iter::from_fn(|| parser.next_event()).collect()
    }

    fn ev(id: Option<&str>, event: &str, data: &[u8]) -> Result<SseEvent, SseError> {
        Ok(SseEvent {
            id: id.map(str::to_owned),
            event: event.to_owned(),
            data: data.to_vec(),
        })
    }

    #[test]
    fn fields_with_and_without_space_and_crlf() {
        let mut p = SseParser::new();
        let got = parse_all(
            &mut p,
            b"id:1\r\nevent:a\r\ndata:x\r\n\r\nid: 2\nevent: b\ndata: y\n\n",
        );
        assert_eq!(
            got,
            vec![ev(Some("1"), "a", b"x"), ev(Some("2"), "b", b"y")]
        );
    }

    #[test]
    fn comments_unknown_fields_and_retry() {
        let mut p = SseParser::new();
        let got = parse_all(&mut p, b": hello\nfoo: bar\nretry: 2500\ndata: z\n\n");
        assert_eq!(got, vec![ev(None, "", b"z")]);
        assert_eq!(p.retry(), Some(Duration::from_millis(2500)));
        parse_all(&mut p, b"retry: soon\n\n");
        assert_eq!(p.retry(), Some(Duration::from_millis(2500)));
    }

    #[test]
    fn multi_line_data_is_joined_with_lf() {
        let mut p = SseParser::new();
        let got = parse_all(&mut p, b"data: a\ndata: b\ndata\n\n");
        assert_eq!(got, vec![ev(None, "", b"a\nb\n")]);
    }

    #[test]
    fn block_without_data_keeps_id_and_event() {
        let mut p = SseParser::new();
        let got = parse_all(&mut p, b"id: 5\nevent: e\n\ndata: d\n\ndata: f\n\n");
        assert_eq!(got, vec![ev(Some("5"), "e", b"d"), ev(Some("5"), "", b"f")]);
    }

    #[test]
    fn bare_data_line_dispatches_an_empty_payload() {
        let mut p = SseParser::new();
        let got = parse_all(&mut p, b"id: 0\nevent: e\ndata\n\n");
        assert_eq!(got, vec![ev(Some("0"), "e", b"")]);
    }

    #[test]
    fn partial_event_waits_for_more_bytes_in_any_split() {
        let input = b"id: 1\nevent: abc\ndata: 0123456789\n\nid: 2\ndata: x\r\n\r\n";
        for split in 0..input.len() {
            let mut p = SseParser::new();
            let mut got = parse_all(&mut p, &input[..split]);
            got.extend(parse_all(&mut p, &input[split..]));
            assert_eq!(
                got,
                vec![ev(Some("1"), "abc", b"0123456789"), ev(Some("2"), "", b"x")],
                "split at {split}"
            );
        }
    }

    #[test]
    fn oversized_event_is_skipped_and_parsing_resumes() {
        let mut p = SseParser::new().with_max_event_size(64);
        let big = vec![b'A'; 200];
        let mut input = b"id: 1\nevent: big\ndata: ".to_vec();
        input.extend_from_slice(&big);
        input.extend_from_slice(b"\n\nid: 2\nevent: small\ndata: ok\n\n");
        let got = parse_all(&mut p, &input);
        assert_eq!(
            got,
            vec![
                Err(SseError::EventTooLarge { limit: 64 }),
                ev(Some("2"), "small", b"ok")
            ]
        );
    }

    #[test]
    fn endless_line_keeps_memory_bounded() {
        let mut p = SseParser::new().with_max_event_size(1024);
        let mut errors = 0;
        for _ in 0..1000 {
            p.push(&[b'x'; 4096]);
            while let Some(r) = p.next_event() {
                assert!(r.is_err());
                errors += 1;
            }
            assert!(p.buf.len() <= 8192 + 1024, "buffer grew to {}", p.buf.len());
        }
        assert_eq!(errors, 1);
        let got = parse_all(&mut p, b"\n\ndata: next\n\n");
        assert_eq!(got, vec![ev(None, "", b"next")]);
    }

    #[test]
    fn writer_matches_the_server_framing() {
        let mut out = Vec::new();
        write_event(&mut out, 12, "task_created", b"hello");
        write_event(&mut out, 13, "task_removed", b"");
        assert_eq!(
            out,
            b"id: 12\nevent: task_created\ndata: aGVsbG8=\n\nid: 13\nevent: task_removed\ndata\n\n"
        );
    }
}
