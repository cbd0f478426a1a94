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
    let r = klp_convert(&["--dry-run".as_ref(), input.as_os_str(), fifo.as_os_str()]);
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

/// Run the binary with `args`, killing it after `secs` seconds (None).
fn run_bounded<S: AsRef<std::ffi::OsStr>>(
    args: &[S],
    env: &[(&str, &str)],
    secs: u64,
) -> Option<Run> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_klp-convert"));
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return Some(child.wait_with_output().unwrap().into());
        }
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Module tgt, defining helper, and a patch annotating it.
fn target_and_patch(dir: &Path) -> (PathBuf, PathBuf) {
    let tgt = build_module(
        dir,
        "tgt",
        "int helper(int x) { return x + 1; }\n\
         static const char n[] __attribute__((section(\".modinfo\"), used)) = \"name=tgt\";\n",
    );
    let patch = build_module(
        dir,
        "patch",
        &format!(
            "{MODINFO_LIVEPATCH}extern int helper(int) KLP_RELOC_SYMBOL(tgt, tgt, helper);\n\
             int patched(int x) {{ return helper(x); }}\n"
        ),
    );
    (tgt, patch)
}

/// Peak RSS in KiB of a run, where /usr/bin/time exists.
fn peak_rss_kib<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Option<(u64, Run)> {
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        return None;
    }
    let out = Command::new(time)
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_klp-convert"))
        .args(args)
        .output()
        .unwrap();
    let r = Run::from(out);
    let kib = r
        .stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())?;
    Some((kib, r))
}

/// Item 3: a compressed map is decompressed through a bounded reader:
/// 300 MiB of zeros (a few KiB of zstd) stop at the 64 MiB floor instead
/// of being read whole into memory.
#[test]
fn item3_decompression_bomb_is_bounded() {
    if !require_tool("gcc", "gcc") || !require_tool("zstd", "zstd") {
        return;
    }
    let dir = scratch("hostile-bomb");
    let (_, patch) = target_and_patch(&dir);
    let bomb = dir.join("tgt.ko.zst");
    let ok = Command::new("sh")
        .arg("-c")
        .arg("head -c 314572800 /dev/zero | zstd -q -1 -c > \"$0\"")
        .arg(&bomb)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let out = dir.join("out.ko");
    let args = [
        "--symbols".as_ref(),
        bomb.as_os_str(),
        patch.as_os_str(),
        out.as_os_str(),
    ];
    let r = klp_convert(&args);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("decompresses to more than 64 MiB"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
    if let Some((kib, r)) = peak_rss_kib(&args) {
        assert!(kib < 200 * 1024, "peak RSS {kib} KiB\n{}", r.stderr);
    }
}

/// Item 3: the decompressor comes from /usr/bin or /bin, not from PATH,
/// and the map's path never reaches its command line (a file named like
/// an option used to be taken as one).
#[test]
fn item3_decompressor_is_not_taken_from_path() {
    if !require_tool("gcc", "gcc") || !require_tool("gzip", "gzip") {
        return;
    }
    let dir = scratch("hostile-path");
    let (tgt, patch) = target_and_patch(&dir);
    let map = dir.join("--version.ko.gz");
    let ok = Command::new("sh")
        .arg("-c")
        .arg("gzip -c < \"$0\" > \"$1\"")
        .arg(&tgt)
        .arg(&map)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let fake = dir.join("fake-bin");
    fs::create_dir(&fake).unwrap();
    let marker = dir.join("fake-ran");
    for tool in ["gzip", "xz", "zstd"] {
        let p = fake.join(tool);
        fs::write(
            &p,
            format!("#!/bin/sh\ntouch '{}'\nexit 1\n", marker.display()),
        )
        .unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        fake.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = dir.join("out.ko");
    let r = run_bounded(
        &[
            "-v".as_ref(),
            "--symbols".as_ref(),
            map.as_os_str(),
            patch.as_os_str(),
            out.as_os_str(),
        ],
        &[("PATH", &path)],
        60,
    )
    .expect("finishes");
    assert!(!marker.exists(), "a decompressor was taken from PATH");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("-> .klp.sym.tgt.helper,0"),
        "{}",
        r.stdout
    );
}

/// Item 7: a FIFO, /dev/zero or an oversized file as input or map is
/// refused before it is read: no hang, no unbounded read.
#[test]
fn item7_special_and_huge_files_are_refused() {
    let dir = scratch("hostile-special-in");
    let fifo = dir.join("fifo");
    mkfifo(&fifo);
    let huge = dir.join("huge.ko");
    fs::File::create(&huge)
        .unwrap()
        .set_len((1 << 30) + 1)
        .unwrap();
    let out = dir.join("out.ko");
    let module = golden("x86_64");
    let zero = Path::new("/dev/zero");
    let cases: Vec<(Vec<&std::ffi::OsStr>, &str)> = vec![
        (
            vec![fifo.as_os_str(), out.as_os_str()],
            "not a regular file (FIFO)",
        ),
        (
            vec![zero.as_os_str(), out.as_os_str()],
            "not a regular file (character device)",
        ),
        (
            vec![huge.as_os_str(), out.as_os_str()],
            "1073741825 bytes, more than the 1024 MiB",
        ),
        (
            vec![
                "-s".as_ref(),
                zero.as_os_str(),
                module.as_os_str(),
                out.as_os_str(),
            ],
            "not a regular file (character device)",
        ),
        (
            vec![
                "-s".as_ref(),
                fifo.as_os_str(),
                module.as_os_str(),
                out.as_os_str(),
            ],
            "not a regular file (FIFO)",
        ),
    ];
    for (args, want) in cases {
        let r = run_bounded(&args, &[], 20).unwrap_or_else(|| panic!("{args:?} hangs"));
        assert_eq!(r.code, 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(want), "{args:?}: {}", r.stderr);
        assert!(!out.exists());
    }
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
}
