// SPDX-License-Identifier: GPL-2.0-only
//! Golden tests: convert the checked-in inputs tests/golden/<arch>.ko
//! (built from source.c by make-inputs.sh) and compare a text dump of the
//! result and its --list output with tests/golden/<arch>.dump.
//! `KLP_UPDATE_GOLDEN=1 cargo test --test golden` rewrites the dumps.

mod common;

use std::fs;
use std::path::PathBuf;

use common::*;

fn golden(arch: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let input = dir.join(format!("{arch}.ko"));
    let expected_path = dir.join(format!("{arch}.dump"));
    let work = scratch(&format!("golden-{arch}"));
    let out = work.join("out.ko");
    let r = klp_convert(&[input.as_os_str(), out.as_os_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let data = fs::read(&out).unwrap();
    check_converted(&data);
    let module = Module::parse(&data).unwrap();
    let mut text = klp_convert::dump::dump(&module);
    text.push_str("list:\n");
    for line in klp_convert::list::list(&module) {
        text.push_str("  ");
        text.push_str(&line);
        text.push('\n');
    }
    if std::env::var_os("KLP_UPDATE_GOLDEN").is_some() {
        fs::write(&expected_path, &text).unwrap();
        return;
    }
    let expected = fs::read_to_string(&expected_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run KLP_UPDATE_GOLDEN=1 cargo test --test golden",
            expected_path.display()
        )
    });
    if text != expected {
        let actual = work.join(format!("{arch}.dump"));
        fs::write(&actual, &text).unwrap();
        panic!(
            "converted {arch}.ko differs from {}; actual dump in {}",
            expected_path.display(),
            actual.display()
        );
    }
}

#[test]
fn golden_x86_64() {
    golden("x86_64");
}

#[test]
fn golden_ppc64le() {
    golden("ppc64le");
}

#[test]
fn golden_s390x() {
    golden("s390x");
}

#[test]
fn golden_aarch64() {
    golden("aarch64");
}
