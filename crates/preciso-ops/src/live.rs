//! The runs this process is executing right now, by id. A sweep that abandons runs whose
//! heartbeat went silent leaves these alone: their executor ends them itself, and on SQLite a
//! heartbeat can wait minutes behind the process's own long write (a load's index builds)
//! without the process being gone. A run of this process that nothing executes any more (its
//! end could not be written, or it was claimed and never started) is not here, so it still
//! ages out like a dead process's.

use std::collections::BTreeSet;
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct LiveIds(Mutex<BTreeSet<i64>>);

impl LiveIds {
    pub const fn new() -> Self {
        LiveIds(Mutex::new(BTreeSet::new()))
    }

    /// Marks `id` live until the guard drops.
    pub fn enter(&self, id: i64) -> Live<'_> {
        self.lock().insert(id);
        Live { ids: self, id }
    }

    /// The live ids, ascending.
    pub fn ids(&self) -> Vec<i64> {
        self.lock().iter().copied().collect()
    }

    pub fn contains(&self, id: i64) -> bool {
        self.lock().contains(&id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<i64>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One live id; removed when dropped (also when its executor panics).
pub struct Live<'a> {
    ids: &'a LiveIds,
    id: i64,
}

impl Drop for Live<'_> {
    fn drop(&mut self) {
        self.ids.lock().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_live_while_its_guard_lives() {
        let live = LiveIds::new();
        let a = live.enter(7);
        {
            let _b = live.enter(3);
            assert_eq!(live.ids(), vec![3, 7]);
        }
        assert!(live.contains(7) && !live.contains(3));
        drop(a);
        assert!(live.ids().is_empty());
    }
}
