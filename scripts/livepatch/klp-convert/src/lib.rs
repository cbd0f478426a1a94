// SPDX-License-Identifier: GPL-2.0-only
//! klp-convert: rewrite a linked livepatch module into the kernel's
//! livepatch ELF form (Documentation/livepatch/module-elf-format.rst).
//!
//! Layers, one job per file:
//! - [`names`]: the `.klp.sym.rela.`, `.klp.sym.` and `.klp.rela.` names;
//! - [`elf`]: the one ELF reader (object::read::elf), over a module in
//!   memory or a cached file (vmlinux);
//! - [`arch`]: per-architecture relocation rules;
//! - [`convert`]: validation, the conversion plan and the layout of the
//!   result, written by a direct writer (`write`) over the input's bytes;
//! - [`symmap`]: the target kernel's symbols, read from [`symmap_text`]
//!   (System.map, /proc/kallsyms), [`symmap_elf`] (vmlinux, modules) and
//!   [`symmap_tree`] (`/lib/modules/<release>`), which produce [`objsyms`]
//!   and import nothing above it; [`symmap_check`] checks annotations
//!   against them and infers what they leave out;
//! - [`list`], [`dump`]: text views of a module;
//! - [`output`]: atomic file replacement, of regular files only, with
//!   the fs.protected_symlinks rule for links;
//! - [`sys`]: the few C library calls std lacks (geteuid, signal), and
//!   bounded reads of regular files;
//! - [`error`]: the error types.

pub mod arch;
pub mod convert;
pub mod dump;
pub mod elf;
pub mod error;
pub mod list;
pub mod modpost;
pub mod module_relocs;
pub mod names;
pub mod objsyms;
pub mod output;
mod par;
pub mod symmap;
pub mod symmap_check;
pub mod symmap_elf;
pub mod symmap_text;
pub mod symmap_tree;
pub mod symvers;
pub mod sys;
#[cfg(test)]
mod testutil;
mod write;

use std::path::PathBuf;

use crate::elf::{Module, SHN_LIVEPATCH};
use crate::error::{Error, Problem};

/// What to do; filled from the command line.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The module to read.
    pub input: PathBuf,
    /// Where to write the result (None: replace the input).
    pub output: Option<PathBuf>,
    /// Check and report, write nothing.
    pub dry_run: bool,
    /// Print each change.
    pub verbose: bool,
    /// Print the livepatch relocations and exit.
    pub list: bool,
    /// Treat warnings as errors.
    pub werror: bool,
    /// Symbol maps of the target kernel (--symbols), in the order given.
    pub symbols: Vec<PathBuf>,
    /// Module.symvers files (--symvers): with them, the plain references
    /// of a livepatch module (undefined, global, exported by none) are
    /// converted too, from the symbol maps.
    pub symvers: Vec<PathBuf>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// --list ran.
    Listed,
    /// Nothing to convert; the file was left (or copied) as it was.
    Unchanged,
    /// The module was converted (or would be, with --dry-run).
    Converted {
        /// Symbols renamed.
        symbols: usize,
        /// Relocations moved.
        relocations: usize,
    },
}

/// The result of a successful run.
#[derive(Debug, Clone)]
pub struct Report {
    /// What happened.
    pub outcome: Outcome,
    /// Lines for standard output.
    pub lines: Vec<String>,
    /// Warnings for standard error.
    pub warnings: Vec<Problem>,
}

fn nothing_to_convert(module: &Module<'_>) -> String {
    let klp_relocs = module
        .sections
        .iter()
        .filter(|s| s.is_livepatch())
        .map(|s| s.relocs.len())
        .sum::<usize>();
    let klp_syms = module
        .symbols
        .iter()
        .filter(|s| s.shndx == SHN_LIVEPATCH)
        .count();
    if !module.is_livepatch() {
        "not a livepatch module (no livepatch=Y in .modinfo), nothing to convert".to_string()
    } else if klp_relocs > 0 || klp_syms > 0 {
        format!(
            "already converted ({klp_relocs} livepatch relocation(s), {klp_syms} livepatch \
             symbol(s)), nothing to convert"
        )
    } else {
        "no annotated symbols (.klp.sym.rela.*), nothing to convert".to_string()
    }
}

/// Does the file at `path` look like a livepatch module: `livepatch=Y` in
/// .modinfo or an annotated symbol (`.klp.sym.rela.`)?  A cheap test, so
/// that Kbuild can hand every module it links to one klp-convert process:
/// the section headers, .modinfo and the symbol names are looked at, no
/// relocation. A file that does not parse as ELF is a candidate if it holds
/// either string anywhere, so that the conversion reports what is wrong;
/// a false positive only costs a conversion that changes nothing.
pub fn is_livepatch_candidate(path: &std::path::Path) -> Result<bool, Error> {
    let data = sys::read_regular(path, sys::MAX_FILE)
        .map_err(|e| Error::Io(path.to_path_buf(), e.into()))?;
    if let Ok(m) = Module::parse_symbols(data.as_slice()) {
        return Ok(m.is_livepatch()
            || m.symbols
                .iter()
                .any(|s| s.prefix == names::Prefix::Annotation));
    }
    let has = |needle: &[u8]| data.windows(needle.len()).any(|w| w == needle);
    Ok(has(b"livepatch=Y") || has(b".klp.sym.rela."))
}

