// SPDX-License-Identifier: GPL-2.0-only
//! klp-convert command line: parse options, run, map the result to an
//! exit code (0 success, 1 conversion error, 2 usage error).

use std::path::PathBuf;
use std::process::ExitCode;

use klp_convert::error::Error;
use klp_convert::{is_livepatch_candidate, run, Options, Outcome};
use std::io::Write;

const ABOUT: &str = "\
Convert the annotated references of a linked livepatch module into the
kernel's livepatch ELF form (.klp.rela.<obj>.<section> sections and
.klp.sym.<obj>.<symbol>,<pos> symbols).

References are annotated with KLP_RELOC_SYMBOL() or KLP_RELOC_SYMBOL_POS()
from include/linux/livepatch_reloc.h, which name an undefined symbol
.klp.sym.rela.<patched_obj>.<sym_obj>.<symbol>,<pos>.

KLP_SYMBOL(patched_obj, sym) and KLP_SYMBOL_FILE(patched_obj, sym, file)
leave the object and the position to klp-convert, which reads them from
the target kernel's symbols given with --symbols FILE (repeatable; the kind
is detected from the contents): a /proc/kallsyms dump, System.map,
vmlinux, a module .ko/.ko.xz/.ko.zst or a directory such as
/lib/modules/<release> (only the modules annotations name are read). With
--symbols, every annotation is also checked the way the kernel will
resolve it, and a wrong one fails with the valid choices printed. When
several files know an object, the last one given wins.

IN is rewritten in place unless OUT is given. The output is written to a
temporary file and renamed into place; on any error nothing is written.
A module without annotated symbols (already converted, or made by kpatch
or objtool) is left unchanged (copied to OUT if given).

--list prints one line per livepatch relocation, tab-separated, after a
header line starting with '#':
  section  offset  type  object  symbol  pos
section is the relocation section holding the entry, offset is r_offset
in hex, object/symbol/pos come from the livepatch symbol's name ('-' if it
cannot be parsed).

--modfinal FILE... is Kbuild's last step of a module build (scripts/
livepatch/Makefile.klp): each FILE is a freshly linked module; those that
carry livepatch=Y or an annotated symbol are converted in place, the others
are not read further nor written, and a module whose conversion fails is
deleted, so that no unconverted livepatch module is left to be loaded.
Each module converted is named on a line in Kbuild's style, KLP [M].

Exit status: 0 success, 1 conversion error, 2 usage error.";

fn usage(opts: &getopts::Options) -> String {
    opts.usage(&format!("Usage: klp-convert [options] IN [OUT]\n\n{ABOUT}"))
}

/// What the command line asks for.
enum Command {
    /// Help or version printed.
    Done,
    /// One module, in place or to OUT.
    One(Options, bool),
    /// --modfinal: the modules of a Kbuild modfinal run.
    Modfinal(Options, Vec<PathBuf>, bool),
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut opts = getopts::Options::new();
    opts.optflag(
        "n",
        "dry-run",
        "check and report what would change, write nothing",
    );
    opts.optflag("v", "verbose", "print each symbol and relocation converted");
    opts.optflag("l", "list", "print the module's livepatch relocations");
    opts.optflag("W", "werror", "treat warnings as errors");
    opts.optmulti(
        "s",
        "symbols",
        "check and infer annotations with the target's symbols (kallsyms dump, \
         System.map, vmlinux, .ko[.xz|.zst], module directory); repeatable",
        "FILE",
    );
    opts.optflag(
        "",
        "modfinal",
        "Kbuild's final step: convert the livepatch modules among FILE...",
    );
    opts.optflag("q", "quiet", "print nothing on standard output");
    opts.optflag("h", "help", "print this help");
    opts.optflag("V", "version", "print the version");
    let m = opts.parse(args).map_err(|e| e.to_string())?;
    if m.opt_present("h") {
        println!("{}", usage(&opts));
        return Ok(Command::Done);
    }
    if m.opt_present("V") {
        println!("klp-convert {}", env!("CARGO_PKG_VERSION"));
        return Ok(Command::Done);
    }
    let base = Options {
        dry_run: m.opt_present("n"),
        verbose: m.opt_present("v"),
        list: m.opt_present("l"),
        werror: m.opt_present("W"),
        symbols: m.opt_strs("s").into_iter().map(PathBuf::from).collect(),
        ..Options::default()
    };
    if m.opt_present("modfinal") {
        if base.list || base.dry_run {
            return Err("--modfinal takes no --list or --dry-run".to_string());
        }
        if m.free.is_empty() {
            return Err("missing input file".to_string());
        }
        let files = m.free.iter().map(PathBuf::from).collect();
        return Ok(Command::Modfinal(base, files, m.opt_present("q")));
    }
    let (input, output) = match m.free.as_slice() {
        [input] => (PathBuf::from(input), None),
        [input, output] => (PathBuf::from(input), Some(PathBuf::from(output))),
        [] => return Err("missing input file".to_string()),
        _ => return Err("too many arguments".to_string()),
    };
    if m.opt_present("l") && m.opt_present("s") {
        return Err("--list takes no --symbols".to_string());
    }
    if m.opt_present("l") && output.is_some() {
        return Err("--list takes no output file".to_string());
    }
    Ok(Command::One(
        Options {
            input,
            output,
            ..base
        },
        m.opt_present("q"),
    ))
}

