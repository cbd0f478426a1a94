// SPDX-License-Identifier: GPL-2.0-only
//! klp-convert command line: parse options, run, map the result to an
//! exit code (0 success, 1 conversion error, 2 usage error).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use klp_convert::error::{sanitize, Error, Problem};
use klp_convert::{is_livepatch_candidate, run, Options, Outcome};

#[global_allocator]
static ALLOC: klp_convert::sys::Alloc = klp_convert::sys::Alloc;

/// Problems printed at most; the rest are counted.
const MAX_PROBLEMS: usize = 100;

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

Plain references: with --symvers FILE (repeatable; Kbuild gives the
build's Module.symvers files), every undefined global symbol of a
livepatch module that no FILE exports is converted too, its object and
position read from the --symbols maps (vmlinux, and every module a
kallsyms dump or a module file given lists); a name found in none or in
several objects or positions fails with the annotations that would settle
it. KLP_MODULE_RELOC(obj) tables of the earlier upstream series
(.klp.module_relocs.<obj>: {symbol address, u32 position} entries) name the
object and position of plain references, with or without --symbols.

--modpost MODPOST ARGS... runs modpost (a distribution's prebuilt one)
so that livepatch modules may keep plain references to symbols nothing
exports; any other module referencing such a symbol still fails.

IN is rewritten in place unless OUT is given. The output is written to a
temporary file (mode 0600) and renamed into place; on any error, or on
SIGINT, SIGTERM, SIGHUP or SIGBUS (IN shrinking while it is read; exit
status 128 + the signal), nothing is written. Only a regular file is
replaced: a device, FIFO, socket or directory as OUT is refused. A
symbolic link at the output path is followed unless it lies in a sticky
world-writable directory (/tmp) and is owned neither by the effective
user nor by the directory's owner, or points to a file of another user
(the fs.protected_symlinks rule). The
result keeps the input's permission bits (without set-id bits), not its
owner, extended attributes or hard links. A module without annotated
symbols (already converted, or made by kpatch or objtool) is left
unchanged (copied to OUT if given).

IN and every map must be regular files of at most 1 GiB; compressed maps
are decompressed by xz, zstd or gzip from /usr/bin or /bin, up to 32 times
their size (64 MiB to 512 MiB).

--list prints one line per livepatch relocation, tab-separated, after a
header line starting with '#':
  section  offset  type  object  symbol  pos
section is the relocation section holding the entry, offset is r_offset
in hex, object/symbol/pos come from the livepatch symbol's name ('-' if it
cannot be parsed).

At most 100 problems are printed, then their count. A closed standard
output (klp-convert -l m.ko | head -1) ends the output quietly, with exit
status 141 (as if killed by SIGPIPE).

--modfinal FILE... is Kbuild's last step of a module build (scripts/
livepatch/Makefile.klp): each FILE is a freshly linked module; those that
carry livepatch=Y or an annotated symbol are converted in place, the others
are not read further nor written, and a module whose conversion fails is
deleted, so that no unconverted livepatch module is left to be loaded.
Each module converted is named on a line in Kbuild's style, KLP [M].

Exit status: 0 success, 1 conversion error, 2 usage error, 141 standard
output closed, 128 + N killed by signal N.";

fn usage(opts: &getopts::Options) -> String {
    opts.usage(&format!("Usage: klp-convert [options] IN [OUT]\n\n{ABOUT}"))
}

/// Where printing failed, if it did.
#[derive(Default)]
struct Out {
    /// Standard output was closed by the reader (EPIPE).
    closed: bool,
    /// Another error writing standard output.
    error: Option<std::io::Error>,
    /// --quiet: print nothing.
    quiet: bool,
}

impl Out {
    /// Print a line on standard output; after a failure, nothing.
    fn line(&mut self, line: &str) {
        if self.quiet || self.closed || self.error.is_some() {
            return;
        }
        let mut out = std::io::stdout().lock();
        let r = writeln!(out, "{}", sanitize(line)).and_then(|_| out.flush());
        match r {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => self.closed = true,
            Err(e) => self.error = Some(e),
        }
    }

    /// The exit status: `code`, unless standard output failed.
    fn status(self, code: u8) -> ExitCode {
        if self.closed {
            return ExitCode::from(141);
        }
        if let Some(e) = self.error {
            err_line(&format!(
                "klp-convert: cannot write to standard output: {e}"
            ));
            return ExitCode::from(1);
        }
        ExitCode::from(code)
    }
}

/// Print a line on standard error; an error there cannot be reported.
fn err_line(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{}", sanitize(line));
}

