// SPDX-License-Identifier: GPL-2.0-only
//! A second thread for the steps of a large conversion that split into
//! parts: reading the symbol table, planning the relocation sections,
//! writing the output.
//!
//! A step takes the second thread only when it is large enough to pay
//! for it and the process may use a second processor; otherwise, or if no
//! thread can be started, the calling thread does all of it. The two
//! threads take the parts in turn, so that neither waits for the other.
//! The results are the same either way: each part works on its own and
//! the parts are joined in order.
//!
//! The second thread is made once, as early as [`start`] is called, and
//! waits between steps. A new thread may wait milliseconds for a
//! processor of its own (measured here: 0.1 to 3 ms after it is made,
//! while its maker keeps one busy), longer than a step of a mid-sized
//! conversion takes; a thread that waits is woken in microseconds.

use std::any::Any;
use std::mem::MaybeUninit;
use std::os::unix::thread::{JoinHandleExt, RawPthread};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::ScopedJoinHandle;

use crate::sys::{self, Cpus};

/// Work is split only if there are twice this many items (symbols,
/// relocations) or more: below, a part costs about as much to hand over
/// and join as it saves.
pub(crate) const MIN_SPLIT: usize = 8_000;

/// [`MIN_SPLIT`] for items that cost several symbols each: section
/// headers, annotations.
pub(crate) const MIN_SPLIT_COSTLY: usize = 1_000;

/// Inputs from this size on start the second thread as they are read:
/// their larger steps split.
pub(crate) const START_SIZE: usize = 1 << 20;

