// SPDX-License-Identifier: GPL-2.0-only
//! The few C library calls std does not offer, declared here rather than
//! through the libc crate: geteuid(), signal(), unlink(), _exit(), mmap(),
//! munmap(), madvise(), renameat2() (through dlsym()), sched_getcpu(),
//! sched_getaffinity() and pthread_setaffinity_np(), plus the bounded,
//! non-blocking way every file is read, and the allocator.
//!
//! Every `unsafe` block is one call into the C library with arguments
//! that are valid by construction; each says why.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::{c_char, c_int, c_void, CString};
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::thread::RawPthread;
use std::path::Path;
use std::sync::atomic::{AtomicPtr, Ordering};

extern "C" {
    fn geteuid() -> u32;
    fn signal(signum: c_int, handler: usize) -> usize;
    fn unlink(path: *const c_char) -> c_int;
    fn _exit(status: c_int) -> !;
    fn mmap(
        addr: *mut c_void,
        len: usize,
        prot: c_int,
        flags: c_int,
        fd: c_int,
        off: i64,
    ) -> *mut c_void;
    fn munmap(addr: *mut c_void, len: usize) -> c_int;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    fn madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int;
    fn sched_getcpu() -> c_int;
    fn sched_getaffinity(pid: c_int, size: usize, mask: *mut u64) -> c_int;
    fn pthread_setaffinity_np(thread: RawPthread, size: usize, mask: *const u64) -> c_int;
    #[cfg(target_pointer_width = "64")]
    fn fallocate(fd: c_int, mode: c_int, offset: i64, len: i64) -> c_int;
    #[cfg(target_env = "gnu")]
    fn mallopt(param: c_int, value: c_int) -> c_int;
}

/// Whether the architecture has the generic value of MADV_HUGEPAGE
/// (asm-generic/mman-common.h); elsewhere it is not used.
const GENERIC_MMAN: bool = cfg!(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "powerpc64",
    target_arch = "s390x",
    target_arch = "riscv64",
    target_arch = "loongarch64"
));

/// MADV_HUGEPAGE where its value is the generic one; elsewhere no advice
/// is given.
const MADV_HUGEPAGE: Option<c_int> = if GENERIC_MMAN { Some(14) } else { None };

/// renameat2(): looked up when it is first used, since a C library older
/// than glibc 2.28 lacks it.
type Renameat2 = unsafe extern "C" fn(c_int, *const c_char, c_int, *const c_char, u32) -> c_int;
/// AT_FDCWD.
const AT_FDCWD: c_int = -100;
/// RENAME_EXCHANGE.
const RENAME_EXCHANGE: u32 = 2;

const PROT_READ: c_int = 1;
const MAP_PRIVATE: c_int = 2;
const MAP_FAILED: *mut c_void = !0usize as *mut c_void;

/// O_NONBLOCK: opening a FIFO for reading returns at once instead of
/// waiting for a writer; reads of regular files are not affected.
#[cfg(any(target_arch = "mips", target_arch = "mips64"))]
const O_NONBLOCK: c_int = 0x80;
#[cfg(target_arch = "sparc64")]
const O_NONBLOCK: c_int = 0x4000;
#[cfg(not(any(target_arch = "mips", target_arch = "mips64", target_arch = "sparc64")))]
const O_NONBLOCK: c_int = 0o4000;

const SIGHUP: c_int = 1;
const SIGINT: c_int = 2;
const SIGTERM: c_int = 15;
#[cfg(any(target_arch = "mips", target_arch = "mips64", target_arch = "sparc64"))]
const SIGBUS: c_int = 10;
#[cfg(not(any(target_arch = "mips", target_arch = "mips64", target_arch = "sparc64")))]
const SIGBUS: c_int = 7;
#[cfg(any(target_arch = "mips", target_arch = "mips64"))]
const SIGXFSZ: c_int = 31;
#[cfg(not(any(target_arch = "mips", target_arch = "mips64")))]
const SIGXFSZ: c_int = 25;
const SIG_IGN: usize = 1;

