//! Group commit: one writer task takes whatever work is waiting — up to a batch — and commits it
//! together, so that many concurrent requests share one transaction (one fsync, one hold of the
//! serialising locks) instead of queueing for the same locks one by one. Each caller still waits
//! for the outcome of its own item. Used by the audit log and by document creation.

use std::future::Future;

use tokio::sync::mpsc;

/// Start a writer on the current runtime that hands each batch of up to `max_batch` waiting
/// items to `commit`; send items to the returned sender. The writer stops when every sender is
/// gone.
pub fn start<T, F, Fut>(max_batch: usize, commit: F) -> mpsc::Sender<T>
where
    T: Send + 'static,
    F: Fn(Vec<T>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let (sender, mut receiver) = mpsc::channel::<T>(max_batch * 4);
    tokio::spawn(async move {
        while let Some(first) = receiver.recv().await {
            let mut batch = vec![first];
            while batch.len() < max_batch {
                match receiver.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            commit(batch).await;
        }
    });
    sender
}
