//! A queue bounded twice: in messages and in bytes. A count alone does not bound memory when
//! messages may each be megabytes; every queue between a peer and Manifold (an upstream's inbound
//! messages, a client's outgoing ones) is one of these. [`QueueSender::send`] waits for room
//! (backpressure); [`QueueSender::try_send`] refuses when full (for queues that must drop
//! rather than stall). A message larger than the whole byte budget still passes, alone.
//! [`shared_queue`] makes one that several consumers take from at once (each item goes to
//! exactly one of them), with no lock held while they wait.

use std::sync::Arc;

use tokio::sync::{mpsc, Semaphore};

/// What a queued item weighs, in bytes.
pub trait Weigh {
    /// Its size in bytes (what it keeps alive while queued).
    fn weight(&self) -> usize;
}

impl Weigh for String {
    fn weight(&self) -> usize {
        self.len()
    }
}

/// The largest byte budget a queue can have (the semaphore counts in `u32`).
const MAX_BUDGET: usize = u32::MAX as usize >> 1;

/// A queue of at most `items` messages and `bytes` bytes.
pub fn queue<T: Weigh>(items: usize, bytes: usize) -> (QueueSender<T>, QueueReceiver<T>) {
    let budget = bytes.clamp(1, MAX_BUDGET);
    let (tx, rx) = mpsc::channel(items.max(1));
    let room = Arc::new(Semaphore::new(budget));
    (
        QueueSender {
            tx: Channel::One(tx),
            room: room.clone(),
            budget,
        },
        QueueReceiver { rx, room },
    )
}

/// A queue of at most `items` messages and `bytes` bytes that several consumers take from: its
/// receiver is cloned, one per consumer. Nothing is allocated for room not in use (an idle HTTP
/// session's queue costs a few words): the channel grows as needed and the message bound is a
/// semaphore, like the byte bound.
pub fn shared_queue<T: Weigh>(items: usize, bytes: usize) -> (QueueSender<T>, SharedReceiver<T>) {
    let budget = bytes.clamp(1, MAX_BUDGET);
    let (tx, rx) = async_channel::unbounded();
    let room = Arc::new(Semaphore::new(budget));
    let slots = Arc::new(Semaphore::new(items.clamp(1, MAX_BUDGET)));
    (
        QueueSender {
            tx: Channel::Many(tx, slots.clone()),
            room: room.clone(),
            budget,
        },
        SharedReceiver { rx, room, slots },
    )
}

/// The channel under a queue: one consumer, or several.
#[derive(Debug)]
enum Channel<T> {
    One(mpsc::Sender<(T, u32)>),
    /// Unbounded underneath; the semaphore holds one permit per message there is room for.
    Many(async_channel::Sender<(T, u32)>, Arc<Semaphore>),
}

impl<T> Clone for Channel<T> {
    fn clone(&self) -> Self {
        match self {
            Channel::One(tx) => Channel::One(tx.clone()),
            Channel::Many(tx, slots) => Channel::Many(tx.clone(), slots.clone()),
        }
    }
}

impl<T> Channel<T> {
    async fn send(&self, item: (T, u32)) -> Result<(), (T, u32)> {
        match self {
            Channel::One(tx) => tx.send(item).await.map_err(|e| e.0),
            Channel::Many(tx, slots) => {
                match slots.acquire().await {
                    Ok(permit) => permit.forget(),
                    Err(_) => return Err(item),
                }
                tx.try_send(item).map_err(|e| {
                    slots.add_permits(1);
                    e.into_inner()
                })
            }
        }
    }

    fn try_send(&self, item: (T, u32)) -> Result<(), TrySendError<(T, u32)>> {
        match self {
            Channel::One(tx) => tx.try_send(item).map_err(|e| match e {
                mpsc::error::TrySendError::Full(item) => TrySendError::Full(item),
                mpsc::error::TrySendError::Closed(item) => TrySendError::Closed(item),
            }),
            Channel::Many(tx, slots) => {
                match slots.try_acquire() {
                    Ok(permit) => permit.forget(),
                    Err(_) if tx.is_closed() => return Err(TrySendError::Closed(item)),
                    Err(_) => return Err(TrySendError::Full(item)),
                }
                // Unbounded underneath: only a closed channel refuses.
                tx.try_send(item).map_err(|e| {
                    slots.add_permits(1);
                    TrySendError::Closed(e.into_inner())
                })
            }
        }
    }