/// Convert one module and report; true on success.
fn convert_one(opts: &Options, quiet: bool, tag: bool) -> bool {
    let file = opts.input.display().to_string();
    match run(opts) {
        Ok(report) => {
            for w in &report.warnings {
                eprintln!("klp-convert: {file}: {w}");
            }
            let converted = matches!(report.outcome, Outcome::Converted { .. });
            let mut out = std::io::stdout().lock();
            // A closed standard output is no reason to fail a conversion.
            if !quiet && tag && converted {
                let _ = writeln!(out, "  {:<7} {file}", "KLP [M]");
            }
            if !quiet && (!tag || opts.verbose) {
                for line in &report.lines {
                    let _ = writeln!(out, "{line}");
                }
            }
            true
        }
        Err(Error::Invalid(problems)) => {
            for p in &problems {
                eprintln!("klp-convert: {file}: {p}");
            }
            let n = problems.iter().filter(|p| p.is_error()).count();
            let w = problems.len() - n;
            if n == 0 {
                eprintln!("klp-convert: {file}: {w} warning(s) treated as errors, nothing written");
            } else {
                eprintln!("klp-convert: {file}: {n} error(s), nothing written");
            }
            false
        }
        Err(e) => {
            eprintln!("klp-convert: {file}: error: {e}");
            false
        }
    }
}

/// --modfinal: convert the livepatch modules among `files` in place and
/// delete each one that fails.
fn modfinal(base: &Options, files: &[PathBuf], quiet: bool) -> bool {
    let mut ok = true;
    for file in files {
        match is_livepatch_candidate(file) {
            Ok(false) => continue,
            Ok(true) => {}
            Err(e) => {
                eprintln!("klp-convert: {}: error: {e}", file.display());
                ok = false;
                continue;
            }
        }
        let opts = Options {
            input: file.clone(),
            ..base.clone()
        };
        if !convert_one(&opts, quiet, true) {
            ok = false;
            match std::fs::remove_file(file) {
                Ok(()) => eprintln!("klp-convert: {}: removed", file.display()),
                Err(e) => eprintln!("klp-convert: {}: cannot remove: {e}", file.display()),
            }
        }
    }
    ok
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ok = match parse_args(&args) {
        Ok(Command::Done) => true,
        Ok(Command::One(opts, quiet)) => convert_one(&opts, quiet, false),
        Ok(Command::Modfinal(base, files, quiet)) => modfinal(&base, &files, quiet),
        Err(e) => {
            eprintln!("klp-convert: {e}");
            eprintln!("Usage: klp-convert [options] IN [OUT]; try 'klp-convert --help'");
            return ExitCode::from(2);
        }
    };
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