/// Run klp-convert on one module.
pub fn run(opts: &Options) -> Result<Report, Error> {
    let data = sys::map_regular(&opts.input, sys::MAX_FILE)
        .map_err(|e| Error::Io(opts.input.clone(), e.into()))?;
    if data.len() >= par::START_SIZE {
        // Large enough for its steps to split: the second thread gets
        // ready while the module is read.
        par::start();
    }
    let module = Module::parse(&data)?;

    if opts.list {
        return Ok(Report {
            outcome: Outcome::Listed,
            lines: list::list(&module),
            warnings: Vec::new(),
        });
    }

    // Symbols with plain names to convert: entries of KLP_MODULE_RELOC()
    // tables, then, with Module.symvers, the other plain references.
    let (mut extra, table_problems) = if module.is_livepatch() {
        module_relocs::requests(&module)
    } else {
        Default::default()
    };
    if module.is_livepatch() && !opts.symvers.is_empty() {
        let plain = symvers::plain_references(&module, &opts.symvers, &extra)?;
        extra.extend(plain);
        extra.sort_by_key(|(i, _)| *i);
    }

    let mut notes = Vec::new();
    let mut plan = if opts.symbols.is_empty() {
        convert::plan_without_map(&module, &extra)
    } else {
        let mut map = symmap::SymbolMap::new(&opts.symbols)?;
        let mut resolver = symmap_check::Resolver::new(&mut map);
        let mut plan = convert::plan_with(&module, &mut |w| resolver.resolve(w), &extra);
        plan.problems.extend(resolver.repeated_map_errors());
        notes = resolver.notes;
        notes.splice(0..0, map.log);
        plan
    };
    plan.problems.splice(0..0, table_problems);
    let warnings: Vec<Problem> = plan
        .problems
        .iter()
        .filter(|p| !p.is_error())
        .cloned()
        .collect();
    if plan.has_errors() || (opts.werror && !warnings.is_empty()) {
        return Err(Error::Invalid(plan.problems));
    }

    let dest = opts.output.clone().unwrap_or_else(|| opts.input.clone());
    if plan.is_empty() {
        if !opts.dry_run && opts.output.is_some() {
            output::write_atomic(&dest, &data, &opts.input)?;
        }
        return Ok(Report {
            outcome: Outcome::Unchanged,
            lines: vec![nothing_to_convert(&module)],
            warnings,
        });
    }

    // Laid out, then written in one pass and checked as it is written
    // (nothing annotated is left); a failed check replaces nothing.
    // --dry-run makes the output and throws it away.
    let converted = convert::layout(&data, &module, &plan)?;
    if opts.dry_run {
        converted.check()?;
    }

    let mut lines = Vec::new();
    if opts.verbose {
        lines.append(&mut notes);
    }
    if opts.verbose || opts.dry_run {
        let verb = if opts.dry_run {
            "would convert"
        } else {
            "convert"
        };
        for line in plan.describe(&module) {
            lines.push(format!("{verb} {line}"));
        }
    }
    if !opts.dry_run {
        let mut invalid = None;
        output::write_atomic_file(&dest, &opts.input, converted.size(), &mut |file| {
            converted.emit_file(file).inspect_err(|e| {
                if convert::is_invalid(e) {
                    invalid = Some(convert::written(e, "write"));
                }
            })
        })
        .map_err(|e| invalid.take().unwrap_or(Error::from(e)))?;
    }
    Ok(Report {
        outcome: Outcome::Converted {
            symbols: plan.symbols.len(),
            relocations: plan.moves.len(),
        },
        lines,
        warnings,
    })
}

/// klp-convert's version: Kbuild builds it without cargo, so it is not
/// taken from Cargo.toml (a test checks that the two agree).
pub const VERSION: &str = "0.1.0";

#[cfg(test)]
mod tests {

    use super::*;
    use crate::testutil::object;

    #[test]
    fn version_is_cargo_toml_s() {
        assert_eq!(VERSION, env!("CARGO_PKG_VERSION"));
    }

    fn run_on(data: &[u8], opts: Options) -> Result<Report, Error> {
        let dir = std::env::temp_dir().join(format!("klp-convert-lib-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{}.ko", data.len()));
        std::fs::write(&path, data).unwrap();
        let r = run(&Options {
            input: path.clone(),
            ..opts
        });
        let _ = std::fs::remove_file(&path);
        r
    }

    #[test]
    fn messages_for_nothing_to_convert() {
        let plain = object(b"license=GPL\0", &[], &[]);
        let r = run_on(&plain, Options::default()).unwrap();
        assert_eq!(r.outcome, Outcome::Unchanged);
        assert!(
            r.lines[0].starts_with("not a livepatch module"),
            "{:?}",
            r.lines
        );
        let lp = object(b"livepatch=Y\0", &[], &[]);
        let r = run_on(
            &lp,
            Options {
                dry_run: true,
                ..Options::default()
            },
        )
        .unwrap();
        assert!(
            r.lines[0].starts_with("no annotated symbols"),
            "{:?}",
            r.lines
        );
        let done = object(b"livepatch=Y\0", &[".klp.sym.vmlinux.x,0"], &[]);
        let r = run_on(&done, Options::default()).unwrap();
        assert!(
            r.lines[0].starts_with("already converted (0 livepatch relocation(s), 1"),
            "{:?}",
            r.lines
        );
    }

    #[test]
    fn errors_are_reported_as_invalid() {
        let ann = ".klp.sym.rela.vmlinux.vmlinux.x,0";
        let bad = object(b"", &[ann], &[(4, ann, 2, -4)]);
        match run_on(&bad, Options::default()) {
            Err(Error::Invalid(p)) => assert_eq!(p.len(), 1),
            other => panic!("{other:?}"),
        }
    }
}
