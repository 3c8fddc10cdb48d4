//! The background tasks a face runs beside its clients (the admin listener, the SIGHUP reload
//! loop): each is spawned on one tracker and watches one cancellation token, so the face's
//! shutdown stops them and waits until every one has ended.

use std::future::Future;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The owner of a face's background tasks (a handle: clones spawn onto the same tracker).
#[derive(Default, Clone)]
pub(crate) struct Background {
    tasks: TaskTracker,
    stop: CancellationToken,
}

impl Background {
    /// Runs `task`, which must end soon after [`Background::stopping`] resolves.
    pub(crate) fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task);
    }

    /// Runs `task`, tracked (shutdown waits for it) but not raced against the cancellation
    /// token: for tasks that something else ends in time (a request task, which ending its
    /// session aborts). Nothing is locked per task, unlike [`Background::spawn_until_stopped`],
    /// whose token registers a waiter.
    pub(crate) fn spawn_tracked<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tasks.spawn(task)
    }

    /// Runs `task` until it completes (`Some` of its output) or shutdown begins (`None`: it is
    /// dropped there, which cancels whatever it was waiting for).
    pub(crate) fn spawn_until_stopped<F>(&self, task: F) -> JoinHandle<Option<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let stop = self.stop.clone();
        self.tasks
            .spawn(async move { stop.run_until_cancelled(task).await })
    }

    /// The token the tasks watch: cancelled when shutdown begins.
    pub(crate) fn stopping(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Cancels every task and waits until all have ended.
    pub(crate) async fn shutdown(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn shutdown_cancels_and_waits_for_every_task() {
        let background = Background::default();
        let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<&str>(2);
        for name in ["admin", "reload"] {
            let stop = background.stopping();
            let done = done_tx.clone();
            background.spawn(async move {
                stop.cancelled().await;
                // Some clean-up after the cancellation, which shutdown waits for.
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                let _ = done.send(name).await;
            });
        }
        drop(done_tx);
        background.shutdown().await;
        let mut ended = Vec::new();
        while let Ok(name) = done_rx.try_recv() {
            ended.push(name);
        }
        ended.sort_unstable();
        assert_eq!(ended, ["admin", "reload"]);
    }
}
