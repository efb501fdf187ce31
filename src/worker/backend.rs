//! The apalis backend over the Redis queue.
//!
//! Three background tasks feed the worker pool through a bounded channel:
//! - the **fetcher** reads new deliveries (`XREADGROUP … BLOCK`) on its own connection, only as
//!   many as the channel has room for;
//! - **maintenance** promotes due delayed jobs and claims deliveries whose lease expired;
//! - the **heartbeat** renews the lease of everything this process holds.
//!
//! Every delivery this process holds (queued in the channel or running) is in [`Held`] until
//! its job settles it; on shutdown whatever is still held is handed back to the queue, and
//! leases are renewed until that is done.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use apalis::prelude::*;
use apalis_core::backend::BackendConfig;
use apalis_core::backend::finalize::Ephemeral;
use futures_util::Stream;
use futures_util::future::BoxFuture;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::held::Held;
use crate::queue::{Delivery, Queue};
use crate::retry::Backoff;

/// How long one fetch waits for new jobs (also bounds how fast the fetcher sees a stop).
const FETCH_BLOCK: Duration = Duration::from_millis(250);
/// Longest pause between promotions of due delayed jobs.
const PROMOTE_EVERY: Duration = Duration::from_millis(200);
/// Shortest pause between promotions (when the next job is due sooner).
const PROMOTE_MIN_NAP: Duration = Duration::from_millis(2);
/// Most deliveries read or claimed per call.
const FETCH_MAX: usize = 256;

/// What the background tasks and the backend share.
pub(super) struct Shared {
    pub queue: Queue,
    pub consumer: String,
    /// Deliveries this process holds.
    pub held: Arc<Held>,
    /// Cancelled when the process stops fetching (the signal).
    pub stop: CancellationToken,
    /// Cancelled once everything held is handed back: leases are renewed until then.
    pub halt: CancellationToken,
}

/// Errors of the backend (it has none of its own: Redis trouble is retried in the tasks).
#[derive(Debug, thiserror::Error)]
#[error("queue backend: {0}")]
pub struct BackendError(String);

/// The backend each apalis worker polls; clones share one channel.
pub(super) struct QueueBackend {
    shared: Arc<Shared>,
    rx: Pin<Box<async_channel::Receiver<Delivery>>>,
}

impl Clone for QueueBackend {
    fn clone(&self) -> Self {
        QueueBackend {
            shared: self.shared.clone(),
            rx: Box::pin((*self.rx).clone()),
        }
    }
}

impl Backend for QueueBackend {
    type Task = Task<Delivery>;
    type Error = BackendError;

    fn poll_ready(
        &mut self,
        _cx: &mut Context<'_>,
        _w: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        _w: &WorkerContext,
    ) -> Poll<Option<Result<Self::Task, Self::Error>>> {
        match self.rx.as_mut().poll_next(cx) {
            Poll::Ready(Some(delivery)) => {
                let id = TaskId::from_string(delivery.entry_id.clone());
                Poll::Ready(Some(Ok(TaskBuilder::new(delivery).task_id(id).build())))
            }
            // A closed channel means the process is stopping: wait for the monitor.
            Poll::Ready(None) | Poll::Pending => Poll::Pending,
        }
    }

    fn poll_close(
        &mut self,
        _cx: &mut Context<'_>,
        _w: &WorkerContext,
    ) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
}

/// Acknowledgement: the job settled its delivery itself (finish/retry); here it is only
/// forgotten. A job that failed (Redis down while settling) is forgotten too, so its lease
/// runs out and another worker claims it: nothing is lost.
#[derive(Clone)]
pub(super) struct Forget {
    shared: Arc<Shared>,
}

impl<Res: Send + 'static> Acknowledge<Res> for Forget {
    type Error = BackendError;
    type Future = BoxFuture<'static, Result<(), BackendError>>;

    fn ack(&mut self, res: &Result<Res, BoxDynError>, ctx: &ExecutionContext) -> Self::Future {
        if let Some(id) = ctx.task_id() {
            let id = id.to_string();
            if let Err(e) = res {
                tracing::warn!(entry = %id, error = %e, "job not settled; its lease will expire and it will run again");
            }
            self.shared.held.remove(&id);
        }
        Box::pin(async { Ok(()) })
    }
}

impl BackendConfig for QueueBackend {
    type Args = Delivery;
    type Id = TaskId;
    type Kind = Ephemeral;
    type Config = ();
    type Layer = AcknowledgeLayer<Forget>;

    fn config(&self) -> &Self::Config {
        &()
    }

    fn middleware(&mut self, _worker: &mut WorkerContext) -> Self::Layer {
        AcknowledgeLayer::new(Forget {
            shared: self.shared.clone(),
        })
    }
}

