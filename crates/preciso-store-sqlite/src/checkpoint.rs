//! Checkpoints beside an initial load's writer: a thread with a connection of its own copies
//! the committed part of the WAL into the database while the writer goes on appending.
//!
//! SQLite checkpoints on the connection that commits once the WAL passes
//! `wal_autocheckpoint` pages, so an ingest's writer stopped every 128 MB to copy them: perf
//! of a 10M-offer initial load, 45–55 s in, put 15% of the process's samples in `walCheckpoint`
//! on the writer's thread (its `pwrite`s into the database), while the second core had room.
//! A passive checkpoint from another connection copies frames up to the last commit (and the
//! oldest reader's snapshot) without waiting for the writer's lock or a reader's, so the
//! writer's own checkpoint, when the WAL reaches its limit, finds most frames copied already
//! and only syncs and copies the rest; the WAL then starts over as before (docs/DECISIONS.md,
//! "Checkpoints beside the writer").

use crate::SqliteCatalog;
use rusqlite::Connection;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the thread checkpoints: a fifth of a second of appending is ~15 MB of WAL.
const EVERY: Duration = Duration::from_millis(200);

/// The running thread; dropping it stops the thread and waits for its checkpoint to end.
pub(crate) struct Checkpoints {
    /// Never sent on: dropped, it wakes the thread's wait with a disconnection, which stops it.
    stop: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpoints {
    /// Starts checkpointing the database of `conn` (a file: `None` in memory) beside it; `None`,
    /// logged, where the connection or the thread is refused (the writer then checkpoints
    /// alone, as SQLite does by default).
    pub(crate) fn beside(conn: &Connection) -> Option<Self> {
        let path = crate::catalog_file(conn)?.to_path_buf();
        let helper = match SqliteCatalog::connect(&path) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "no connection to checkpoint beside the writer");
                return None;
            }
        };
        let (stop, stopped) = mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || checkpoint_until_stopped(&helper, &stopped));
        match spawned {
            Ok(thread) => Some(Checkpoints { stop: Some(stop), thread: Some(thread) }),
            Err(e) => {
                tracing::warn!(error = %e, "no thread to checkpoint beside the writer");
                None
            }
        }
    }
}

fn checkpoint_until_stopped(conn: &Connection, stopped: &Receiver<()>) {
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
        // PASSIVE: copies what it can without waiting for the writer or any reader.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "WAL checkpoint beside the writer failed; stopped");
            return;
        }
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::warn!("the WAL checkpoint thread panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_are_copied_into_the_database_while_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        let writer = SqliteCatalog::connect(&path).unwrap();
        // The writer never checkpoints by itself here: what is copied, the thread copied.
        writer.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        writer.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        let beside = Checkpoints::beside(&writer).expect("a file database gets the thread");
        for _ in 0..50 {
            writer.execute("INSERT INTO t VALUES (zeroblob(100000))", []).unwrap();
        }
        let committed = read_only_frames(&path).0;
        // A reader of that snapshot keeps the WAL from starting over once copied, so the
        // frame counts below stay those of these commits.
        let reader = SqliteCatalog::connect(&path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        reader.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)).unwrap();
        // The writer goes on: a transaction open, its pages spilled into the WAL uncommitted.
        writer.execute_batch("PRAGMA cache_size = 10; BEGIN IMMEDIATE").unwrap();
        for _ in 0..20 {
            writer.execute("INSERT INTO t VALUES (zeroblob(100000))", []).unwrap();
        }
        // Waits (bounded) for the thread's next checkpoints to reach the last commit.
        let mut copied = false;
        for _ in 0..50 {
            std::thread::sleep(EVERY);
            if read_only_frames(&path).1 >= committed {
                copied = true;
                break;
            }
        }
        let backfilled = read_only_frames(&path).1;
        writer.execute_batch("COMMIT").unwrap();
        reader.execute_batch("COMMIT").unwrap();
        drop(beside);
        assert!(committed > 1000 && copied, "committed {committed}, copied {backfilled}");
        assert_eq!(backfilled, committed, "every committed frame and nothing uncommitted");
        let rows: i64 = writer.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 70);
    }

    /// The WAL's frames and those copied, read from the WAL-index header of the `-shm` file
    /// (`mxFrame` at byte 16, `nBackfill` at 96, native order) without checkpointing.
    fn read_only_frames(path: &std::path::Path) -> (i64, i64) {
        let shm = std::fs::read(path.with_extension("sqlite-shm")).unwrap();
        let word = |at: usize| i64::from(u32::from_ne_bytes(shm[at..at + 4].try_into().unwrap()));
        (word(16), word(96))
    }

    #[test]
    fn an_in_memory_database_gets_no_thread() {
        let conn = Connection::open_in_memory().unwrap();
        assert!(Checkpoints::beside(&conn).is_none());
    }
}