    fn is_closed(&self) -> bool {
        match self {
            Channel::One(tx) => tx.is_closed(),
            Channel::Many(tx, _) => tx.is_closed(),
        }
    }

    fn same_channel(&self, other: &Channel<T>) -> bool {
        match (self, other) {
            (Channel::One(a), Channel::One(b)) => a.same_channel(b),
            (Channel::Many(a, _), Channel::Many(b, _)) => a.same_channel(b),
            _ => false,
        }
    }
}

/// Why [`QueueSender::try_send`] did not queue an item.
#[derive(Debug, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The queue is at its message or byte bound.
    Full(T),
    /// The receiver is gone.
    Closed(T),
}

/// The sending half; cheap to clone.
#[derive(Debug)]
pub struct QueueSender<T> {
    tx: Channel<T>,
    room: Arc<Semaphore>,
    budget: usize,
}

impl<T> Clone for QueueSender<T> {
    fn clone(&self) -> Self {
        QueueSender {
            tx: self.tx.clone(),
            room: self.room.clone(),
            budget: self.budget,
        }
    }
}

impl<T: Weigh> QueueSender<T> {
    fn cost(&self, item: &T) -> u32 {
        item.weight().min(self.budget) as u32
    }

    /// Queues `item`, waiting while the queue is full; gives it back if the receiver is gone.
    pub async fn send(&self, item: T) -> Result<(), T> {
        let cost = self.cost(&item);
        match self.room.acquire_many(cost).await {
            Ok(permit) => permit.forget(),
            Err(_) => return Err(item),
        }
        self.tx.send((item, cost)).await.map_err(|(item, _)| {
            self.room.add_permits(cost as usize);
            item
        })
    }

    /// Queues `item` if there is room now.
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        if self.tx.is_closed() {
            return Err(TrySendError::Closed(item));
        }
        let cost = self.cost(&item);
        match self.room.try_acquire_many(cost) {
            Ok(permit) => permit.forget(),
            Err(_) => return Err(TrySendError::Full(item)),
        }
        self.tx.try_send((item, cost)).map_err(|e| {
            self.room.add_permits(cost as usize);
            match e {
                TrySendError::Full((item, _)) => TrySendError::Full(item),
                TrySendError::Closed((item, _)) => TrySendError::Closed(item),
            }
        })
    }
}

impl<T> QueueSender<T> {
    /// Whether the receiver is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Whether both halves belong to the same queue.
    pub fn same_queue(&self, other: &QueueSender<T>) -> bool {
        self.tx.same_channel(&other.tx)
    }
}

/// The receiving half.
#[derive(Debug)]
pub struct QueueReceiver<T> {
    rx: mpsc::Receiver<(T, u32)>,
    room: Arc<Semaphore>,
}

impl<T> QueueReceiver<T> {
    /// The next item; `None` once every sender is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<T> {
        let (item, cost) = self.rx.recv().await?;
        self.room.add_permits(cost as usize);
        Some(item)
    }

    /// The next item if one is queued.
    pub fn try_recv(&mut self) -> Result<T, mpsc::error::TryRecvError> {
        let (item, cost) = self.rx.try_recv()?;
        self.room.add_permits(cost as usize);
        Ok(item)
    }

    /// Refuses further items; those queued can still be received.
    pub fn close(&mut self) {
        self.rx.close();
        self.room.close();
    }
}

impl<T> Drop for QueueReceiver<T> {
    fn drop(&mut self) {
        // Senders waiting for room give up rather than wait forever.
        self.room.close();
    }
}

/// The receiving half of a [`shared_queue`]: clone it for each consumer; each item goes to
/// exactly one of them.
#[derive(Debug)]
pub struct SharedReceiver<T> {
    rx: async_channel::Receiver<(T, u32)>,
    room: Arc<Semaphore>,
    /// One permit per message there is room for.
    slots: Arc<Semaphore>,
}