/// The backend and its background tasks.
pub(super) struct Feeder {
    pub backend: QueueBackend,
    pub shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Feeder {
    /// Starts the background tasks; `buffer` is how many deliveries may wait in the channel.
    pub async fn start(
        queue: Queue,
        consumer: String,
        held: Arc<Held>,
        buffer: usize,
    ) -> crate::queue::Result<Self> {
        let shared = Arc::new(Shared {
            queue,
            consumer,
            held,
            stop: CancellationToken::new(),
            halt: CancellationToken::new(),
        });
        let (tx, rx) = async_channel::bounded(buffer.max(1));
        let blocking = shared.queue.blocking_connection(FETCH_BLOCK).await?;
        let tasks = vec![
            tokio::spawn(fetcher(shared.clone(), tx.clone(), blocking)),
            tokio::spawn(maintenance(shared.clone(), tx)),
            tokio::spawn(heartbeat(shared.clone())),
        ];
        Ok(Feeder {
            backend: QueueBackend {
                shared: shared.clone(),
                rx: Box::pin(rx),
            },
            shared,
            tasks,
        })
    }

    /// Stops fetching, waits for the fetcher and maintenance to end, hands back everything
    /// still held, and only then stops renewing leases; returns how many deliveries went back.
    pub async fn stop(self) -> crate::queue::Result<usize> {
        self.shared.stop.cancel();
        let mut tasks = self.tasks;
        let heartbeat = tasks.pop();
        for task in tasks {
            let _ = task.await;
        }
        let held = self.shared.held.take();
        let released = self
            .shared
            .queue
            .release(&self.shared.consumer, &held)
            .await;
        self.shared.halt.cancel();
        if let Some(h) = heartbeat {
            let _ = h.await;
        }
        released
    }
}

/// Sleeps `d`, or less if the stop token fires; returns whether it fired.
async fn pause(stop: &CancellationToken, d: Duration) -> bool {
    tokio::select! {
        () = stop.cancelled() => true,
        () = tokio::time::sleep(d) => false,
    }
}

/// Sends deliveries to the workers; returns false if stopping (the rest stay held and are
/// handed back on stop).
async fn feed(
    shared: &Shared,
    tx: &async_channel::Sender<Delivery>,
    deliveries: Vec<Delivery>,
) -> bool {
    for d in shared.held.add(deliveries) {
        tokio::select! {
            () = shared.stop.cancelled() => return false,
            sent = tx.send(d) => if sent.is_err() { return false },
        }
    }
    true
}

async fn fetcher(
    shared: Arc<Shared>,
    tx: async_channel::Sender<Delivery>,
    mut conn: redis::aio::ConnectionManager,
) {
    let mut backoff = Backoff::default();
    while !shared.stop.is_cancelled() {
        let room = tx.capacity().unwrap_or(FETCH_MAX).saturating_sub(tx.len());
        let count = room.clamp(1, FETCH_MAX);
        match shared
            .queue
            .fetch(&mut conn, &shared.consumer, count, FETCH_BLOCK)
            .await
        {
            Ok(deliveries) => {
                backoff.reset();
                if !feed(&shared, &tx, deliveries).await {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "fetching jobs failed; retrying");
                if !backoff.wait(&shared.stop).await {
                    return;
                }
            }
        }
    }
}

async fn maintenance(shared: Arc<Shared>, tx: async_channel::Sender<Delivery>) {
    let reclaim_every = (shared.queue.options().lease / 2).max(Duration::from_millis(100));
    let mut next_reclaim = tokio::time::Instant::now() + reclaim_every;
    let mut cursor = "0-0".to_owned();
    let mut nap = PROMOTE_EVERY;
    loop {
        if pause(&shared.stop, nap).await {
            return;
        }
        nap = promote(&shared).await;
        if tokio::time::Instant::now() < next_reclaim {
            continue;
        }
        next_reclaim = tokio::time::Instant::now() + reclaim_every;
        match shared
            .queue
            .reclaim(&shared.consumer, &cursor, FETCH_MAX)
            .await
        {
            Ok((claimed, next)) => {
                cursor = next;
                if !claimed.is_empty() {
                    tracing::info!(
                        count = claimed.len(),
                        "claimed deliveries whose lease expired"
                    );
                }
                if !feed(&shared, &tx, claimed).await {
                    return;
                }
            }
            Err(e) => tracing::warn!(error = %e, "claiming expired leases failed; retrying"),
        }
    }
}

/// Promotes due delayed jobs; returns how long to sleep before the next pass: until the next
/// job is due (booked quota slots are kept to the millisecond), at most [`PROMOTE_EVERY`].
async fn promote(shared: &Shared) -> Duration {
    for _ in 0..20 {
        match shared.queue.promote_due().await {
            Ok(p) if p.moved == shared.queue.options().promote_batch => continue,
            Ok(p) => {
                let until_next = p.next_due_ms.map_or(PROMOTE_EVERY, |at| {
                    Duration::from_millis(at.saturating_sub(p.now_ms))
                });
                return until_next.clamp(PROMOTE_MIN_NAP, PROMOTE_EVERY);
            }
            Err(e) => {
                tracing::warn!(error = %e, "promoting delayed jobs failed; retrying");
                break;
            }
        }
    }
    PROMOTE_EVERY
}

async fn heartbeat(shared: Arc<Shared>) {
    let every = (shared.queue.options().lease / 3).max(Duration::from_millis(50));
    loop {
        if pause(&shared.halt, every).await {
            return;
        }
        let ids = shared.held.ids();
        for chunk in ids.chunks(500) {
            match shared.queue.touch(&shared.consumer, chunk).await {
                Ok(lost) if !lost.is_empty() => tracing::warn!(
                    count = lost.len(),
                    "deliveries were claimed by another worker after a lease gap; they will not be handed back by this one"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "renewing leases failed; retrying");
                    break;
                }
            }
        }
    }
}