/// Print problems about `file`, at most [`MAX_PROBLEMS`].
fn problems(file: &str, problems: &[Problem]) {
    for p in problems.iter().take(MAX_PROBLEMS) {
        err_line(&format!("klp-convert: {file}: {p}"));
    }
    if problems.len() > MAX_PROBLEMS {
        let more = &problems[MAX_PROBLEMS..];
        let e = more.iter().filter(|p| p.is_error()).count();
        err_line(&format!(
            "klp-convert: {file}: ... and {} more problem(s) not shown ({e} error(s), {} \
             warning(s))",
            more.len(),
            more.len() - e
        ));
    }
}

/// What the command line asks for.
enum Command {
    /// Help or version printed.
    Done,
    /// One module, in place or to OUT.
    One(Options),
    /// --modfinal: the modules of a Kbuild modfinal run.
    Modfinal(Options, Vec<PathBuf>),
}

fn parse_args(args: &[String], out: &mut Out) -> Result<Command, String> {
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
    opts.optmulti(
        "",
        "symvers",
        "Module.symvers of the build: convert the livepatch module's plain references \
         (undefined, exported by none) from the --symbols maps too; repeatable",
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
        out.line(&usage(&opts));
        return Ok(Command::Done);
    }
    if m.opt_present("V") {
        out.line(&format!("klp-convert {}", klp_convert::VERSION));
        return Ok(Command::Done);
    }
    out.quiet = m.opt_present("q");
    let base = Options {
        dry_run: m.opt_present("n"),
        verbose: m.opt_present("v"),
        list: m.opt_present("l"),
        werror: m.opt_present("W"),
        symbols: m.opt_strs("s").into_iter().map(PathBuf::from).collect(),
        symvers: m
            .opt_strs("symvers")
            .into_iter()
            .map(PathBuf::from)
            .collect(),
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
        return Ok(Command::Modfinal(base, files));
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
    Ok(Command::One(Options {
        input,
        output,
        ..base
    }))
}

/// Convert one module and report; true on success.  `tag`: the Kbuild
/// style of --modfinal (a "KLP [M]" line for a converted module, notes
/// only with --verbose).
fn convert_one(opts: &Options, out: &mut Out, tag: bool) -> bool {
    let file = opts.input.display().to_string();
    match run(opts) {
        Ok(report) => {
            problems(&file, &report.warnings);
            if tag && matches!(report.outcome, Outcome::Converted { .. }) {
                out.line(&format!("  {:<7} {file}", "KLP [M]"));
            }
            if !tag || opts.verbose {
                for line in &report.lines {
                    out.line(line);
                }
            }
            true
        }
        Err(Error::Invalid(found)) => {
            problems(&file, &found);
            let n = found.iter().filter(|p| p.is_error()).count();
            let w = found.len() - n;
            if n == 0 {
                err_line(&format!(
                    "klp-convert: {file}: {w} warning(s) treated as errors, nothing written"
                ));
            } else {
                err_line(&format!(
                    "klp-convert: {file}: {n} error(s), nothing written"
                ));
            }
            false
        }
        Err(e) => {
            err_line(&format!("klp-convert: {file}: error: {e}"));
            false
        }
    }
}

/// --modfinal: convert the livepatch modules among `files` in place and
/// delete each one that fails.
fn modfinal(base: &Options, files: &[PathBuf], out: &mut Out) -> bool {
    let mut ok = true;
    for file in files {
        match is_livepatch_candidate(file) {
            Ok(false) => continue,
            Ok(true) => {}
            Err(e) => {
                err_line(&format!("klp-convert: {}: error: {e}", file.display()));
                ok = false;
                continue;
            }
        }
        let opts = Options {
            input: file.clone(),
            ..base.clone()
        };
        if !convert_one(&opts, out, true) {
            ok = false;
            match std::fs::remove_file(file) {
                Ok(()) => err_line(&format!("klp-convert: {}: removed", file.display())),
                Err(e) => err_line(&format!(
                    "klp-convert: {}: cannot remove: {e}",
                    file.display()
                )),
            }
        }
    }
    ok
}

fn main() -> ExitCode {
    klp_convert::sys::tune_allocator();
    klp_convert::sys::install_signal_handlers();
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if args.first().is_some_and(|a| a == "--modpost") {
        return ExitCode::from(klp_convert::modpost::run(args.get(1..).unwrap_or_default()));
    }
    let mut out = Out::default();
    let ok = match parse_args(&args, &mut out) {
        Ok(Command::Done) => true,
        Ok(Command::One(opts)) => convert_one(&opts, &mut out, false),
        Ok(Command::Modfinal(base, files)) => modfinal(&base, &files, &mut out),
        Err(e) => {
            err_line(&format!("klp-convert: {e}"));
            err_line("Usage: klp-convert [options] IN [OUT]; try 'klp-convert --help'");
            return ExitCode::from(2);
        }
    };
    out.status(if ok { 0 } else { 1 })
}
