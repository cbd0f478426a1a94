// SPDX-License-Identifier: GPL-2.0-only
//! Run over a directory of real modules when KLP_TEST_MODULES names one
//! (for example an extracted Debian linux-image package's lib/modules):
//! --list, validation and a no-op conversion must succeed on every module
//! and change nothing, and the writer must write each module back with the
//! same content (or fail with a clear error).

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use klp_convert::convert;
use klp_convert::dump::dump;
use klp_convert::elf::Module;
use klp_convert::{run, Options, Outcome};

fn modules(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            modules(&path, out);
        } else if path.extension().is_some_and(|e| e == "ko") {
            out.push(path);
        }
    }
}

#[test]
fn real_modules() {
    let Some(root) = std::env::var_os("KLP_TEST_MODULES") else {
        eprintln!("SKIP: set KLP_TEST_MODULES to a directory of .ko files");
        return;
    };
    let mut list = Vec::new();
    modules(Path::new(&root), &mut list);
    assert!(!list.is_empty(), "no .ko files under {root:?}");
    let scratch = common::scratch("real");
    let out = scratch.join("out.ko");
    let mut rewrite_errors = Vec::new();
    for (i, path) in list.iter().enumerate() {
        let data = fs::read(path).unwrap();
        let module = Module::parse(&data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let lines = klp_convert::list::list(&module);
        assert_eq!(
            lines.len(),
            1,
            "{}: unexpected livepatch relocations",
            path.display()
        );
        let plan = convert::plan(&module);
        assert!(
            plan.problems.is_empty() && plan.is_empty(),
            "{}: {:?}",
            path.display(),
            plan.problems
        );
        if i % 25 == 0 {
            let report = run(&Options {
                input: path.clone(),
                output: Some(out.clone()),
                ..Options::default()
            })
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(report.outcome, Outcome::Unchanged);
            assert_eq!(fs::read(&out).unwrap(), data, "{}", path.display());
        }
        // A rewrite without changes must preserve the module's content.
        match convert::rewrite(&data, &module, &convert::Plan::default()) {
            Ok(bytes) => {
                let again = Module::parse(&bytes)
                    .unwrap_or_else(|e| panic!("{}: rewritten: {e}", path.display()));
                assert_eq!(dump(&module), dump(&again), "{}", path.display());
            }
            Err(e) => rewrite_errors.push(format!("{}: {e}", path.display())),
        }
    }
    eprintln!(
        "{} modules checked, {} cannot be rewritten",
        list.len(),
        rewrite_errors.len()
    );
    for e in &rewrite_errors {
        eprintln!("  {e}");
    }
    assert!(
        rewrite_errors.iter().all(|e| e.contains("cannot")),
        "unclear rewrite errors"
    );
}
