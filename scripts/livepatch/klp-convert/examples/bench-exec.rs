// SPDX-License-Identifier: GPL-2.0-only
//! Run one command and print its wall time and peak RSS, for bench/run-bench.
//!
//! Usage: bench-exec CMD [ARGS...]
//!
//! Prints `<wall nanoseconds> <peak RSS KiB>` on standard output; the
//! command's standard output is discarded, its standard error passed on.
//! Exits with the command's status (128 + signal if it was killed).
//!
//! Why a launcher: a process forked from a large parent (the Python
//! benchmark) inherits the parent's resident set, and Linux carries that
//! high-water mark across exec into ru_maxrss. This launcher is small, so
//! the peak RSS of the child it forks is the command's own.

use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

/// struct rusage of Linux (LP64): two timevals, then 14 longs.
#[repr(C)]
struct Rusage {
    utime: [i64; 2],
    stime: [i64; 2],
    maxrss: i64,
    rest: [i64; 13],
}

extern "C" {
    fn getrusage(who: i32, usage: *mut Rusage) -> i32;
}

const RUSAGE_CHILDREN: i32 = -1;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprintln!("Usage: bench-exec CMD [ARGS...]");
        return ExitCode::from(2);
    };
    let start = Instant::now();
    let status = match Command::new(cmd).args(rest).stdout(Stdio::null()).status() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bench-exec: cannot run {cmd}: {e}");
            return ExitCode::from(127);
        }
    };
    let wall = start.elapsed();
    let mut usage = Rusage {
        utime: [0; 2],
        stime: [0; 2],
        maxrss: 0,
        rest: [0; 13],
    };
    // SAFETY: getrusage writes one struct rusage, whose LP64 layout Rusage
    // reproduces; the only child was reaped by status() above.
    if unsafe { getrusage(RUSAGE_CHILDREN, &mut usage) } != 0 {
        eprintln!("bench-exec: getrusage failed");
        return ExitCode::from(125);
    }
    println!("{} {}", wall.as_nanos(), usage.maxrss);
    match status.code() {
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => {
            use std::os::unix::process::ExitStatusExt;
            let sig = status.signal().unwrap_or(0);
            ExitCode::from(u8::try_from(128 + sig).unwrap_or(255))
        }
    }
}
