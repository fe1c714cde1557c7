//! The bounded connection pool both store adapters use: at most `max` connections exist,
//! callers beyond that wait for one to come back, and connections live as long as the pool,
//! so their prepared statements stay warm and memory stays bounded. It counts what the DB-pool
//! metrics (USE) report: connections in use, the bound, and how often and how long callers
//! waited. A caller waits at most `ACQUIRE_TIMEOUT`; then it gets `StoreError::Unavailable`,
//! which an API answers with 503 and `Retry-After` instead of queueing without end.

use preciso_core::ports::{PoolStats, StoreError};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The longest a caller waits for a connection when all are in use.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Pool<C> {
    state: Mutex<State<C>>,
    returned: Condvar,
    max: usize,
    /// Whether a returned connection can be reused (a closed one is dropped instead).
    reusable: fn(&C) -> bool,
    waits: AtomicU64,
    wait_nanos: AtomicU64,
    timeout: Duration,
}

struct State<C> {
    idle: Vec<C>,
    /// Connections open, idle or in use.
    open: usize,
}

impl<C> Pool<C> {
    /// A pool of at most `max` (at least 1) connections, starting with `idle`.
    pub fn new(max: usize, idle: Vec<C>, reusable: fn(&C) -> bool) -> Self {
        let open = idle.len();
        Pool {
            state: Mutex::new(State { idle, open }),
            returned: Condvar::new(),
            max: max.max(1),
            reusable,
            waits: AtomicU64::new(0),
            wait_nanos: AtomicU64::new(0),
            timeout: ACQUIRE_TIMEOUT,
        }
    }

    /// The same pool with another acquire timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn lock(&self) -> MutexGuard<'_, State<C>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle connection, a new one from `connect` while fewer than `max` exist, or the next
    /// one returned within the acquire timeout.
    pub fn get<E: From<StoreError>>(
        &self,
        connect: impl FnOnce() -> Result<C, E>,
    ) -> Result<Pooled<'_, C>, E> {
        let mut state = self.lock();
        let mut waited: Option<Instant> = None;
        let conn = loop {
            if let Some(conn) = state.idle.pop() {
                if (self.reusable)(&conn) {
                    break Some(conn);
                }
                // Closed while idle (a database restart): open a fresh one in its place.
                state.open -= 1;
                continue;
            }
            if state.open < self.max {
                state.open += 1;
                break None;
            }
            let since = *waited.get_or_insert_with(Instant::now);
            let Some(left) = self.timeout.checked_sub(since.elapsed()) else {
                drop(state);
                self.count_wait(since);
                return Err(E::from(StoreError::Unavailable(format!(
                    "all {} database connections stayed busy for {} s",
                    self.max,
                    self.timeout.as_secs_f64()
                ))));
            };
            state = self.returned.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
        };
        drop(state);
        if let Some(start) = waited {
            self.count_wait(start);
        }
        let conn = match conn {
            Some(c) => c,
            None => connect().inspect_err(|_| self.forget_one())?,
        };
        Ok(Pooled { pool: self, conn: Some(conn) })
    }

    fn count_wait(&self, start: Instant) {
        self.waits.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.wait_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    fn forget_one(&self) {
        self.lock().open -= 1;
        self.returned.notify_one();
    }

    fn put_back(&self, conn: C) {
        if (self.reusable)(&conn) {
            self.lock().idle.push(conn);
            self.returned.notify_one();
        } else {
            drop(conn);
            self.forget_one();
        }
    }

    /// Takes the idle connections out (to close them somewhere else).
    pub fn drain_idle(&mut self) -> Vec<C> {
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        state.open -= state.idle.len();
        std::mem::take(&mut state.idle)
    }

    pub fn stats(&self) -> PoolStats {
        let state = self.lock();
        PoolStats {
            in_use: (state.open - state.idle.len()) as u64,
            open: state.open as u64,
            max: self.max as u64,
            waits: self.waits.load(Ordering::Relaxed),
            wait_seconds: self.wait_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        }
    }
}

/// A connection in use; back to the pool when dropped, even by a panic.
pub struct Pooled<'a, C> {
    pool: &'a Pool<C>,
    conn: Option<C>,
}

impl<C> Deref for Pooled<'_, C> {
    type Target = C;
    fn deref(&self) -> &C {
        self.conn.as_ref().expect("present until drop")
    }
}

impl<C> DerefMut for Pooled<'_, C> {
    fn deref_mut(&mut self) -> &mut C {
        self.conn.as_mut().expect("present until drop")
    }
}

impl<C> Drop for Pooled<'_, C> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.put_back(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn bounds_connections_and_counts_waits() {
        let pool = Arc::new(Pool::new(2, Vec::new(), |_: &u32| true));
        let made = AtomicU64::new(0);
        let connect =
            || -> Result<u32, StoreError> { Ok(made.fetch_add(1, Ordering::Relaxed) as u32) };
        let a = pool.get(connect).unwrap();
        let b = pool.get(connect).unwrap();
        assert_eq!((pool.stats().in_use, pool.stats().max), (2, 2));
        let waiter = {
            let pool = Arc::clone(&pool);
            std::thread::spawn(move || {
                *pool.get(|| Err::<u32, StoreError>(StoreError::NotFound)).unwrap()
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        drop(a);
        // The waiter gets the returned connection instead of opening a third.
        assert_eq!(waiter.join().unwrap(), 0);
        drop(b);
        let stats = pool.stats();
        assert_eq!((stats.in_use, stats.open, stats.waits), (0, 2, 1));
        assert!(stats.wait_seconds > 0.0);
        assert_eq!(made.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn failed_connects_and_unusable_connections_free_their_slot() {
        let pool = Pool::new(1, Vec::new(), |c: &u32| *c != 7);
        let down = || Err::<u32, StoreError>(StoreError::Unavailable("down".into()));
        assert!(pool.get(down).is_err());
        drop(pool.get(|| Ok::<u32, StoreError>(7)).unwrap());
        assert_eq!(pool.stats().open, 0, "a closed connection is not kept");
        assert_eq!(*pool.get(|| Ok::<u32, StoreError>(1)).unwrap(), 1);
    }

    #[test]
    fn a_caller_waits_at_most_the_acquire_timeout() {
        let pool = Pool::new(1, vec![1u32], |_| true).with_timeout(Duration::from_millis(100));
        let held = pool.get(|| Ok::<u32, StoreError>(2)).unwrap();
        let started = Instant::now();
        let Err(e) = pool.get(|| Ok::<u32, StoreError>(3)) else { panic!("no connection is free") };
        assert!(matches!(e, StoreError::Unavailable(_)), "{e}");
        assert!(started.elapsed() >= Duration::from_millis(100));
        assert_eq!(pool.stats().waits, 1);
        drop(held);
        assert_eq!(*pool.get(|| Ok::<u32, StoreError>(4)).unwrap(), 1, "free again");
    }
}