/// A set of processors, as the scheduler's affinity calls take it (the
/// C library's cpu_set_t: 1024 of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cpus([u64; 16]);

impl Cpus {
    /// The processors the calling thread may run on; None if the
    /// system has more than a cpu_set_t holds.
    pub fn allowed() -> Option<Cpus> {
        let mut set = Cpus([0; 16]);
        // SAFETY: the mask is as large as the size given.
        let r = unsafe { sched_getaffinity(0, std::mem::size_of::<Cpus>(), set.0.as_mut_ptr()) };
        (r == 0).then_some(set)
    }

    /// The set without processor `cpu`; None if that leaves none.
    pub fn without(mut self, cpu: usize) -> Option<Cpus> {
        if let Some(word) = self.0.get_mut(cpu / 64) {
            *word &= !(1u64 << (cpu % 64));
        }
        (self.0.iter().any(|w| *w != 0)).then_some(self)
    }
}

/// The processor the calling thread runs on, if the C library can tell.
pub fn current_cpu() -> Option<usize> {
    // SAFETY: no arguments; -1 on failure.
    usize::try_from(unsafe { sched_getcpu() }).ok()
}

/// Let `thread` (of this process) run only on `cpus`; false if it
/// cannot be done.
pub fn run_thread_on(thread: RawPthread, cpus: &Cpus) -> bool {
    // SAFETY: a thread of this process that is never joined, so its
    // handle stays valid; the mask is as large as the size given.
    unsafe { pthread_setaffinity_np(thread, std::mem::size_of::<Cpus>(), cpus.0.as_ptr()) == 0 }
}

/// The effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid() takes no argument, cannot fail and touches no
    // memory of ours.
    unsafe { geteuid() }
}

/// What kind of file a metadata describes, for messages.
pub fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    let ft = meta.file_type();
    if ft.is_file() {
        "regular file"
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_symlink() {
        "symbolic link"
    } else if ft.is_char_device() {
        "character device"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_fifo() {
        "FIFO"
    } else if ft.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

/// The largest file klp-convert reads whole: the module, a text map
/// (System.map, kallsyms dump), a module map (compressed or not) and
/// modules.dep. A vmlinux map is read section by section and has no
/// limit but its own size.
pub const MAX_FILE: u64 = 1 << 30;

/// Why [`read_regular`] failed.
#[derive(Debug)]
pub enum ReadLimitError {
    /// open, fstat or read failed.
    Io(io::Error),
    /// The path is not a regular file (a device, FIFO, socket, directory).
    NotRegular(&'static str),
    /// The file is larger than the limit.
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
}

impl std::fmt::Display for ReadLimitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadLimitError::Io(e) => write!(f, "{e}"),
            ReadLimitError::NotRegular(kind) => {
                write!(f, "not a regular file ({kind}); refusing to read it")
            }
            ReadLimitError::TooLarge { size, limit } => write!(
                f,
                "{size} bytes, more than the {} MiB klp-convert reads",
                limit >> 20
            ),
        }
    }
}

impl From<ReadLimitError> for io::Error {
    fn from(e: ReadLimitError) -> Self {
        match e {
            ReadLimitError::Io(e) => e,
            other => io::Error::other(other.to_string()),
        }
    }
}

/// Open `path` for reading without blocking on a FIFO, and check that it
/// is a regular file no larger than `limit` bytes.
pub fn open_regular(path: &Path, limit: u64) -> Result<(File, u64), ReadLimitError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(O_NONBLOCK)
        .open(path)
        .map_err(ReadLimitError::Io)?;
    let meta = file.metadata().map_err(ReadLimitError::Io)?;
    if !meta.is_file() {
        return Err(ReadLimitError::NotRegular(file_kind(&meta)));
    }
    if meta.len() > limit {
        return Err(ReadLimitError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    Ok((file, meta.len()))
}

/// A file's bytes: mapped (read-only, private) or read into memory.
pub enum Bytes {
    /// Mapped with mmap(): `len` bytes at `ptr`.
    Mapped {
        /// The mapping.
        ptr: *mut c_void,
        /// Its length, never 0.
        len: usize,
    },
    /// Read (an empty file, or mmap() failed).
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            // SAFETY: ptr maps len readable bytes until drop; the mapping
            // is private and never written.
            Bytes::Mapped { ptr, len } => unsafe {
                std::slice::from_raw_parts(ptr.cast::<u8>(), *len)
            },
            Bytes::Owned(v) => v,
        }
    }
}

