//! The runs this process is executing right now, by id. A sweep that abandons runs whose
//! heartbeat went silent leaves these alone: their executor ends them itself, and on SQLite a
//! heartbeat can wait minutes behind the process's own long write (a load's index builds)
//! without the process being gone. A run of this process that nothing executes any more (its
//! end could not be written, or it was claimed and never started) is not here, so it still
//! ages out like a dead process's. Another process of this host (a CLI `preciso jobs run`
//! on the same SQLite file) is judged by whether its pid still exists (`alive_here`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a run of another process of this host that still exists (`alive_here`) may stay
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

/// Whether `owner` (`host:pid:nonce`, `service::owner_id`) names a process of `host` that
/// still exists. A reused pid can pass for it: callers bound how long they believe this.
pub fn alive_here(owner: &str, host: &str) -> bool {
    match preciso_core::quality::runs::owner_host_pid(owner) {
        Some((h, pid)) => h == host && process_alive(pid),
        None => false,
    }
}

/// Whether a process with this pid exists on this host.
pub fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
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
    fn an_owner_is_alive_here_while_its_process_exists_on_this_host() {
        let me = format!("box:{}:0a", std::process::id());
        assert!(alive_here(&me, "box"));
        assert!(!alive_here(&me, "other-box"), "another host's pid says nothing here");
        assert!(!alive_here(&format!("box:{}:0a", u32::MAX), "box"), "no such process");
        assert!(!alive_here("not-an-owner", "box"));
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
