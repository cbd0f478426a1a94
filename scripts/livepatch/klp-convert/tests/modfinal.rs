// SPDX-License-Identifier: GPL-2.0-only
//! --modfinal: the one converter process of a Kbuild modfinal run.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use common::*;

const LP: &str = r#"
extern char *saved_command_line KLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);
int patched(void) { return printk("%s\n", saved_command_line); }
"#;

const PLAIN: &str = "int f(void) { return printk(\"x\"); }\n";

#[test]
fn converts_livepatch_modules_only() {
    let dir = scratch("modfinal");
    let lp = build_module(&dir, "lp", &format!("{MODINFO_LIVEPATCH}{LP}"));
    let plain = build_module(&dir, "plain", PLAIN);
    let plain_before = fs::read(&plain).unwrap();
    let plain_ino = fs::metadata(&plain).unwrap().ino();

    let r = klp_convert(&["--modfinal".as_ref(), plain.as_os_str(), lp.as_os_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // One Kbuild-style line, for the livepatch module only.
    assert_eq!(r.stdout, format!("  KLP [M] {}\n", lp.display()));
    assert_eq!(check_converted(&fs::read(&lp).unwrap()), 1);
    // The plain module is not written at all.
    assert_eq!(fs::read(&plain).unwrap(), plain_before);
    assert_eq!(fs::metadata(&plain).unwrap().ino(), plain_ino);

    // Converted modules pass again without a line; --quiet prints nothing.
    let r = klp_convert(&["--modfinal".as_ref(), lp.as_os_str()]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
    let lp2 = build_module(&dir, "lp2", &format!("{MODINFO_LIVEPATCH}{LP}"));
    let r = klp_convert(&["--modfinal".as_ref(), "--quiet".as_ref(), lp2.as_os_str()]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{}", r.stderr);
    assert_eq!(check_converted(&fs::read(&lp2).unwrap()), 1);
}

#[test]
fn deletes_a_module_that_fails_and_goes_on() {
    let dir = scratch("modfinal-fail");
    // Annotated but without livepatch=Y: an error.
    let bad = build_module(&dir, "bad", LP);
    let good = build_module(&dir, "good", &format!("{MODINFO_LIVEPATCH}{LP}"));
    let plain = build_module(&dir, "plain", PLAIN);

    let r = klp_convert(&[
        "--modfinal".as_ref(),
        bad.as_os_str(),
        good.as_os_str(),
        plain.as_os_str(),
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("{}: ", bad.display())),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("livepatch"), "{}", r.stderr);
    assert!(r.stderr.contains("removed"), "{}", r.stderr);
    assert!(!bad.exists(), "the failed module is left");
    assert_eq!(check_converted(&fs::read(&good).unwrap()), 1);
    assert!(plain.exists());
}

#[test]
fn usage_errors() {
    assert_eq!(klp_convert(&["--modfinal"]).code, 2);
    assert_eq!(klp_convert(&["--modfinal", "--list", "x.ko"]).code, 2);
    assert_eq!(klp_convert(&["--modfinal", "--dry-run", "x.ko"]).code, 2);
}