impl Drop for Bytes {
    fn drop(&mut self) {
        if let Bytes::Mapped { ptr, len } = self {
            // SAFETY: the mapping made by map_regular, unmapped once.
            unsafe { munmap(*ptr, *len) };
        }
    }
}

/// [`read_regular`], but mapping the file instead of copying it: the
/// conversion reads a module once and writes most of it back unchanged,
/// and a copy into fresh memory (page faults, clearing, copying) cost
/// more than the rest of a large conversion. Pages are mapped as they are
/// first read, by whichever thread reads them (16 at a time): mapping all
/// of them first (MAP_POPULATE) took 2.6 ms for a 46 MB module, on one
/// thread, before any other step could start. A file that shrinks while
/// it is mapped makes reads past its new end fault (SIGBUS): the handler
/// removes the temporary output and exits, nothing is written.
pub fn map_regular(path: &Path, limit: u64) -> Result<Bytes, ReadLimitError> {
    use std::os::unix::io::AsRawFd;

    let (file, len) = open_regular(path, limit)?;
    let Ok(len) = usize::try_from(len) else {
        return Err(ReadLimitError::TooLarge { size: len, limit });
    };
    if len > 0 {
        // SAFETY: a fresh read-only private mapping of an open regular
        // file; the result is checked against MAP_FAILED.
        let ptr = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                PROT_READ,
                MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr != MAP_FAILED && !ptr.is_null() {
            return Ok(Bytes::Mapped { ptr, len });
        }
    }
    drop(file);
    read_regular(path, limit).map(Bytes::Owned)
}

