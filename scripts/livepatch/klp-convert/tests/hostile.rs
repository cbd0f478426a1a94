// SPDX-License-Identifier: GPL-2.0-only
//! Hostile paths, maps and signals (issue 12): nothing replaced that is
//! not ours, bounded memory, deterministic results. Each test names the
//! item of the issue it covers.

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::process::CommandExt;
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

extern "C" {
    fn signal(sig: i32, handler: usize) -> usize;
}
const SIG_DFL: usize = 0;

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
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_klp-convert"));
        // A test runner started in the background (CI, "cmd &") passes
        // SIGINT ignored, and the tool rightly keeps an ignored signal
        // ignored: give the child the default disposition.
        // SAFETY: signal() is async-signal-safe and touches no memory of
        // the forked child's.
        unsafe {
            cmd.pre_exec(move || {
                signal(sig, SIG_DFL);
                Ok(())
            });
        }
        let mut child = cmd
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
    let dir = scratch("hostile-fsize");
    let input = dir.join("in.ko");
    // Larger than the 1 KiB limit below.
    fs::copy(golden("ppc64le"), &input).unwrap();
    let output = dir.join("out.ko");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -f 1 && exec \"$0\" \"$1\" \"$2\"")
        .arg(env!("CARGO_BIN_EXE_klp-convert"))
        .arg(&input)
        .arg(&output);
    // The default action of SIGXFSZ, whatever the test runner inherited
    // (cargo may run tests with it ignored, and a shell cannot reset a
    // signal ignored on entry).
    extern "C" {
        fn signal(signum: i32, handler: usize) -> usize;
    }
    // SAFETY: pre_exec runs in the child between fork and exec; signal()
    // is async-signal-safe, with a valid signal number (SIGXFSZ, 25 on
    // the architectures the tests run on) and SIG_DFL (0).
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            signal(25, 0);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
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

/// A relocatable module `name`.ko linked from one object per source.
fn link_module(dir: &Path, name: &str, sources: &[&str]) -> PathBuf {
    let mut objs = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        objs.push(build_module(dir, &format!("{name}-part{i}"), src));
    }
    let ko = dir.join(format!("{name}.ko"));
    let ok = Command::new("ld")
        .arg("-r")
        .arg("-o")
        .arg(&ko)
        .args(&objs)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ld -r");
    ko
}

/// A livepatch module with one annotation per symbol, of the patched
/// module, the position left to the map (`.klp.sym.rela.<p>.<p>.<s>,*`).
fn inferring_patch(dir: &Path, name: &str, patched: &str, syms: &[&str]) -> PathBuf {
    let mut src = format!(
        "{MODINFO_LIVEPATCH}#define KLP_SYMBOL(p, s) asm(\"\\\".klp.sym.rela.\" #p \".\" #p \".\" #s \",*\\\"\") \
         __attribute__((weak))\n"
    );
    for s in syms {
        src.push_str(&format!(
            "extern int {s}(int) KLP_SYMBOL({patched}, {s});\n"
        ));
    }
    src.push_str("void *table[] = {");
    for s in syms {
        src.push_str(&format!(" (void *){s},"));
    }
    src.push_str(" 0 };\n");
    build_module(dir, name, &src)
}

