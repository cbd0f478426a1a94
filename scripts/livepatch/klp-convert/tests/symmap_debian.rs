// SPDX-License-Identifier: GPL-2.0-only
//! Symbol maps of real Debian kernels (6.1 and 6.12): a /proc/kallsyms
//! dump of the booted kernel and its unpacked /lib/modules/<release>.
//!
//! The maps come from the environment:
//!
//!   KLP_TEST_KALLSYMS_6_1, KLP_TEST_KALLSYMS_6_12   kallsyms dumps
//!   KLP_TEST_MODULES_6_1,  KLP_TEST_MODULES_6_12    module trees
//!
//! made by
//!
//!   dev-harness/selftest.py kallsyms --kernel debian-6.1 \
//!       --output .cache/kallsyms/debian-6.1.txt
//!   dev-harness/prepare-kdir debian-6.1    (prints MODULES=...)
//!
//! Without them the tests are skipped with a notice, and fail under CI.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const INFER: &str = r#"
#define KLP_SYMBOL(p, s) asm("\".klp.sym.rela." #p ".*." #s ",*\"") __attribute__((weak))
"#;

fn env_path(var: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) if Path::new(&p).exists() => Some(PathBuf::from(p)),
        other => {
            let why = match other {
                Some(p) => format!("{var}={} does not exist", p.to_string_lossy()),
                None => format!("{var} is not set"),
            };
            if std::env::var_os("CI").is_some() {
                panic!("{why}; see the header of tests/symmap_debian.rs");
            }
            eprintln!("SKIP: {why}; see the header of tests/symmap_debian.rs");
            None
        }
    }
}

/// The addresses of the vmlinux symbols called `name`, in dump order.
fn addresses(dump: &Path, name: &str) -> Vec<String> {
    fs::read_to_string(dump)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 3 && f[2] == name).then(|| f[0].to_string())
        })
        .collect()
}

fn patch(dir: &Path, name: &str, decl: &str) -> PathBuf {
    build_module(
        dir,
        name,
        &format!("{INFER}{MODINFO_LIVEPATCH}{decl}\nvoid *table[] = {{ (void *)&x }};\n"),
    )
}

fn convert(ko: &Path, maps: &[&Path], extra: &[&str]) -> Run {
    let mut args: Vec<std::ffi::OsString> = extra.iter().map(|s| s.into()).collect();
    for m in maps {
        args.push("-s".into());
        args.push(m.as_os_str().into());
    }
    args.push(ko.as_os_str().into());
    args.push(ko.with_extension("out.ko").into_os_string());
    klp_convert(&args)
}

fn check_kernel(version: &str) {
    let tag = version.replace('.', "_");
    let (Some(dump), Some(tree)) = (
        env_path(&format!("KLP_TEST_KALLSYMS_{tag}")),
        env_path(&format!("KLP_TEST_MODULES_{tag}")),
    ) else {
        return;
    };
    let dir = scratch(&format!("debian-{version}"));

    // c_start: three local functions of vmlinux in both kernels.
    let addrs = addresses(&dump, "c_start");
    assert!(addrs.len() >= 2, "c_start in {}: {addrs:?}", dump.display());
    let ko = patch(
        &dir,
        "pos2",
        "extern int x(void) KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, c_start, 2);",
    );
    let r = convert(&ko, &[&dump, &tree], &["-v"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains(&format!("-> .klp.sym.vmlinux.c_start,2 (t {}", addrs[1])),
        "{}",
        r.stdout
    );
    for line in r.stdout.lines().filter(|l| l.contains("read in")) {
        eprintln!("debian-{version}: {line}");
    }

    let ko = patch(
        &dir,
        "pos0",
        "extern int x(void) KLP_RELOC_SYMBOL(vmlinux, vmlinux, c_start);",
    );
    let r = convert(&ko, &[&dump], &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("position 0 needs a unique name"),
        "{}",
        r.stderr
    );
    for (i, a) in addrs.iter().enumerate() {
        let want = format!(
            "KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, c_start, {})\t/* t {a}",
            i + 1
        );
        assert!(r.stderr.contains(&want), "missing {want} in\n{}", r.stderr);
    }
    let ko = patch(
        &dir,
        "range",
        &format!(
            "extern int x(void) KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, c_start, {});",
            addrs.len() + 1
        ),
    );
    let r = convert(&ko, &[&dump], &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is out of range"), "{}", r.stderr);

    // Inference, byte for byte like the explicit twin.
    let ko = patch(
        &dir,
        "infer",
        "extern char *x KLP_SYMBOL(vmlinux, saved_command_line);",
    );
    let twin = dir.join("twin.ko");
    let out = Command::new("objcopy")
        .arg("--redefine-sym=.klp.sym.rela.vmlinux.*.saved_command_line,*=.klp.sym.rela.vmlinux.vmlinux.saved_command_line,0")
        .arg(&ko)
        .arg(&twin)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(convert(&ko, &[&dump], &[]).code, 0);
    let r = convert(&twin, &[&dump], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        fs::read(ko.with_extension("out.ko")).unwrap()
            == fs::read(twin.with_extension("out.ko")).unwrap()
    );

    // A module symbol, read from the tree (.ko or .ko.xz).
    let ko = patch(
        &dir,
        "ext4",
        "extern int x(void) KLP_SYMBOL(ext4, ext4_fill_super);",
    );
    let r = convert(&ko, &[&dump, &tree], &["-v"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("-> .klp.sym.ext4.ext4_fill_super,0"),
        "{}",
        r.stdout
    );
    for line in r.stdout.lines().filter(|l| l.contains(" in ")) {
        eprintln!("debian-{version}: {line}");
    }
    let ko = patch(
        &dir,
        "ext4bad",
        "extern int x(void) KLP_RELOC_SYMBOL(ext4, ext4, no_such_function);",
    );
    let r = convert(&ko, &[&dump, &tree], &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no_such_function not found in ext4"),
        "{}",
        r.stderr
    );

    // An exported symbol warns.
    let ko = patch(
        &dir,
        "exp",
        "extern int x(void) KLP_SYMBOL(vmlinux, _printk);",
    );
    let r = convert(&ko, &[&dump], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("vmlinux exports _printk"), "{}", r.stderr);
}

#[test]
fn debian_6_1() {
    check_kernel("6.1");
}

#[test]
fn debian_6_12() {
    check_kernel("6.12");
}
