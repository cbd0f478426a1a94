// SPDX-License-Identifier: GPL-2.0-only
//! klp-convert command line: parse options, run, map the result to an
//! exit code (0 success, 1 conversion error, 2 usage error).

use std::path::PathBuf;
use std::process::ExitCode;

use klp_convert::error::Error;
use klp_convert::{run, Options};

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

Exit status: 0 success, 1 conversion error, 2 usage error.";

fn usage(opts: &getopts::Options) -> String {
    opts.usage(&format!("Usage: klp-convert [options] IN [OUT]\n\n{ABOUT}"))
}

fn parse_args(args: &[String]) -> Result<Option<Options>, String> {
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
    opts.optflag("h", "help", "print this help");
    opts.optflag("V", "version", "print the version");
    let m = opts.parse(args).map_err(|e| e.to_string())?;
    if m.opt_present("h") {
        println!("{}", usage(&opts));
        return Ok(None);
    }
    if m.opt_present("V") {
        println!("klp-convert {}", env!("CARGO_PKG_VERSION"));
        return Ok(None);
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
    Ok(Some(Options {
        input,
        output,
        dry_run: m.opt_present("n"),
        verbose: m.opt_present("v"),
        list: m.opt_present("l"),
        werror: m.opt_present("W"),
        symbols: m.opt_strs("s").into_iter().map(PathBuf::from).collect(),
    }))
}

fn main() -> ExitCode {
    klp_convert::sys::install_signal_handlers();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse_args(&args) {
        Ok(Some(opts)) => opts,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("klp-convert: {e}");
            eprintln!("Usage: klp-convert [options] IN [OUT]; try 'klp-convert --help'");
            return ExitCode::from(2);
        }
    };
    let file = opts.input.display().to_string();
    match run(&opts) {
        Ok(report) => {
            for w in &report.warnings {
                eprintln!("klp-convert: {file}: {w}");
            }
            for line in &report.lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
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
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("klp-convert: {file}: error: {e}");
            ExitCode::from(1)
        }
    }
}