/// Whether the process may run two threads at once.
pub(crate) fn parallel() -> bool {
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

/// The most parts a step is cut into: enough that the parts even out
/// when the second thread comes late or is interrupted, few enough that
/// what each part costs on its own (its buffers, its share of the join)
/// stays small.
pub(crate) const MAX_PARTS: usize = 16;

/// A job the helper runs: the calling thread's loop over the parts.
type Job = dyn Fn() + Sync;

/// A pointer to a [`Job`] on the stack of the thread that posts it, its
/// lifetime erased: see [`Helper::serve`] for why it is never used after
/// the job is gone.
struct JobPtr(*const Job);

// SAFETY: a Job is Sync, so its reference may be used from another thread;
// the pointer is only followed while its poster waits (Helper::serve).
unsafe impl Send for JobPtr {}

/// What the helper is doing.
enum State {
    /// Waiting for a job.
    Idle,
    /// A job is posted and not taken yet.
    Posted(JobPtr),
    /// The helper runs the job.
    Running,
    /// The helper ran the job: how it panicked, if it did.
    Finished(Option<Box<dyn Any + Send>>),
}

/// The second thread, and how jobs reach it.
struct Helper {
    state: Mutex<State>,
    /// Signalled when a job is posted.
    posted: Condvar,
    /// Signalled when a job is finished.
    finished: Condvar,
    /// The thread, and the processors the process may run on; None
    /// where they cannot be told or set.
    thread: OnceLock<(RawPthread, Cpus)>,
    /// The processor the helper was last kept off, + 1 (0: none).
    kept_off: AtomicUsize,
}

/// Lock `m`; a lock whose holder panicked is taken all the same (the
/// panic reaches the caller on its own).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Helper {
    /// The helper's loop: wait for a job, run it, say it is finished.
    fn serve(&self) {
        let mut state = lock(&self.state);
        loop {
            match std::mem::replace(&mut *state, State::Idle) {
                State::Posted(job) => {
                    *state = State::Running;
                    drop(state);
                    // SAFETY: the job lives on the stack of the thread
                    // that posted it, in each_with(), which neither
                    // returns nor unwinds past it while the state is
                    // Running (Posting::finish, and Posting's drop).
                    let r = catch_unwind(AssertUnwindSafe(|| unsafe { (*job.0)() }));
                    state = lock(&self.state);
                    *state = State::Finished(r.err());
                    self.finished.notify_all();
                }
                other => {
                    *state = other;
                    state = self
                        .posted
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
    }

    /// Post `job` if the helper is free (no other thread's job posted or
    /// running); None if it is not.
    fn post<'h, 'j>(&'h self, job: &'j (dyn Fn() + Sync + 'j)) -> Option<Posting<'h>> {
        let mut state = lock(&self.state);
        if !matches!(*state, State::Idle) {
            return None;
        }
        self.keep_off_caller();
        // SAFETY: only the lifetime changes; see Helper::serve.
        let erased: *const Job =
            unsafe { std::mem::transmute::<&'j (dyn Fn() + Sync + 'j), &'static Job>(job) };
        *state = State::Posted(JobPtr(erased));
        self.posted.notify_one();
        Some(Posting {
            helper: self,
            open: true,
        })
    }

    /// Let the helper run on any processor but the calling thread's.
    /// A thread that is woken is put beside its waker when the scheduler
    /// sees no other processor idle, and on a virtual machine a processor
    /// that waits for its host does not count as idle: then the two
    /// threads take turns on one processor, the other one unused, until
    /// the scheduler balances its load milliseconds later (measured here,
    /// in about half of the steps; kept apart, none).
    fn keep_off_caller(&self) {
        let (Some((thread, cpus)), Some(cpu)) = (self.thread.get(), sys::current_cpu()) else {
            return;
        };
        if self.kept_off.swap(cpu + 1, Ordering::Relaxed) != cpu + 1 {
            if let Some(others) = cpus.without(cpu) {
                sys::run_thread_on(*thread, &others);
            }
        }
    }
}

/// A job posted to the helper: it must be withdrawn, or seen finished,
/// before the job goes.
struct Posting<'h> {
    helper: &'h Helper,
    open: bool,
}

impl Posting<'_> {
    /// Withdraw the job if the helper has not taken it, else wait until
    /// it is finished: how it panicked, if it did.
    fn finish(&mut self) -> Option<Box<dyn Any + Send>> {
        if !self.open {
            return None;
        }
        self.open = false;
        let mut state = lock(&self.helper.state);
        loop {
            match std::mem::replace(&mut *state, State::Idle) {
                State::Running => {
                    *state = State::Running;
                    state = self
                        .helper
                        .finished
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                State::Finished(panic) => return panic,
                // Posted (withdrawn) or Idle.
                _ => return None,
            }
        }
    }
}

impl Drop for Posting<'_> {
    /// The calling thread unwinds: the job must not go while the helper
    /// runs it.
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// The helper, once [`start`] made it; None if the process may not use
/// a second processor or the thread could not be made.
static HELPER: OnceLock<Option<&'static Helper>> = OnceLock::new();

/// Make the second thread now, if the process may use one, so that it
/// is ready when a step splits; a conversion large enough to split calls
/// this first thing.
pub(crate) fn start() {
    helper();
}

fn helper() -> Option<&'static Helper> {
    *HELPER.get_or_init(|| {
        if !parallel() {
            return None;
        }
        // Made once and for the life of the process.
        let helper: &'static Helper = Box::leak(Box::new(Helper {
            state: Mutex::new(State::Idle),
            posted: Condvar::new(),
            finished: Condvar::new(),
            thread: OnceLock::new(),
            kept_off: AtomicUsize::new(0),
        }));
        let cpus = Cpus::allowed();
        let thread = std::thread::Builder::new()
            .name("klp-convert".into())
            .spawn(move || helper.serve())
            .ok()?;
        // Never joined: the handle stays valid for the life of the process.
        if let Some(cpus) = cpus {
            let _ = helper.thread.set((thread.as_pthread_t(), cpus));
        }
        helper.keep_off_caller();
        Some(helper)
    })
}

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

/// The slots a part of [`map`] fills, front to back.
pub(crate) struct Slots<'a, T> {
    slots: &'a mut [MaybeUninit<T>],
    n: usize,
}

