// SPDX-License-Identifier: GPL-2.0-only
//! klp-convert --modpost around a stand-in modpost that records how it is
//! called: the livepatch module's plain references reach modpost as one
//! more Module.symvers input, removed afterwards; a plain module that
//! references one of them fails before modpost runs; without plain
//! references modpost runs with its arguments untouched; the module list
//! on standard input (6.1's `-T -`) is passed on.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

/// A modpost that saves its arguments, its standard input and each -i
/// file it is given, then exits with $MODPOST_STATUS.
const FAKE: &str = r#"#!/bin/sh
d=$(dirname "$0")
printf '%s\n' "$@" >"$d/args"
cat >"$d/stdin"
: >"$d/dumps"
while [ $# -gt 0 ]; do
	if [ "$1" = -i ]; then cat "$2" >>"$d/dumps"; shift; fi
	shift
done
exit "${MODPOST_STATUS:-0}"
"#;

fn setup(dir: &Path) {
    let fake = dir.join("modpost");
    fs::write(&fake, FAKE).unwrap();
    Command::new("chmod").arg("+x").arg(&fake).status().unwrap();
    fs::write(
        dir.join("Module.symvers.in"),
        "0x1\tprintk\tvmlinux\tEXPORT_SYMBOL\t\n",
    )
    .unwrap();
}

fn modpost(dir: &Path, list: &str, extra: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_klp-convert"));
    cmd.current_dir(dir)
        .arg("--modpost")
        .arg(dir.join("modpost"))
        .args(["-o", "Module.symvers", "-i", "Module.symvers.in", "-T", "-"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(list.as_bytes())
            .unwrap();
    }
    child.wait_with_output().unwrap().into()
}

#[test]
fn livepatch_modules_pass_others_still_fail() {
    let dir = scratch("modpost");
    setup(&dir);
    // The .o files modpost reads, named as modules.order names them.
    build_module(
        &dir,
        "lp",
        &format!(
            "{MODINFO_LIVEPATCH}extern int hidden(void); extern int shared(void);\n\
             int f(void) {{ return hidden() + shared() + printk(\"x\"); }}\n"
        ),
    );
    build_module(
        &dir,
        "plain",
        "int shared(void) { return 1; }\nint g(void) { return printk(\"y\"); }\n",
    );
    build_module(
        &dir,
        "bad",
        "extern int hidden(void);\nint h(void) { return hidden(); }\n",
    );

    // The livepatch's hidden() is listed; shared() is defined by a module
    // of the run and printk() exported, so neither is.
    let r = modpost(&dir, "lp.ko\nplain.ko\n", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        fs::read_to_string(dir.join("dumps")).unwrap(),
        "0x00000000\thidden\tvmlinux\tEXPORT_SYMBOL_GPL\t\n0x1\tprintk\tvmlinux\tEXPORT_SYMBOL\t\n"
    );
    assert_eq!(
        fs::read_to_string(dir.join("stdin")).unwrap(),
        "lp.ko\nplain.ko\n"
    );
    let args = fs::read_to_string(dir.join("args")).unwrap();
    assert!(args.starts_with("-i\n"), "{args}");
    assert!(
        args.ends_with("-o\nModule.symvers\n-i\nModule.symvers.in\n-T\n-\n"),
        "{args}"
    );
    let leftovers: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".klp-convert"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // A module that is not a livepatch keeps modpost's rule.
    fs::remove_file(dir.join("args")).unwrap();
    let r = modpost(&dir, "lp.ko\nbad.ko\n", &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("ERROR: modpost: \"hidden\" [bad.ko] undefined!"),
        "{}",
        r.stderr
    );
    assert!(!dir.join("args").exists(), "modpost ran");
    // With KBUILD_MODPOST_WARN (-w) it is a warning, as in modpost.
    let r = modpost(&dir, "lp.ko\nbad.ko\n", &["-w"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("WARNING: modpost: \"hidden\" [bad.ko]"),
        "{}",
        r.stderr
    );

    // Nothing to let through: modpost alone, arguments untouched, and its
    // exit status is ours.
    let r = modpost(&dir, "plain.ko\n", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        fs::read_to_string(dir.join("args")).unwrap(),
        "-o\nModule.symvers\n-i\nModule.symvers.in\n-T\n-\n"
    );
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_klp-convert"));
    let out = cmd
        .current_dir(&dir)
        .env("MODPOST_STATUS", "3")
        .arg("--modpost")
        .arg(dir.join("modpost"))
        .args(["-T", "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    // No Module.symvers read: exports unknown, nothing let through.
    let out = Command::new(env!("CARGO_BIN_EXE_klp-convert"))
        .current_dir(&dir)
        .arg("--modpost")
        .arg(dir.join("modpost"))
        .args(["-i", "absent.symvers", "-T", "-"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    fs::write(dir.join("list"), "lp.o\nbad.o\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_klp-convert"))
        .current_dir(&dir)
        .arg("--modpost")
        .arg(dir.join("modpost"))
        .args(["-T", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(fs::read_to_string(dir.join("args")).unwrap(), "-T\nlist\n");
    // An unreadable module is an error naming it.
    let r = modpost(&dir, "missing.ko\n", &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("missing.o"), "{}", r.stderr);
}
