// SPDX-License-Identifier: GPL-2.0-only
//! A second thread for the steps of a large conversion that split in two:
//! reading the symbol table, planning the relocation sections, writing
//! the output.
//!
//! A step runs on a second thread only when it is large enough to pay
//! for one and the process may use a second processor; otherwise, or if
//! no thread can be started, it runs on the calling thread. The results
//! are the same either way: each half works on its own part and the
//! parts are joined in order.

use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{Scope, ScopedJoinHandle};

/// Work is split only if each half has this many items (symbols,
/// relocations) or more: below, a second thread's own memory (its stack,
/// its allocator arena, the half copied back) costs more than the time it
/// saves, which is a few per cent.
pub(crate) const MIN_SPLIT: usize = 60_000;

/// Whether the process may run two threads at once.
pub(crate) fn parallel() -> bool {
    use std::sync::OnceLock;
    static TWO: OnceLock<bool> = OnceLock::new();
    *TWO.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

/// A step started by [`spawn`]: on its own thread, or waiting for
/// [`Task::join`] to run it.
enum Task<'scope, T, F> {
    Running(ScopedJoinHandle<'scope, Option<T>>, Step<F>),
    Waiting(Step<F>),
}

/// A step, taken by whichever thread runs it.
type Step<F> = Arc<Mutex<Option<F>>>;

fn take<F>(step: &Step<F>) -> Option<F> {
    step.lock().unwrap_or_else(PoisonError::into_inner).take()
}

/// Start `f` on a thread of scope `s` if `threaded`; otherwise, or if no
/// thread can be started, [`Task::join`] runs it.
fn spawn<'scope, 'env, T, F>(
    s: &'scope Scope<'scope, 'env>,
    threaded: bool,
    f: F,
) -> Task<'scope, T, F>
where
    T: Send + 'scope,
    F: FnOnce() -> T + Send + 'scope,
{
    let step = Arc::new(Mutex::new(Some(f)));
    if !threaded {
        return Task::Waiting(step);
    }
    let theirs = Arc::clone(&step);
    let started = std::thread::Builder::new().spawn_scoped(s, move || take(&theirs).map(|f| f()));
    match started {
        Ok(h) => Task::Running(h, step),
        Err(_) => Task::Waiting(step),
    }
}

impl<T, F: FnOnce() -> T> Task<'_, T, F> {
    /// The step's result, once it has run.
    fn join(self) -> T {
        let step = match self {
            Task::Running(h, step) => match h.join() {
                Ok(Some(t)) => return t,
                Ok(None) => step,
                Err(payload) => std::panic::resume_unwind(payload),
            },
            Task::Waiting(step) => step,
        };
        match take(&step) {
            Some(f) => f(),
            // Whoever took the step ran it and returned above.
            None => std::panic::resume_unwind(Box::new("klp-convert: a step ran twice")),
        }
    }
}

/// `a()` and `b()`, on two threads if `threaded`.
pub(crate) fn join<A, B, RA, RB>(threaded: bool, a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA,
    B: FnOnce() -> RB + Send,
    RB: Send,
{
    std::thread::scope(|s| {
        let b = spawn(s, threaded && parallel(), b);
        let ra = a();
        (ra, b.join())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_halves_run_either_way() {
        for threaded in [false, true] {
            let v: Vec<u32> = (0..100).collect();
            let (a, b) = join(
                threaded,
                || v[..50].iter().sum::<u32>(),
                || v[50..].iter().sum::<u32>(),
            );
            assert_eq!((a, b), (1225, 3725));
        }
    }
}