impl<T> Slots<'_, T> {
    /// How many slots are filled.
    pub(crate) fn len(&self) -> usize {
        self.n
    }

    /// Fill the next slot with `value`; false if there is none left.
    #[inline]
    pub(crate) fn push(&mut self, value: T) -> bool {
        match self.slots.get_mut(self.n) {
            Some(slot) => {
                slot.write(value);
                self.n += 1;
                true
            }
            None => false,
        }
    }
}

/// A vector of one result for each of `items`, made in `parts` parts
/// side by side if `threaded`: `work(first, part, slots)` pushes to
/// `slots` the results of `part`, the items from index `first` on, in
/// order. Each part fills its piece of the vector in place: no copy to
/// join the parts, and no pass that fills the vector first (its pages
/// are fresh memory, which costs a page fault each: the parts take
/// theirs side by side). The first error, in the order of the items;
/// None if a part left a result out.
pub(crate) fn map<'i, S, T, E, W>(
    threaded: bool,
    items: &'i [S],
    parts: usize,
    work: W,
) -> Result<Option<Vec<T>>, E>
where
    S: Sync,
    T: Send,
    E: Send,
    W: Fn(usize, &'i [S], &mut Slots<'_, T>) -> Result<(), E> + Sync,
{
    let size = items.len().div_ceil(parts.max(1)).max(1);
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    let pieces: Vec<_> = out
        .spare_capacity_mut()
        .chunks_mut(size)
        .zip(items.chunks(size))
        .enumerate()
        .map(|(k, (slots, part))| (k * size, part, slots))
        .collect();
    let done = each(threaded && parts > 1, pieces, |(first, part, slots)| {
        let mut slots = Slots { slots, n: 0 };
        work(first, part, &mut slots).map(|()| slots.n == part.len())
    });
    let mut whole = true;
    for part in done {
        whole &= part?;
    }
    if !whole {
        return Ok(None);
    }
    // SAFETY: the pieces are consecutive chunks of the spare capacity,
    // as long as the parts of the items but the last, which may be
    // longer; each part initialized the first slots of its piece, one
    // for each of its items (Slots::push, counted): the first
    // items.len() slots in all.
    unsafe { out.set_len(items.len()) };
    Ok(Some(out))
}

