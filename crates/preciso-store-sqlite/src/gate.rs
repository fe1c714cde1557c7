//! First come, first served entry to write transactions within one process. SQLite's busy
//! handler retries with sleeps of up to 100 ms, so a writer that commits and begins again at
//! once (an ingest applying batch after batch) can keep a small writer, such as a job's
//! heartbeat, waiting for as long as the ingest lasts; a run whose heartbeat stops is then
//! abandoned as if its process had died. Writers of this process take a ticket here first
//! and enter in ticket order; SQLite's lock still arbitrates between processes.

use std::sync::{Condvar, Mutex, MutexGuard};

#[derive(Default)]
pub(crate) struct WriteGate {
    /// (next ticket to hand out, ticket now writing)
    tickets: Mutex<(u64, u64)>,
    turn: Condvar,
}

pub(crate) struct Turn<'a>(&'a WriteGate);

impl WriteGate {
    /// Waits for this caller's turn; the turn ends when the returned value is dropped.
    pub(crate) fn enter(&self) -> Turn<'_> {
        let mut t = self.lock();
        let ticket = t.0;
        t.0 += 1;
        while t.1 != ticket {
            t = self.turn.wait(t).unwrap_or_else(|e| e.into_inner());
        }
        Turn(self)
    }

    fn lock(&self) -> MutexGuard<'_, (u64, u64)> {
        // A panic while holding this lock leaves only two counters behind: still valid.
        self.tickets.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0.lock().1 += 1;
        self.0.turn.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_waiting_writer_goes_before_a_busy_one_asking_again() {
        let gate = Arc::new(WriteGate::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let busy = gate.enter();
        let (g, o) = (gate.clone(), order.clone());
        let small = std::thread::spawn(move || {
            let _turn = g.enter();
            o.lock().unwrap().push("small");
        });
        // Until the small writer holds a ticket, the busy one keeps its turn.
        while gate.lock().0 < 2 {
            std::thread::yield_now();
        }
        drop(busy);
        {
            let _again = gate.enter();
            order.lock().unwrap().push("busy again");
        }
        small.join().unwrap();
        assert_eq!(*order.lock().unwrap(), vec!["small", "busy again"]);
    }
}
