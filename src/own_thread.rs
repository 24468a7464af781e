//! A task on a thread and runtime of its own, for the few tasks that wait on the database
//! between steps that others wait on (the PostgreSQL writer holds the cluster's write lock
//! across its round trips; the hub routes in seq order behind its reads). On the server's
//! runtime such a task wakes behind every socket task the last event made ready; here it wakes
//! at once. Everything else stays on the server's runtime: a thread of its own costs a
//! cross-thread wake-up per hand-over.

use std::future::Future;

use tokio::sync::oneshot;
use tokio_util::task::TaskTracker;

/// Runs `task` to completion on a new thread named `name`, tracked on `tasks` (whoever waits
/// for them waits for it too). If the thread cannot start, the task is dropped and logged.
pub fn spawn<F>(name: &str, task: F, tasks: &TaskTracker)
where
    F: Future + Send + 'static,
{
    let (finished, done) = oneshot::channel::<()>();
    let what = name.to_owned();
    let spawned = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => {
                    rt.block_on(task);
                }
                Err(e) => tracing::error!(task = %what, error = %e, "no runtime for the task"),
            }
            let _ = finished.send(());
        });
    match spawned {
        Ok(_) => {
            tasks.spawn(async move {
                let _ = done.await;
            });
        }
        Err(e) => tracing::error!(task = name, error = %e, "the task's thread did not start"),
    }
}
