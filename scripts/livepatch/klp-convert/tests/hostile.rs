// SPDX-License-Identifier: GPL-2.0-only
//! Hostile paths, maps and signals (issue 12): nothing replaced that is
//! not ours, bounded memory, deterministic results. Each test names the
//! item of the issue it covers.

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn golden(arch: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{arch}.ko"))
}

fn tmp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "mkfifo {}", path.display());
}

/// Item 1: a FIFO (or device) as OUT is refused even when there is
/// nothing to convert (the unchanged-copy path), and left as it was.
#[test]
fn item1_special_output_is_refused_on_the_copy_path() {
    let dir = scratch("hostile-out");
    let input = dir.join("plain.ko");
    // Already converted: nothing to convert, copied to OUT.
    let r = klp_convert(&[golden("x86_64").as_os_str(), input.as_os_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let fifo = dir.join("fifo");
    mkfifo(&fifo);
    let r = klp_convert(&[input.as_os_str(), fifo.as_os_str()]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("refusing to replace") && r.stderr.contains("a FIFO"),
        "{}",
        r.stderr
    );
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(tmp_files(&dir).is_empty());
    // --dry-run writes nothing, so it has nothing to refuse.
    let r = klp_convert(&[
        "--dry-run".as_ref(),
        input.as_os_str(),
        fifo.as_os_str(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
}

/// Item 8: the temporary file is created 0600 and removed when a signal
/// ends the run, which exits with 128 + the signal number.
#[test]
fn item8_signals_remove_the_temporary_file() {
    let dir = scratch("hostile-signal");
    let input = dir.join("in.ko");
    fs::copy(golden("x86_64"), &input).unwrap();
    fs::set_permissions(&input, fs::Permissions::from_mode(0o644)).unwrap();
    for (sig, name) in [(15, "TERM"), (2, "INT"), (1, "HUP")] {
        let output = dir.join(format!("out-{name}.ko"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_klp-convert"))
            .arg(&input)
            .arg(&output)
            .env("KLP_CONVERT_TEST_HOLD_TEMP_MS", "10000")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        let temp = loop {
            if let Some(t) = tmp_files(&dir).first() {
                break dir.join(t);
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "no temporary file appeared"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        // Written, not yet given the input's mode (0644).
        let mode = fs::metadata(&temp).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let killed = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(killed.success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(128 + sig), "SIG{name}: {status}");
        assert!(tmp_files(&dir).is_empty(), "SIG{name}: temporary file left");
        assert!(!output.exists());
    }
}

/// Item 8: `ulimit -f` makes the write fail with EFBIG, which is reported
/// (SIGXFSZ used to kill the tool without a word), and nothing is left.
#[test]
fn item8_file_size_limit_is_reported() {
    if !have_tool("sh") {
        return;
    }
    let dir = scratch("hostile-fsize");
    let input = dir.join("in.ko");
    // Larger than the 1 KiB limit below.
    fs::copy(golden("ppc64le"), &input).unwrap();
    let output = dir.join("out.ko");
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -f 1 && exec \"$0\" \"$1\" \"$2\"")
        .arg(env!("CARGO_BIN_EXE_klp-convert"))
        .arg(&input)
        .arg(&output)
        .output()
        .unwrap();
    let r = Run::from(out);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot write") && r.stderr.contains("File too large"),
        "{}",
        r.stderr
    );
    assert!(!output.exists());
    assert!(tmp_files(&dir).is_empty());
}