/// Item 4: a partly stale modules.dep (entries for missing files, a
/// module moved since, a copy of the target put in updates/ after depmod)
/// gives the same answer in every run: modprobe's.
#[test]
fn item4_module_tree_lookup_is_deterministic() {
    if !require_tool("gcc", "gcc") {
        return;
    }
    let dir = scratch("hostile-tree");
    let root = dir.join("lib/modules/6.99");
    let drivers = root.join("kernel/drivers");
    let updates = root.join("updates");
    let moved = root.join("kernel/moved");
    for d in [&drivers, &updates, &moved] {
        fs::create_dir_all(d).unwrap();
    }
    let name = |n: &str| {
        format!(
            "static const char n[] __attribute__((section(\".modinfo\"), used)) = \"name={n}\";\n"
        )
    };
    // The one modules.dep names: helper once.
    let tgt = link_module(
        &dir,
        "tgt",
        &[&format!(
            "int helper(int x) {{ return x; }}\n{}",
            name("tgt")
        )],
    );
    fs::copy(&tgt, drivers.join("tgt.ko")).unwrap();
    // The copy in updates/, unknown to modules.dep: helper twice.
    let newer = link_module(
        &dir,
        "tgt-newer",
        &[
            &format!(
                "static int helper(int x) {{ return x; }} int (*a)(int) = helper;\n{}",
                name("tgt")
            ),
            "static int helper(int x) { return x + 1; } int (*b)(int) = helper;\n",
        ],
    );
    fs::copy(&newer, updates.join("tgt.ko")).unwrap();
    // Moved since depmod ran.
    let gone = link_module(
        &dir,
        "gone",
        &[&format!(
            "int gone_fn(int x) {{ return x; }}\n{}",
            name("gone")
        )],
    );
    fs::copy(&gone, moved.join("gone.ko")).unwrap();
    let mut dep = String::new();
    for i in 0..30 {
        // Half of them exist.
        if i % 2 == 0 {
            fs::copy(&gone, drivers.join(format!("m{i}.ko"))).unwrap();
        }
        dep.push_str(&format!("kernel/drivers/m{i}.ko:\n"));
    }
    dep.push_str("kernel/drivers/tgt.ko:\nkernel/drivers/gone.ko:\n");
    fs::write(root.join("modules.dep"), dep).unwrap();

    let p1 = inferring_patch(&dir, "p1", "tgt", &["helper"]);
    let p2 = inferring_patch(&dir, "p2", "gone", &["gone_fn"]);
    for run in 0..12 {
        for (patch, want) in [
            (&p1, ".klp.sym.tgt.helper,0"),
            (&p2, ".klp.sym.gone.gone_fn,0"),
        ] {
            let out = dir.join("out.ko");
            let r = klp_convert(&[
                "-v".as_ref(),
                "-s".as_ref(),
                root.as_os_str(),
                patch.as_os_str(),
                out.as_os_str(),
            ]);
            assert_eq!(r.code, 0, "run {run}: {}", r.stderr);
            assert!(r.stdout.contains(want), "run {run}: {}", r.stdout);
        }
    }
}

