// SPDX-License-Identifier: GPL-2.0-only
//! The few C library calls std does not offer, declared here rather than
//! through the libc crate: geteuid(), signal(), unlink(), _exit(), mmap()
//! and munmap(), plus the bounded, non-blocking way every file is read.
//!
//! Every `unsafe` block is one call into the C library with arguments
//! that are valid by construction; each says why.

use std::ffi::{c_char, c_int, c_void, CString};
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
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
}

const PROT_READ: c_int = 1;
const MAP_PRIVATE: c_int = 2;
/// MAP_POPULATE where its value is the generic one; elsewhere pages are
/// faulted in as they are read.
const MAP_POPULATE: c_int = if cfg!(any(
    target_arch = "x86_64",
    target_arch = "x86",
    target_arch = "aarch64",
    target_arch = "arm",
    target_arch = "powerpc64",
    target_arch = "s390x",
    target_arch = "riscv64",
    target_arch = "loongarch64"
)) {
    0x8000
} else {
    0
};
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
/// more than the rest of a large conversion. A file that shrinks while it
/// is mapped makes reads past its new end fault (SIGBUS): the handler
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
                MAP_PRIVATE | MAP_POPULATE,
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
