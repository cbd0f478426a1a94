// SPDX-License-Identifier: GPL-2.0-only
//! A second thread for the steps of a large conversion that split into
//! parts: reading the symbol table, planning the relocation sections,
//! writing the output.
//!
//! A step takes a second thread only when it is large enough to pay for
//! one and the process may use a second processor; otherwise, or if no
//! thread can be started, the calling thread does all of it. The two
//! threads take the parts in turn, so that neither waits for the other to
//! start. The results are the same either way: each part works on its
//! own and the parts are joined in order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread::ScopedJoinHandle;

/// Work is split only if there are twice this many items (symbols,
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

/// How many parts [`each`] gets for `items` items of work: one if a
/// second thread would not pay, else about `min_split / 2` items each and
/// at most [`MAX_PARTS`].
pub(crate) fn parts(items: usize, min_split: usize) -> usize {
    if items / 2 < min_split.max(1) {
        return 1;
    }
    (items / (min_split / 2).max(1)).clamp(2, MAX_PARTS)
}

/// The most parts a step is cut into: enough that a second thread which
/// starts late (a new thread may wait milliseconds for a processor of its
/// own) still takes a share, few enough that what each part costs on its
/// own (its buffers, its share of the join) stays small.
pub(crate) const MAX_PARTS: usize = 8;

/// `work(item)` for every one of `items`, on this thread and, if
/// `threaded` and there are two or more, a second one: each thread takes
/// the next item that neither has taken, so that a second thread which
/// starts late only takes fewer, and none waits for the other to start.
/// The results, in the order of `items`.
pub(crate) fn each<T, R, W>(threaded: bool, items: Vec<T>, work: W) -> Vec<R>
where
    T: Send,
    R: Send,
    W: Fn(T) -> R + Sync,
{
    each_with(threaded, items, || (), |_, item| work(item))
}

/// [`each`], with a state of each thread's own that `init` makes before
/// its first item and `work` is given with each.
pub(crate) fn each_with<T, R, S, I, W>(threaded: bool, items: Vec<T>, init: I, work: W) -> Vec<R>
where
    T: Send,
    R: Send,
    I: Fn() -> S + Sync,
    W: Fn(&mut S, T) -> R + Sync,
{
    let n = items.len();
    let slots: Vec<Mutex<Option<T>>> = items.into_iter().map(|t| Mutex::new(Some(t))).collect();
    let next = AtomicUsize::new(0);
    let run = || {
        let mut done = Vec::new();
        let mut state = None;
        loop {
            let k = next.fetch_add(1, Ordering::Relaxed);
            let Some(slot) = slots.get(k) else {
                break;
            };
            let item = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(item) = item {
                let state = state.get_or_insert_with(&init);
                done.push((k, work(state, item)));
            }
        }
        done
    };
    let (mine, theirs) = std::thread::scope(|s| {
        let helper = if threaded && n > 1 && parallel() {
            std::thread::Builder::new().spawn_scoped(s, run).ok()
        } else {
            None
        };
        let mine = run();
        let theirs = match helper.map(ScopedJoinHandle::join) {
            Some(Ok(theirs)) => theirs,
            Some(Err(payload)) => std::panic::resume_unwind(payload),
            None => Vec::new(),
        };
        (mine, theirs)
    });
    let mut results: Vec<Option<R>> = (0..n).map(|_| None).collect();
    for (k, r) in mine.into_iter().chain(theirs) {
        if let Some(slot) = results.get_mut(k) {
            *slot = Some(r);
        }
    }
    // Every item was taken by one thread, which returned its result.
    results.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_keeps_order_either_way() {
        for threaded in [false, true] {
            let items: Vec<u32> = (0..100).collect();
            let got = each(threaded, items, |i| i * 2);
            assert_eq!(got, (0..100).map(|i| i * 2).collect::<Vec<u32>>());
            let none: Vec<u32> = each(threaded, Vec::new(), |i: u32| i);
            assert!(none.is_empty());
        }
    }

    #[test]
    fn parts_grow_with_the_work() {
        assert_eq!(parts(0, 60_000), 1);
        assert_eq!(parts(119_999, 60_000), 1);
        assert_eq!(parts(120_000, 60_000), 4);
        assert_eq!(parts(300_000, 60_000), 8);
        assert_eq!(parts(10, 1), 8);
        assert_eq!(parts(2, 1), 2);
    }
}
