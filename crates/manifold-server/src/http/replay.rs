//! Resumability of GET streams (mcp-spec.md §5.2, `Last-Event-ID`): every event carries an id
//! `<stream>-<seq>`; each stream keeps its last events in a bounded buffer, so a client that
//! reconnects with the id of the last event it saw gets exactly what it missed, nothing twice.

use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::sse::RequestLog;

/// How much a stream keeps for resumption: events (`listen.replay_buffer`) and bytes
/// (`listen.session_queue_bytes`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bound {
    pub(crate) events: usize,
    pub(crate) bytes: usize,
}

/// The recent events of one stream.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    next_seq: u64,
    events: VecDeque<(u64, String)>,
    bytes: usize,
}

impl Replay {
    /// Records an event about to be sent; returns its sequence number. The oldest events are
    /// forgotten past `bound`.
    pub(crate) fn record(&mut self, message: &str, bound: Bound) -> u64 {
        self.record_keeping(message, bound, u64::MAX)
    }

    /// Records an event; past `bound`, forgets the oldest events, but only those numbered up to
    /// `forgettable` (the rest are still to be delivered).
    pub(crate) fn record_keeping(&mut self, message: &str, bound: Bound, forgettable: u64) -> u64 {
        self.next_seq += 1;
        self.bytes += message.len();
        self.events.push_back((self.next_seq, message.to_string()));
        self.forget(bound, forgettable);
        self.next_seq
    }

    /// Forgets the oldest events numbered up to `forgettable` while over `bound`.
    pub(crate) fn forget(&mut self, bound: Bound, forgettable: u64) {
        while self.events.len() > bound.events || self.bytes > bound.bytes {
            match self.events.front() {
                Some((seq, _)) if *seq <= forgettable => {
                    if let Some((_, m)) = self.events.pop_front() {
                        self.bytes -= m.len();
                    }
                }
                _ => break,
            }
        }
    }

    /// The bytes it holds.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The bytes of its events after `seq`.
    pub(crate) fn bytes_after(&self, seq: u64) -> usize {
        self.events
            .iter()
            .filter(|(s, _)| *s > seq)
            .map(|(_, m)| m.len())
            .sum()
    }

    /// The events after `seq` still buffered.
    pub(crate) fn after(&self, seq: u64) -> Vec<(u64, String)> {
        self.events
            .iter()
            .filter(|(s, _)| *s > seq)
            .cloned()
            .collect()
    }
}

/// The streams of one session, by number: GET streams and the streams answering POSTs.
#[derive(Default)]
pub(crate) struct Streams {
    next: Mutex<u32>,
    streams: Mutex<HashMap<u32, Arc<Mutex<Replay>>>>,
    requests: Mutex<HashMap<u32, Arc<RequestLog>>>,
}

impl Streams {
    /// A stream to send on: the one named by `last_event_id` (with the events it missed), or a
    /// new one.
    pub(crate) fn open(
        &self,
        last_event_id: Option<&str>,
    ) -> (u32, Arc<Mutex<Replay>>, Vec<(u64, String)>) {
        if let Some((stream, seq)) = last_event_id.and_then(parse) {
            if let Some(replay) = self.streams.lock().get(&stream).cloned() {
                let missed = replay.lock().after(seq);
                return (stream, replay, missed);
            }
        }
        let id = self.next_id();
        let replay = Arc::new(Mutex::new(Replay::default()));
        self.streams.lock().insert(id, replay.clone());
        (id, replay, Vec::new())
    }

    fn next_id(&self) -> u32 {
        let mut next = self.next.lock();
        *next += 1;
        *next
    }

    /// A new stream answering a POST; keeps it for resumption. The session's oldest request
    /// streams that are complete and delivered are forgotten beyond `keep` streams, or while
    /// they hold more than `bytes` in all.
    pub(crate) fn new_request(&self, keep: usize, bytes: usize) -> (u32, Arc<RequestLog>) {
        let id = self.next_id();
        let log = Arc::new(RequestLog::default());
        let mut requests = self.requests.lock();
        let mut ids: Vec<u32> = requests.keys().copied().collect();
        ids.sort_unstable();
        let mut held: usize = requests.values().map(|l| l.bytes()).sum();
        let mut count = requests.len() + 1;
        for old in ids {
            if count <= keep && held <= bytes {
                break;
            }
            if requests.get(&old).is_some_and(|l| l.forgettable()) {
                if let Some(l) = requests.remove(&old) {
                    held -= l.bytes();
                    count -= 1;
                }
            }
        }
        requests.insert(id, log.clone());
        (id, log)
    }

    /// The POST stream a `Last-Event-ID` names, with the sequence number to resume after.
    pub(crate) fn request(&self, last_event_id: &str) -> Option<(u32, Arc<RequestLog>, u64)> {
        let (stream, seq) = parse(last_event_id)?;
        let requests = self.requests.lock();
        requests.get(&stream).map(|log| (stream, log.clone(), seq))
    }
}

/// The event id of `seq` on `stream`.
pub(crate) fn event_id(stream: u32, seq: u64) -> String {
    format!("{stream}-{seq}")
}

fn parse(id: &str) -> Option<(u32, u64)> {
    let (stream, seq) = id.split_once('-')?;
    Some((stream.parse().ok()?, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resuming_replays_exactly_the_missed_events() {
        let streams = Streams::default();
        let (id, replay, missed) = streams.open(None);
        assert!(missed.is_empty());
        for m in ["a", "b", "c"] {
            replay.lock().record(
                m,
                Bound {
                    events: 2,
                    bytes: 1 << 20,
                },
            );
        }
        // "a" fell out of the 2-event buffer; after seq 1 come b and c.
        let (again, _, missed) = streams.open(Some(&event_id(id, 1)));
        assert_eq!(again, id);
        assert_eq!(missed, vec![(2, "b".to_string()), (3, "c".to_string())]);
        let (_, _, missed) = streams.open(Some(&event_id(id, 3)));
        assert!(missed.is_empty());
        let (other, _, _) = streams.open(Some("garbage"));
        assert_ne!(other, id);
    }

    #[test]
    fn bytes_bound_what_is_kept_but_never_what_is_undelivered() {
        let mut replay = Replay::default();
        let bound = Bound {
            events: 100,
            bytes: 10,
        };
        for m in ["12345", "12345", "12345"] {
            replay.record(m, bound);
        }
        assert_eq!((replay.bytes(), replay.after(0).len()), (10, 2));
        // Events 4 and 5 not yet delivered: kept although over the bound.
        let mut replay = Replay::default();
        for m in ["12345", "12345", "12345"] {
            replay.record_keeping(m, bound, 1);
        }
        assert_eq!(replay.after(0).len(), 2);
        replay.forget(bound, 3);
        assert_eq!(replay.after(0).len(), 2);
        assert_eq!(replay.bytes_after(2), 5);
    }
}
