//! Locking shared state.

use std::sync::{Mutex, MutexGuard};

/// `Mutex::lock` that survives poisoning. The daemon's mutexes guard maps and caches that each
/// update keeps consistent in one step (or SQLite, which has its own transactions), so state left by
/// a panicking holder is still valid, and one panic must not take every later request down with it.
pub trait LockExt<T> {
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T> LockExt<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