impl<T> Clone for SharedReceiver<T> {
    fn clone(&self) -> Self {
        SharedReceiver {
            rx: self.rx.clone(),
            room: self.room.clone(),
            slots: self.slots.clone(),
        }
    }
}

impl<T> SharedReceiver<T> {
    /// The next item; `None` once every sender is gone and the queue is empty.
    pub async fn recv(&self) -> Option<T> {
        let (item, cost) = self.rx.recv().await.ok()?;
        self.room.add_permits(cost as usize);
        self.slots.add_permits(1);
        Some(item)
    }
}

impl<T> Drop for SharedReceiver<T> {
    fn drop(&mut self) {
        // The last consumer gone: senders waiting for room give up rather than wait forever.
        if self.rx.receiver_count() == 1 {
            self.rx.close();
            self.room.close();
            self.slots.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bytes_bound_the_queue_as_well_as_messages() {
        let (tx, mut rx) = queue::<String>(100, 10);
        tx.try_send("12345".into()).unwrap();
        tx.try_send("1234".into()).unwrap();
        assert_eq!(
            tx.try_send("12".into()),
            Err(TrySendError::Full("12".into()))
        );
        tx.try_send("1".into()).unwrap();
        assert_eq!(rx.recv().await.as_deref(), Some("12345"));
        tx.try_send("12345".into()).unwrap();
        // Larger than the whole budget: passes alone, once the queue is empty.
        let big = "x".repeat(50);
        let sender = tx.clone();
        let waiting = tokio::spawn(async move { sender.send(big).await });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        for expected in ["1234", "1", "12345"] {
            assert_eq!(rx.recv().await.as_deref(), Some(expected));
        }
        waiting.await.unwrap().unwrap();
        assert_eq!(rx.recv().await.map(|s| s.len()), Some(50));
    }

    #[tokio::test]
    async fn the_message_count_bounds_it_too_and_a_closed_queue_gives_items_back() {
        let (tx, mut rx) = queue::<String>(2, 1000);
        tx.try_send("a".into()).unwrap();
        tx.try_send("b".into()).unwrap();
        assert!(matches!(
            tx.try_send("c".into()),
            Err(TrySendError::Full(_))
        ));
        rx.close();
        assert_eq!(rx.recv().await.as_deref(), Some("a"));
        assert!(matches!(
            tx.try_send("d".into()),
            Err(TrySendError::Closed(_))
        ));
        assert_eq!(tx.send("e".into()).await, Err("e".to_string()));
    }

    #[tokio::test]
    async fn shared_consumers_wait_together_and_each_item_goes_to_one() {
        let (tx, rx) = shared_queue::<String>(8, 1000);
        let (a, b) = (rx.clone(), rx);
        // Both wait at once; neither holds anything the other needs.
        let first = tokio::spawn(async move { a.recv().await });
        let second = tokio::spawn(async move { b.recv().await });
        tokio::task::yield_now().await;
        tx.send("x".into()).await.unwrap();
        tx.send("y".into()).await.unwrap();
        let mut got = vec![
            first.await.unwrap().unwrap(),
            second.await.unwrap().unwrap(),
        ];
        got.sort();
        assert_eq!(got, ["x", "y"]);
        // The message count bounds it too.
        let (small, keep) = shared_queue::<String>(2, 1000);
        small.try_send("a".into()).unwrap();
        small.try_send("b".into()).unwrap();
        assert!(matches!(
            small.try_send("c".into()),
            Err(TrySendError::Full(_))
        ));
        assert_eq!(keep.recv().await.as_deref(), Some("a"));
        small.try_send("c".into()).unwrap();
        drop(keep);
        assert!(matches!(
            small.try_send("d".into()),
            Err(TrySendError::Closed(_))
        ));
        // Every consumer gone: the queue is closed to senders.
        assert!(matches!(
            tx.try_send("z".into()),
            Err(TrySendError::Closed(_))
        ));
    }
}
