//! A request's work outlives its connection.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

/// What a panic while polling carried.
pub(crate) type Panic = Box<dyn Any + Send>;

/// Polls a request's future where it is awaited, with no task of its own, but if it is
/// dropped unfinished (hyper drops a request's future when its client disconnects) hands
/// the rest to the runtime: a request that reached the upstream always goes on to its
/// audit entry, whatever the client does. A task per request did the same at the cost
/// of a spawn, a run-queue turn and a cross-task wake-up on every request. A panic while
/// polling becomes an `Err`, as a task's `JoinError` did.
pub(crate) struct RunToCompletion<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    /// Boxed: a request's future is several KiB, and the box moves to a task unmoved.
    rest: Option<Pin<Box<F>>>,
}

impl<F> RunToCompletion<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    pub(crate) fn new(work: F) -> Self {
        Self {
            rest: Some(Box::pin(work)),
        }
    }
}

impl<F> Future for RunToCompletion<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    type Output = Result<F::Output, Panic>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(rest) = self.rest.as_mut() else {
            // Polled after it finished: nothing is left to run.
            return Poll::Pending;
        };
        let polled = catch_unwind(AssertUnwindSafe(|| rest.as_mut().poll(cx)));
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                self.rest = None;
                Poll::Ready(Ok(output))
            }
            Err(panic) => {
                self.rest = None;
                Poll::Ready(Err(panic))
            }
        }
    }
}

impl<F> Drop for RunToCompletion<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn drop(&mut self) {
        let Some(rest) = self.rest.take() else {
            return;
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(rest);
            }
            // Dropped outside any runtime. (A runtime shutting down still has its context
            // set while it drops its tasks: the spawn above then drops the rest at once, as
            // it did every unfinished request task; the audit log is closed by then.)
            Err(_) => tracing::warn!("a request was abandoned with no runtime to finish it"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn dropped_unfinished_it_finishes_on_the_runtime() {
        let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let mut work = Box::pin(RunToCompletion::new(async move {
            // Waits for the test to let it go, which it does only after the drop.
            let _ = go_rx.await;
            let _ = done_tx.send("finished");
        }));
        // Polled until it waits, then dropped, as hyper drops an abandoned request.
        let polled = futures_poll_once(work.as_mut()).await;
        assert!(polled.is_pending());
        drop(work);
        go_tx.send(()).unwrap();
        let done = tokio::time::timeout(Duration::from_secs(5), done_rx).await;
        assert_eq!(
            done.expect("cancelled with its caller").unwrap(),
            "finished"
        );
    }

    /// Polls a future once, as a caller that then loses interest would.
    async fn futures_poll_once<F: Future + ?Sized>(mut future: Pin<&mut F>) -> Poll<F::Output> {
        std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await
    }

    #[tokio::test]
    async fn finished_work_is_answered_and_not_run_again() {
        let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = runs.clone();
        let output = RunToCompletion::new(async move {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            7
        })
        .await;
        assert_eq!(output.unwrap(), 7);
        tokio::task::yield_now().await;
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_panic_is_an_error_not_an_unwound_caller() {
        let output = RunToCompletion::new(async {
            if std::hint::black_box(true) {
                panic!("a bug in a request's handling");
            }
        })
        .await;
        let panic = output.unwrap_err();
        assert_eq!(
            panic.downcast_ref::<&str>(),
            Some(&"a bug in a request's handling")
        );
    }
}