/// Item 5: a map that fails to load is read once and its error reported
/// once, not once per annotation.
#[test]
fn item5_failed_map_is_reported_once() {
    if !require_tool("gcc", "gcc") || !require_tool("zstd", "zstd") {
        return;
    }
    let dir = scratch("hostile-once");
    let syms: Vec<String> = (0..40).map(|i| format!("f{i}")).collect();
    let refs: Vec<&str> = syms.iter().map(|s| s.as_str()).collect();
    let patch = inferring_patch(&dir, "many", "tgt", &refs);
    // A zstd file whose contents are not a module.
    let bad = dir.join("tgt.ko.zst");
    let ok = Command::new("sh")
        .arg("-c")
        .arg("echo 'not a module' | zstd -q -c > \"$0\"")
        .arg(&bad)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let out = dir.join("out.ko");
    let r = klp_convert(&[
        "-s".as_ref(),
        bad.as_os_str(),
        patch.as_os_str(),
        out.as_os_str(),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let mentions = r.stderr.matches("not an ELF file").count();
    assert_eq!(mentions, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("39 more annotation(s) need the symbol map that failed above"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
}

/// Item 9: one unreadable subdirectory of a module tree does not fail the
/// annotations of modules found elsewhere; a module not found names it.
/// Root reads any directory, so as root the run drops to nobody.
#[test]
fn item9_unreadable_subdirectory_is_skipped() {
    if !require_tool("gcc", "gcc") {
        return;
    }
    let uid = Command::new("id").arg("-u").output().unwrap();
    let root_user = String::from_utf8_lossy(&uid.stdout).trim() == "0";
    if root_user && !have_tool("setpriv") {
        eprintln!("SKIP: needs setpriv to drop root");
        return;
    }
    let dir = scratch("hostile-unreadable");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    let tree = dir.join("tree");
    let kernel = tree.join("kernel");
    let locked = tree.join("kernel/locked");
    fs::create_dir_all(&locked).unwrap();
    let tgt = link_module(
        &dir,
        "tgt",
        &["int helper(int x) { return x; }\n\
           static const char n[] __attribute__((section(\".modinfo\"), used)) = \"name=tgt\";\n"],
    );
    fs::copy(&tgt, kernel.join("tgt.ko")).unwrap();
    fs::copy(&tgt, locked.join("hidden.ko")).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
    let ok_patch = inferring_patch(&dir, "ok", "tgt", &["helper"]);
    let hidden_patch = inferring_patch(&dir, "hid", "hidden", &["helper"]);
    let run_as_user = |patch: &Path, out: &Path| -> Run {
        let mut cmd = if root_user {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(env!("CARGO_BIN_EXE_klp-convert"));
            c
        } else {
            Command::new(env!("CARGO_BIN_EXE_klp-convert"))
        };
        cmd.arg("-v")
            .arg("-s")
            .arg(&tree)
            .arg(patch)
            .arg(out)
            .output()
            .unwrap()
            .into()
    };
    let r = run_as_user(&ok_patch, &dir.join("ok.out.ko"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(".klp.sym.tgt.helper,0"), "{}", r.stdout);
    assert!(
        r.stdout.contains("locked: Permission denied"),
        "{}",
        r.stdout
    );
    let r = run_as_user(&hidden_patch, &dir.join("hid.out.ko"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("module hidden not found")
            && r.stderr.contains("could not be read")
            && r.stderr.contains("kernel/locked"),
        "{}",
        r.stderr
    );
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Item 6: alignments valid one by one but large together (every section
/// aligned to 64 KiB) used to pad the output to megabytes (an 11 MB module
/// became 2.1 GB); the total is bounded.
#[test]
fn item6_total_alignment_padding_is_bounded() {
    if !require_tool("gcc", "gcc") {
        return;
    }
    let dir = scratch("hostile-align");
    let mut src = format!(
        "{MODINFO_LIVEPATCH}extern int target(int) KLP_RELOC_SYMBOL(vmlinux, vmlinux, target);\n"
    );
    for i in 0..40 {
        src.push_str(&format!(
            "__attribute__((section(\".text.f{i}\"))) int f{i}(int x) {{ return target(x) + {i}; }}\n"
        ));
    }
    let ko = build_module(&dir, "many", &src);
    let mut data = fs::read(&ko).unwrap();
    let m = Module::parse(&data).unwrap();
    let (shoff, entsize, n) = (m.shoff as usize, m.shentsize as usize, m.sections.len());
    assert!(m.is_64 && !m.big_endian && n > 40);
    for i in 1..n {
        let at = shoff + i * entsize + 48;
        data[at..at + 8].copy_from_slice(&(1u64 << 16).to_le_bytes());
    }
    let input = dir.join("aligned.ko");
    fs::write(&input, &data).unwrap();
    let out = dir.join("out.ko");
    let r = klp_convert(&[input.as_os_str(), out.as_os_str()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("the section alignments add up to"),
        "{}",
        r.stderr
    );
    assert!(!out.exists());
    assert_eq!(fs::read(&input).unwrap(), data);
}

/// Item 9: floods are capped: a name with thousands of duplicates lists
/// 20 choices, a module with hundreds of errors prints 100; bytes of a map
/// such as escape codes are escaped, never sent to the terminal raw.
#[test]
fn item9_floods_are_capped_and_control_bytes_escaped() {
    if !require_tool("gcc", "gcc") {
        return;
    }
    let dir = scratch("hostile-flood");
    let mut dump = String::from("ffffffff81000000 T _stext\n");
    for i in 0..5000u64 {
        dump.push_str(&format!(
            "{:016x} t c_start\n",
            0xffff_ffff_8100_1000u64 + i * 16
        ));
    }
    dump.push_str("ffffffff82000000 t lonely.\x1b[2J\x1b]0;pwned\x07\n");
    let map = dir.join("kallsyms");
    fs::write(&map, dump).unwrap();
    let out = dir.join("out.ko");

    let dup = build_module(
        &dir,
        "dup",
        &format!(
            "{MODINFO_LIVEPATCH}extern int c_start(int) KLP_RELOC_SYMBOL(vmlinux, vmlinux, c_start);\n\
             extern int lonely(int) KLP_RELOC_SYMBOL(vmlinux, vmlinux, lonely);\n\
             void *t[] = {{ c_start, lonely }};\n"
        ),
    );
    let r = klp_convert(&[
        "-s".as_ref(),
        map.as_os_str(),
        dup.as_os_str(),
        out.as_os_str(),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("... and 4980 more symbols named c_start in vmlinux (positions 21 to 5000)"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.len() < 20_000,
        "{} bytes of errors",
        r.stderr.len()
    );
    assert!(
        !r.stderr.contains('\x1b') && !r.stderr.contains('\x07'),
        "raw control bytes: {:?}",
        r.stderr
    );
    assert!(
        r.stderr.contains("lonely.\\x1b[2J\\x1b]0;pwned\\x07"),
        "{}",
        r.stderr
    );

    let syms: Vec<String> = (0..300).map(|i| format!("missing{i}")).collect();
    let refs: Vec<&str> = syms.iter().map(|s| s.as_str()).collect();
    let many = inferring_patch(&dir, "many", "vmlinux", &refs);
    let r = klp_convert(&[
        "-s".as_ref(),
        map.as_os_str(),
        many.as_os_str(),
        out.as_os_str(),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let shown = r.stderr.matches(": error: symbol .klp.sym.rela.").count();
    assert_eq!(shown, 100, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("... and 200 more problem(s) not shown (200 error(s), 0 warning(s))"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("300 error(s), nothing written"),
        "{}",
        r.stderr
    );
}

/// Item 10: a closed standard output (`klp-convert -l m.ko | head -1`)
/// ends the run quietly, without a panic.
#[test]
fn item10_closed_stdout_is_not_a_panic() {
    for args in [
        vec!["-l".to_string(), golden("x86_64").display().to_string()],
        vec!["--help".to_string()],
        vec!["--version".to_string()],
    ] {
        // A socket whose other end is closed before the tool starts:
        // every write fails with EPIPE, as into a pipe `head` closed.
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().unwrap();
        drop(ours);
        let out = Command::new(env!("CARGO_BIN_EXE_klp-convert"))
            .args(&args)
            .stdout(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "{args:?}: {stderr}"
        );
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(141), "{args:?}");
    }
}

/// Item 2: a symbolic link another user planted in a sticky
/// world-writable directory is not followed by a root run (its target,
/// here a file of root's, used to be overwritten). Needs root.
#[test]
fn item2_planted_link_is_not_followed() {
    use std::os::unix::fs::{lchown, symlink};
    let uid = Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        eprintln!("SKIP: item2_planted_link_is_not_followed needs root");
        return;
    }
    let dir = scratch("hostile-sticky");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).unwrap();
    let victim = dir.join("shadow");
    fs::write(&victim, b"precious").unwrap();
    let planted = dir.join("out.ko");
    symlink(&victim, &planted).unwrap();
    lchown(&planted, Some(54321), Some(54321)).unwrap();
    let r = klp_convert(&[golden("x86_64").as_os_str(), planted.as_os_str()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("refusing to follow symbolic link")
            && r.stderr.contains("fs.protected_symlinks"),
        "{}",
        r.stderr
    );
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    assert!(tmp_files(&dir).is_empty());
}
