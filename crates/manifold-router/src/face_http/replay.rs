//! Resumability of GET streams (mcp-spec.md §5.2, `Last-Event-ID`): every event carries an id
//! `<stream>-<seq>`; each stream keeps its last events in a bounded buffer, so a client that
//! reconnects with the id of the last event it saw gets exactly what it missed, nothing twice.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use super::sse::RequestLog;

/// The recent events of one stream.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    next_seq: u64,
    events: VecDeque<(u64, String)>,
}

impl Replay {
    /// Records an event about to be sent; returns its sequence number.
    pub(crate) fn record(&mut self, message: &str, capacity: usize) -> u64 {
        self.next_seq += 1;
        self.events.push_back((self.next_seq, message.to_string()));
        while self.events.len() > capacity {
            self.events.pop_front();
        }
        self.next_seq
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
            if let Some(replay) = self.lock().get(&stream).cloned() {
                let missed = replay.lock().unwrap_or_else(|e| e.into_inner()).after(seq);
                return (stream, replay, missed);
            }
        }
        let id = self.next_id();
        let replay = Arc::new(Mutex::new(Replay::default()));
        self.lock().insert(id, replay.clone());
        (id, replay, Vec::new())
    }

    fn next_id(&self) -> u32 {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        *next += 1;
        *next
    }

    /// A new stream answering a POST; keeps it for resumption (the session's oldest request
    /// streams are forgotten beyond `keep`).
    pub(crate) fn new_request(&self, keep: usize) -> (u32, Arc<RequestLog>) {
        let id = self.next_id();
        let log = Arc::new(RequestLog::default());
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        requests.insert(id, log.clone());
        if requests.len() > keep {
            if let Some(oldest) = requests.keys().min().copied() {
                requests.remove(&oldest);
            }
        }
        (id, log)
    }

    /// The POST stream a `Last-Event-ID` names, with the sequence number to resume after.
    pub(crate) fn request(&self, last_event_id: &str) -> Option<(u32, Arc<RequestLog>, u64)> {
        let (stream, seq) = parse(last_event_id)?;
        let requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        requests.get(&stream).map(|log| (stream, log.clone(), seq))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Arc<Mutex<Replay>>>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner())
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
            replay.lock().unwrap().record(m, 2);
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
}
