// SPDX-License-Identifier: GPL-2.0-only
//! Golden tests: convert the checked-in inputs tests/golden/<arch>.ko
//! (built from source.c by make-inputs.sh) and compare a text dump of the
//! result, its --list output and the instructions it rewrote with
//! tests/golden/<arch>.dump.
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
    // Instructions an architecture's rule rewrote (arm64's GOT loads).
    let before = fs::read(&input).unwrap();
    let original = Module::parse(&before).unwrap();
    for s in &original.sections {
        if s.flags & object::elf::SHF_EXECINSTR.0 == 0 {
            continue;
        }
        let (Some(old), Some(new)) = (
            s.data,
            section(&module, &s.display_name()).and_then(|n| n.data),
        ) else {
            continue;
        };
        for (i, (a, b)) in old.chunks(4).zip(new.chunks(4)).enumerate() {
            if a != b {
                text.push_str(&format!(
                    "rewritten: {} 0x{:x}: {} -> {}\n",
                    s.display_name(),
                    i * 4,
                    hex(a),
                    hex(b)
                ));
            }
        }
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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