/// Read a regular file of at most `limit` bytes; a device, FIFO or socket
/// is refused before anything is read, and a file that grows past the
/// limit while it is read is refused too.
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, ReadLimitError> {
    let (file, len) = open_regular(path, limit)?;
    let mut data = Vec::new();
    data.try_reserve_exact(usize::try_from(len).unwrap_or(usize::MAX))
        .map_err(|e| ReadLimitError::Io(io::Error::new(io::ErrorKind::OutOfMemory, e)))?;
    file.take(limit.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(ReadLimitError::Io)?;
    if data.len() as u64 > limit {
        return Err(ReadLimitError::TooLarge {
            size: data.len() as u64,
            limit,
        });
    }
    Ok(data)
}

/// FALLOC_FL_KEEP_SIZE.
#[cfg(target_pointer_width = "64")]
const FALLOC_FL_KEEP_SIZE: c_int = 1;

/// Reserve the blocks of the first `len` bytes of `file`, new and empty,
/// which are about to be written, without changing its size: the size
/// stays what is written. Writing into reserved blocks takes ext4 a
/// third less time than allocating them page by page (16 MB in 256 KiB
/// pieces: 2.3 against 3.3 ms here). Only advice: where the file system
/// or the C library cannot, nothing is reserved, and a real failure
/// (no space) is met again, and reported, by the writes.
pub fn preallocate(file: &File, len: u64) {
    #[cfg(target_pointer_width = "64")]
    {
        use std::os::unix::io::AsRawFd;
        if let Ok(len @ 1..) = i64::try_from(len) {
            // SAFETY: an open descriptor; the call changes no memory of
            // ours, and its result is only advice.
            unsafe { fallocate(file.as_raw_fd(), FALLOC_FL_KEEP_SIZE, 0, len) };
        }
    }
    #[cfg(not(target_pointer_width = "64"))]
    let _ = (file, len);
}

/// Swap the files at `a` and `b` atomically (renameat2() with
/// RENAME_EXCHANGE): Ok(false) if the C library has no renameat2(), an
/// error if the call fails (one of them missing, a file system that
/// cannot exchange, ...).
pub fn exchange(a: &Path, b: &Path) -> io::Result<bool> {
    use std::sync::OnceLock;
    static RENAMEAT2: OnceLock<Option<Renameat2>> = OnceLock::new();
    let f = *RENAMEAT2.get_or_init(|| {
        // SAFETY: dlsym() with RTLD_DEFAULT (a null handle in glibc and
        // musl) and a NUL-terminated name only looks the symbol up.
        let p = unsafe { dlsym(std::ptr::null_mut(), c"renameat2".as_ptr()) };
        // SAFETY: a non-null renameat2 is the C library's function of
        // that name, whose type Renameat2 is (renameat2(2)).
        (!p.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, Renameat2>(p) })
    });
    let Some(f) = f else {
        return Ok(false);
    };
    let (a, b) = (
        CString::new(a.as_os_str().as_bytes())?,
        CString::new(b.as_os_str().as_bytes())?,
    );
    // SAFETY: two NUL-terminated paths that live across the call.
    if unsafe { f(AT_FDCWD, a.as_ptr(), AT_FDCWD, b.as_ptr(), RENAME_EXCHANGE) } == 0 {
        Ok(true)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The temporary file the signal handler removes (a leaked C string, or
/// null).
static TEMP_FILE: AtomicPtr<c_char> = AtomicPtr::new(std::ptr::null_mut());

/// Name the temporary file to remove if a signal ends the process; None
/// clears it. The string is leaked on purpose: a handler running on
/// another thread may still read it.
pub fn set_temp_file(path: Option<&Path>) {
    let ptr = match path.and_then(|p| CString::new(p.as_os_str().as_bytes()).ok()) {
        Some(c) => c.into_raw(),
        None => std::ptr::null_mut(),
    };
    TEMP_FILE.store(ptr, Ordering::SeqCst);
}

extern "C" fn on_signal(sig: c_int) {
    let path = TEMP_FILE.swap(std::ptr::null_mut(), Ordering::SeqCst);
    if !path.is_null() {
        // SAFETY: path came from CString::into_raw and is never freed;
        // unlink() is async-signal-safe.
        unsafe { unlink(path) };
    }
    // SAFETY: _exit() is async-signal-safe and does not return.
    unsafe { _exit(128 + sig) }
}

/// For the command line: SIGINT, SIGTERM and SIGHUP remove the temporary
/// output file and exit with 128 + the signal number; SIGXFSZ is ignored,
/// so that writing past `ulimit -f` fails with EFBIG and is reported.
pub fn install_signal_handlers() {
    let handler = on_signal as extern "C" fn(c_int) as usize;
    for sig in [SIGHUP, SIGINT, SIGTERM, SIGBUS] {
        // SAFETY: a valid signal number and a handler that only calls
        // async-signal-safe functions.
        let old = unsafe { signal(sig, handler) };
        if old == SIG_IGN {
            // Ignored by whoever started us (nohup): keep it so.
            // SAFETY: a valid signal number and SIG_IGN.
            unsafe { signal(sig, SIG_IGN) };
        }
    }
    // SAFETY: a valid signal number and SIG_IGN.
    unsafe { signal(SIGXFSZ, SIG_IGN) };
}

/// Tune the C library's allocator for a process that lives a few
/// milliseconds: blocks below 4 MiB come from its heap, not each from a
/// mapping of its own, and the heap is not given back while the process
/// runs. A block freed (a step's scratch vector, the list of annotated
/// symbols) is then reused by the next instead of being unmapped and
/// replaced by fresh pages, each a page fault and a page cleared:
/// interleaved, 81 runs, 100k relocations 7.84 -> 7.50 ms (300k: 14.9 ->
/// 14.3, 1M: 36.5 -> 34.0), for 0.3 MiB more at the peak. glibc's
/// M_MMAP_THRESHOLD and M_TRIM_THRESHOLD; other C libraries keep their
/// defaults.
pub fn tune_allocator() {
    #[cfg(target_env = "gnu")]
    {
        const M_TRIM_THRESHOLD: c_int = -1;
        const M_MMAP_THRESHOLD: c_int = -3;
        // SAFETY: mallopt() only sets allocator parameters, before this
        // process has made a thread; a value it refuses changes nothing.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 4 << 20);
            mallopt(M_TRIM_THRESHOLD, 16 << 20);
        }
    }
}

/// A huge page, as transparent huge pages come on every architecture
/// [`MADV_HUGEPAGE`] is given on.
const HUGE_PAGE: usize = 2 << 20;

/// The allocator: the C library's, but a block that can hold a huge page
/// (the symbol table's entries, the moves of a large conversion) starts
/// at one, and the whole huge pages it holds are advised with
/// MADV_HUGEPAGE. A page of fresh memory costs a page fault, and a large
/// conversion touches tens of megabytes: on a virtual machine that is
/// 1.5 us for each 4 KiB page against 50 us for each 2 MiB one. The rest
/// of a block keeps small pages, so that no more memory is touched than
/// before. Where transparent huge pages are off, the advice changes
/// nothing.
pub struct Alloc;

/// The layout a block of `layout` is allocated with: huge-page aligned
/// if it can hold a huge page, None for a block that cannot.
fn huge(layout: Layout) -> Option<Layout> {
    if layout.size() < HUGE_PAGE || layout.align() > HUGE_PAGE {
        return None;
    }
    Layout::from_size_align(layout.size(), HUGE_PAGE).ok()
}

/// Ask for huge pages for the whole ones among the `len` bytes at `ptr`,
/// huge-page aligned.
fn advise(ptr: *mut u8, len: usize) {
    if let Some(advice) = MADV_HUGEPAGE {
        // SAFETY: ptr and len describe (part of) a block just allocated
        // to us; madvise() with MADV_HUGEPAGE changes no contents, and a
        // failure (no huge page support) changes nothing.
        unsafe { madvise(ptr.cast(), len - len % HUGE_PAGE, advice) };
    }
}

// SAFETY: every block comes from System with the layout it is returned
// with: one that can hold a huge page always with its huge() layout,
// whichever call made or resized it.
unsafe impl GlobalAlloc for Alloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some(h) = huge(layout) else {
            // SAFETY: the caller's layout, as GlobalAlloc::alloc requires.
            return unsafe { System.alloc(layout) };
        };
        // SAFETY: a layout of non-zero size.
        let ptr = unsafe { System.alloc(h) };
        if !ptr.is_null() {
            advise(ptr, h.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if huge(layout).is_none() {
            // SAFETY: the caller's layout, as GlobalAlloc::alloc_zeroed
            // requires.
            return unsafe { System.alloc_zeroed(layout) };
        }
        // Advised before it is cleared, so that the pages cleared are
        // huge ones.
        // SAFETY: the caller's layout; the block holds layout.size()
        // bytes.
        unsafe {
            let ptr = self.alloc(layout);
            if !ptr.is_null() {
                std::ptr::write_bytes(ptr, 0, layout.size());
            }
            ptr
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr was allocated with this layout, or with its huge()
        // one if it has one (alloc and realloc use it for every such
        // block).
        unsafe { System.dealloc(ptr, huge(layout).unwrap_or(layout)) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        if huge(layout).is_none() && huge(new).is_none() {
            // SAFETY: a block without a huge page before or after:
            // System's, resized as GlobalAlloc::realloc requires.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: new_size is not zero (GlobalAlloc::realloc); both
        // blocks hold the bytes copied; the old block goes with its own
        // layout.
        unsafe {
            let to = self.alloc(new);
            if !to.is_null() {
                std::ptr::copy_nonoverlapping(ptr, to, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            to
        }
    }
}
