//! The runs this process is executing right now, by id. A sweep that abandons runs whose
//! heartbeat went silent leaves these alone: their executor ends them itself, and on SQLite a
//! heartbeat can wait minutes behind the process's own long write (a load's index builds)
//! without the process being gone. A run of this process that nothing executes any more (its
//! end could not be written, or it was claimed and never started) is not here, so it still
//! ages out like a dead process's. Another process of this host (a CLI `preciso jobs run`
//! on the same SQLite file) is judged by whether its pid still exists (`other_process_here`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a run of another process of this host that still exists (`other_process_here`) may stay
/// silent before it is abandoned all the same (a hung process, or its pid reused by another).
pub const SAME_HOST_PATIENCE: Duration = Duration::from_secs(3_600);

/// Ids with how many guards hold each: a run is marked live from its hand-off to a thread
/// through its executor, which marks it again.
#[derive(Debug, Default)]
pub struct LiveIds(Mutex<BTreeMap<i64, usize>>);

impl LiveIds {
    /// Marks `id` live until the guard drops.
    pub fn enter(self: &Arc<Self>, id: i64) -> Live {
        *self.lock().entry(id).or_default() += 1;
        Live { ids: self.clone(), id }
    }

    /// The live ids, ascending.
    pub fn ids(&self) -> Vec<i64> {
        self.lock().keys().copied().collect()
    }

    pub fn contains(&self, id: i64) -> bool {
        self.lock().contains_key(&id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, usize>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// For an `owner` (`host:pid:nonce`, `service::owner_id`) naming another process of `host`
/// than this one: whether it still exists. `None` for another host's process, whose pid says
/// nothing here, and for this process, whose runs `LiveIds` tells about. A reused pid can pass
/// for the process: callers bound how long they believe it.
pub fn other_process_here(owner: &str, host: &str) -> Option<bool> {
    let (h, pid) = preciso_core::quality::runs::owner_host_pid(owner)?;
    (h == host && pid != std::process::id())
        .then(|| std::path::Path::new(&format!("/proc/{pid}")).exists())
}

/// One hold on a live id; released when dropped (also when its executor panics).
pub struct Live {
    ids: Arc<LiveIds>,
    id: i64,
}

impl Drop for Live {
    fn drop(&mut self) {
        let mut ids = self.ids.lock();
        if let Some(n) = ids.get_mut(&self.id) {
            *n -= 1;
            if *n == 0 {
                ids.remove(&self.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_process_of_this_host_is_alive_while_its_pid_exists() {
        assert_eq!(other_process_here("box:1:0a", "box"), Some(true), "init always runs");
        assert_eq!(other_process_here(&format!("box:{}:0a", u32::MAX), "box"), Some(false));
        assert_eq!(other_process_here("box:1:0a", "other-box"), None, "another host's pid");
        let me = format!("box:{}:0a", std::process::id());
        assert_eq!(other_process_here(&me, "box"), None, "this process: its live ids tell");
        assert_eq!(other_process_here("not-an-owner", "box"), None);
    }

    #[test]
    fn an_id_is_live_while_any_guard_holds_it() {
        let live = Arc::new(LiveIds::default());
        let a = live.enter(7);
        {
            let _b = live.enter(3);
            let _again = live.enter(7);
            assert_eq!(live.ids(), vec![3, 7]);
        }
        assert!(live.contains(7) && !live.contains(3), "7 is still held once");
        drop(a);
        assert!(live.ids().is_empty());
    }
}
