//! The deliveries a worker process holds: fetched or claimed, not yet settled. The feeder
//! adds them, the processor marks the ones whose job started, acknowledgement removes them,
//! the heartbeat renews their leases, and a stopping process hands back what is left.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::queue::Delivery;

/// One held delivery.
#[derive(Debug, Clone)]
struct Entry {
    delivery: Delivery,
    started: bool,
}

/// The deliveries this process holds, by stream entry id.
#[derive(Debug, Default)]
pub struct Held {
    map: Mutex<HashMap<String, Entry>>,
}

impl Held {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds deliveries, except those already held (a claim of our own entries after a
    /// heartbeat gap must not run a job twice); returns the ones added.
    pub fn add(&self, deliveries: Vec<Delivery>) -> Vec<Delivery> {
        let mut map = self.lock();
        deliveries
            .into_iter()
            .filter(|d| {
                let new = !map.contains_key(&d.entry_id);
                if new {
                    map.insert(
                        d.entry_id.clone(),
                        Entry {
                            delivery: d.clone(),
                            started: false,
                        },
                    );
                }
                new
            })
            .collect()
    }

    /// Marks a delivery's job as started.
    pub fn mark_started(&self, entry_id: &str) {
        if let Some(e) = self.lock().get_mut(entry_id) {
            e.started = true;
        }
    }

    /// Forgets a delivery (settled, or left to its lease).
    pub fn remove(&self, entry_id: &str) {
        self.lock().remove(entry_id);
    }

    /// The entry ids held.
    pub fn ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Empties the registry; each delivery with whether its job had started.
    pub fn take(&self) -> Vec<(Delivery, bool)> {
        self.lock()
            .drain()
            .map(|(_, e)| (e.delivery, e.started))
            .collect()
    }
}