/// The items `work` pushes for each of `parts`, in the order of the
/// parts, in one vector, and what `work` returns for each: `work(part,
/// slots)` pushes at most `bound` items to `slots` (pushes past it are
/// refused), side by side with the other parts if `threaded`. Each part
/// fills its piece of the vector in place: no vector of its own to copy
/// in afterwards (fresh memory twice, a page fault for each page of
/// either). A part that pushes fewer than its bound leaves a gap, closed
/// by moving the parts after it down.
pub(crate) fn fill<P, T, R, W>(threaded: bool, parts: Vec<(P, usize)>, work: W) -> (Vec<T>, Vec<R>)
where
    P: Send,
    T: Copy + Send,
    R: Send,
    W: Fn(P, &mut Slots<'_, T>) -> R + Sync,
{
    let total = parts.iter().fold(0usize, |a, (_, b)| a.saturating_add(*b));
    let mut out: Vec<T> = Vec::with_capacity(total);
    let mut rest = out.spare_capacity_mut();
    let mut pieces = Vec::with_capacity(parts.len());
    let mut sizes = Vec::with_capacity(parts.len());
    for (part, bound) in parts {
        let size = bound.min(rest.len());
        let (piece, after) = std::mem::take(&mut rest).split_at_mut(size);
        sizes.push(size);
        pieces.push((part, piece));
        rest = after;
    }
    let done = each(threaded && pieces.len() > 1, pieces, |(part, slots)| {
        let mut slots = Slots { slots, n: 0 };
        let r = work(part, &mut slots);
        (slots.n, r)
    });
    let spare = out.spare_capacity_mut();
    let (mut len, mut start) = (0usize, 0usize);
    let mut results = Vec::with_capacity(done.len());
    for ((n, r), size) in done.into_iter().zip(sizes) {
        if start != len {
            spare.copy_within(start..start + n, len);
        }
        len += n;
        start += size;
        results.push(r);
    }
    // SAFETY: the pieces are consecutive pieces of the spare capacity,
    // `sizes` long; each part initialized the first `n` slots of
    // its piece (Slots::push, counted), which were moved down in order to
    // follow the previous part's: the first `len` slots in all.
    unsafe { out.set_len(len) };
    (out, results)
}

/// The items of `parts`, in order, in one vector, each as `f(k, item)`
/// makes it from part `k`'s: each part is moved to its place in the
/// vector side by side if `threaded` (the vector's pages are fresh
/// memory, a page fault each: the parts take theirs side by side).
pub(crate) fn concat<T, F>(threaded: bool, parts: Vec<Vec<T>>, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize, T) -> T + Sync,
{
    let total = parts.iter().map(Vec::len).sum();
    let mut out: Vec<T> = Vec::with_capacity(total);
    let mut rest = out.spare_capacity_mut();
    let mut pieces = Vec::with_capacity(parts.len());
    for (k, part) in parts.into_iter().enumerate() {
        let (piece, after) = std::mem::take(&mut rest).split_at_mut(part.len());
        pieces.push((k, part, piece));
        rest = after;
    }
    each(threaded && pieces.len() > 1, pieces, |(k, part, piece)| {
        for (slot, item) in piece.iter_mut().zip(part) {
            slot.write(f(k, item));
        }
    });
    // SAFETY: the pieces are consecutive and as long as the parts, the
    // first `total` slots in all, and each slot of a piece was written
    // with an item of its part (zipped, of equal lengths). Had a call of
    // `f` panicked, `each` would not have returned.
    unsafe { out.set_len(total) };
    out
}

/// An item of [`each_with`], then its result.
enum Slot<T, R> {
    Todo(T),
    Done(R),
    Taken,
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
    let slots: Vec<Mutex<Slot<T, R>>> = items
        .into_iter()
        .map(|t| Mutex::new(Slot::Todo(t)))
        .collect();
    let next = AtomicUsize::new(0);
    let run = || {
        let mut state = None;
        while let Some(slot) = slots.get(next.fetch_add(1, Ordering::Relaxed)) {
            let mut slot = lock(slot);
            if let Slot::Todo(item) = std::mem::replace(&mut *slot, Slot::Taken) {
                let state = state.get_or_insert_with(&init);
                *slot = Slot::Done(work(state, item));
            }
        }
    };
    let two = threaded && n > 1 && parallel();
    let mut posting = if two {
        helper().and_then(|h| h.post(&run))
    } else {
        None
    };
    if posting.is_some() || !two {
        run();
        if let Some(panic) = posting.as_mut().and_then(Posting::finish) {
            std::panic::resume_unwind(panic);
        }
    } else {
        // The helper is busy with another thread's step (tests run side
        // by side) or cannot be made: a thread for this step alone.
        std::thread::scope(|s| {
            let other = std::thread::Builder::new().spawn_scoped(s, run).ok();
            run();
            if let Some(Err(panic)) = other.map(ScopedJoinHandle::join) {
                std::panic::resume_unwind(panic);
            }
        });
    }
    drop(posting);
    slots
        .into_iter()
        .filter_map(|slot| match slot.into_inner() {
            Ok(Slot::Done(r)) => Some(r),
            Err(poisoned) => match poisoned.into_inner() {
                Slot::Done(r) => Some(r),
                _ => None,
            },
            // Every item was taken by one thread, which left its result.
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_keeps_order_either_way() {
        for threaded in [false, true] {
            let parts = vec![vec![1, 2, 3], vec![], vec![4], vec![5, 6]];
            let got = concat(threaded, parts, |k, i| i * 10 + k as u32);
            assert_eq!(got, [10, 20, 30, 42, 53, 63]);
            let none: Vec<u32> = concat(threaded, Vec::new(), |_, i| i);
            assert!(none.is_empty());
        }
    }

    #[test]
    fn fill_closes_gaps_either_way() {
        for threaded in [false, true] {
            // Part k pushes k items of k * 10 + i, and tries one more than
            // its bound in part 3.
            let parts: Vec<(u32, usize)> = vec![(0, 2), (1, 1), (2, 4), (3, 3), (4, 4)];
            let (got, pushed) = fill(threaded, parts, |k, slots| {
                let n = if k == 3 { 4 } else { k.min(4) };
                (0..n)
                    .map(|i| slots.push(k * 10 + i))
                    .filter(|ok| !ok)
                    .count()
            });
            assert_eq!(got, [10, 20, 21, 30, 31, 32, 40, 41, 42, 43]);
            assert_eq!(pushed, [0, 0, 0, 1, 0]);
            let (none, _): (Vec<u32>, Vec<()>) =
                fill(threaded, Vec::<((), usize)>::new(), |_, _| ());
            assert!(none.is_empty());
        }
    }

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

    /// Steps posted from several threads at once, each while the helper
    /// may run another's: every one gets all its results, in order.
    #[test]
    fn steps_side_by_side() {
        start();
        std::thread::scope(|s| {
            for t in 0..4u64 {
                s.spawn(move || {
                    for round in 0..50u64 {
                        let items: Vec<u64> = (0..16).collect();
                        let got = each(true, items, |i| {
                            std::hint::black_box((0..200).sum::<u64>());
                            i * t + round
                        });
                        let want: Vec<u64> = (0..16).map(|i| i * t + round).collect();
                        assert_eq!(got, want);
                    }
                });
            }
        });
    }

    /// A part that panics on the helper panics the step, and the helper
    /// takes the next one.
    #[test]
    fn a_panic_reaches_the_caller() {
        start();
        let r = catch_unwind(|| {
            each(true, (0..64).collect::<Vec<u32>>(), |i| {
                assert!(i != 40, "part 40");
                std::thread::sleep(std::time::Duration::from_micros(100));
                i
            })
        });
        assert!(r.is_err());
        let got = each(true, (0..64).collect::<Vec<u32>>(), |i| i + 1);
        assert_eq!(got, (1..65).collect::<Vec<u32>>());
    }

    /// map() gives one result an item, in order, in one part or many; the
    /// first error in the order of the items; None if a part leaves a
    /// result out.
    #[test]
    fn map_fills_in_order() {
        let items: Vec<u32> = (0..1000).collect();
        for parts in [1, 2, 7, 16] {
            let got = map(true, &items, parts, |first, part, out| {
                for (i, x) in part.iter().enumerate() {
                    assert_eq!(first + i, *x as usize);
                    out.push(u64::from(*x) * 3);
                }
                Ok::<(), String>(())
            });
            let want: Vec<u64> = (0..1000).map(|x| x * 3).collect();
            assert_eq!(got, Ok(Some(want)), "{parts} parts");
            let failed = map(true, &items, parts, |first, part, out| {
                for (i, x) in part.iter().enumerate() {
                    if *x % 300 == 299 {
                        return Err(format!("item {}", first + i));
                    }
                    out.push(*x);
                }
                Ok(())
            });
            assert_eq!(failed, Err("item 299".to_string()), "{parts} parts");
            let short = map(true, &items, parts, |_, part, out| {
                for x in part.iter().skip(1) {
                    out.push(*x);
                }
                Ok::<(), ()>(())
            });
            assert_eq!(short, Ok(None), "{parts} parts");
        }
    }

    #[test]
    fn parts_grow_with_the_work() {
        assert_eq!(parts(0, 60_000), 1);
        assert_eq!(parts(119_999, 60_000), 1);
        assert_eq!(parts(120_000, 60_000), 4);
        assert_eq!(parts(300_000, 60_000), 10);
        assert_eq!(parts(1_000_000, 60_000), MAX_PARTS);
        assert_eq!(parts(10, 1), 10);
        assert_eq!(parts(100, 1), MAX_PARTS);
        assert_eq!(parts(2, 1), 2);
    }
}
