//! A few dedicated threads for category-wide computations (ranked listings; the price analysis
//! and the store report ran here until the market summary kept them). They used to run on
//! tokio's blocking pool, where any of its threads could pick one up; the allocator keeps a
//! heap per thread, sized by the largest request that thread served, so over a load every pool
//! thread ended up holding a category's worth of memory (server RssAnon 410 MB after a
//! price-analysis load on a million offers, ~180 MB with the memory returned at once). Here
//! only these threads ever hold it.

use crate::error::ApiError;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

pub struct HeavyPool {
    jobs: Sender<Job>,
    workers: usize,
}

impl HeavyPool {
    /// Starts `threads` workers; they stop when the pool is dropped.
    pub fn new(threads: usize) -> HeavyPool {
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let workers = (0..threads.max(1))
            .filter(|i| {
                let queue = queue.clone();
                std::thread::Builder::new()
                    .name(format!("heavy-{i}"))
                    .spawn(move || work(&queue))
                    .is_ok()
            })
            .count();
        HeavyPool { jobs, workers }
    }

    /// Runs `f` on a worker and waits for its result without blocking the runtime. Without
    /// workers (none could be started) it runs on the blocking pool instead.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        if self.workers == 0 {
            return tokio::task::spawn_blocking(f)
                .await
                .map_err(|e| ApiError::Internal(format!("blocking task failed: {e}")));
        }
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(f());
        });
        self.jobs.send(job).map_err(|_| ApiError::Internal("heavy workers stopped".into()))?;
        // A job that panicked dropped its sender: the request fails, the worker lives on.
        result.await.map_err(|_| ApiError::Internal("a heavy computation failed".into()))
    }
}

fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => {
                let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
            }
            Err(_) => return, // the pool was dropped
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_on_its_own_threads_and_survives_a_panic() {
        let pool = HeavyPool::new(2);
        let name = pool.run(|| std::thread::current().name().map(str::to_string)).await.unwrap();
        assert!(name.unwrap().starts_with("heavy-"));
        assert!(pool.run(|| -> u32 { panic!("boom") }).await.is_err());
        for i in 0..4u32 {
            assert_eq!(pool.run(move || i * 2).await.unwrap(), i * 2);
        }
    }
}
