// SPDX-License-Identifier: GPL-2.0-only
//! `klp-convert --modpost MODPOST ARGS...`: modpost for a kernel whose
//! modpost cannot be changed (a distribution's headers), letting livepatch
//! modules through with plain references to symbols nothing exports.
//!
//! modpost fails a module build on an undefined symbol that no
//! Module.symvers exports. A livepatch module's reference to a
//! non-exported symbol is such a symbol until klp-convert, after the final
//! link, turns it into a livepatch relocation (or refuses it). In a source
//! tree modpost itself skips livepatch modules' unresolved symbols; with a
//! prebuilt modpost this wrapper runs it with one more input: a
//! Module.symvers of its own that lists the plain references of the
//! livepatch modules (undefined, global, exported by no input, defined by
//! no module of the run) as vmlinux exports, so that modpost lets them
//! through. It then checks itself what modpost no longer can: a module of
//! the run that is not a livepatch and references one of those names
//! fails as modpost would fail it. Nothing else changes: the arguments,
//! the list of modules and modpost's other checks are modpost's own, and
//! when no livepatch module has a plain reference, or no Module.symvers
//! is read (so that the exports are not known), modpost runs alone.
//!
//! The listed names carry no CRC (0): the kernel checks versions only for
//! the symbols it resolves from exports, which livepatch symbols never
//! are; modpost adds no dependency on vmlinux.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use object::elf as oelf;

use crate::elf::Module;
use crate::symvers::{candidates, exported_names};

/// modpost's options that take an argument (every version since 5.10).
const WITH_ARG: &[&str] = &["-i", "-T", "-o", "-d", "-u"];

/// What the wrapper needs from modpost's arguments.
#[derive(Debug, Default, PartialEq, Eq)]
struct Args {
    /// -i: Module.symvers files read.
    dumps: Vec<String>,
    /// -T: the file listing the modules, "-" for standard input.
    list: Option<String>,
    /// -o: the Module.symvers written.
    output: Option<String>,
    /// -w: unresolved symbols are warnings.
    warn: bool,
    /// Other object files (vmlinux.o).
    objects: Vec<String>,
}

fn parse_args(args: &[String]) -> Args {
    let mut a = Args::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (opt, inline) = if arg.starts_with('-') && arg.len() > 2 && !arg.starts_with("--") {
            (arg.get(..2).unwrap_or_default(), arg.get(2..))
        } else {
            (arg.as_str(), None)
        };
        if WITH_ARG.contains(&opt) {
            let Some(value) = inline.map(str::to_string).or_else(|| it.next().cloned()) else {
                break;
            };
            match opt {
                "-i" => a.dumps.push(value),
                "-T" => a.list = Some(value),
                "-o" => a.output = Some(value),
                _ => {}
            }
        } else if arg == "-w" {
            a.warn = true;
        } else if !arg.starts_with('-') {
            a.objects.push(arg.clone());
        }
    }
    a
}

/// One module of the run: its name as modpost prints it and its symbols.
struct Object {
    path: String,
    livepatch: bool,
    undefined: Vec<Vec<u8>>,
    defined: Vec<Vec<u8>>,
}

fn read_object(path: &str) -> Result<Object, String> {
    let data = crate::sys::read_regular(Path::new(path), crate::sys::MAX_FILE)
        .map_err(|e| format!("{path}: {}", std::io::Error::from(e)))?;
    let m = Module::parse_symbols(data.as_slice()).map_err(|e| format!("{path}: {e}"))?;
    let defined = m
        .symbols
        .iter()
        .skip(1)
        .filter(|s| {
            !s.name.is_empty()
                && !s.is_undefined()
                && (s.bind == oelf::STB_GLOBAL.0 || s.bind == oelf::STB_WEAK.0)
        })
        .map(|s| s.name.to_vec())
        .collect();
    Ok(Object {
        path: path.to_string(),
        livepatch: m.is_livepatch(),
        undefined: candidates(&m).map(|(_, n)| n.to_vec()).collect(),
        defined,
    })
}

/// The module list: one object per line (`.ko` lines name the `.o`).
fn module_paths(list: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(list)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| match l.strip_suffix(".ko") {
            Some(base) => format!("{base}.o"),
            None => l.to_string(),
        })
        .collect()
}

/// Run the wrapper: `args` are MODPOST and its arguments. Returns the exit
/// status.
pub fn run(args: &[String]) -> u8 {
    let Some((modpost, margs)) = args.split_first() else {
        eprintln!("klp-convert: --modpost needs the modpost command and its arguments");
        return 2;
    };
    let parsed = parse_args(margs);
    // The module list, read once, and given to modpost again.
    let mut stdin_list = None;
    let list = match parsed.list.as_deref() {
        Some("-") => {
            let mut buf = Vec::new();
            if let Err(e) = std::io::stdin().read_to_end(&mut buf) {
                eprintln!("klp-convert: --modpost: cannot read the module list: {e}");
                return 1;
            }
            stdin_list = Some(buf.clone());
            buf
        }
        Some(file) => std::fs::read(file).unwrap_or_default(),
        None => Vec::new(),
    };
    let plan = match plan(&parsed, &list) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("klp-convert: --modpost: {e}");
            return 1;
        }
    };
    let mut failed = false;
    for (module, name) in &plan.misuses {
        let what = if parsed.warn { "WARNING" } else { "ERROR" };
        eprintln!(
            "{what}: modpost: \"{}\" [{module}] undefined! (only a livepatch module, \
             MODULE_INFO(livepatch, \"Y\"), may reference a symbol nothing exports)",
            String::from_utf8_lossy(name)
        );
        failed = !parsed.warn;
    }
    if failed {
        return 1;
    }
    let mut cmd = Command::new(modpost);
    let mut temp = None;
    if !plan.names.is_empty() {
        let dir = parsed
            .output
            .as_deref()
            .and_then(|o| Path::new(o).parent())
            .filter(|d| !d.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let path = dir.join(format!(
            ".klp-convert-modpost.{}.symvers",
            std::process::id()
        ));
        let mut text = Vec::new();
        for n in &plan.names {
            text.extend_from_slice(b"0x00000000\t");
            text.extend_from_slice(n);
            text.extend_from_slice(b"\tvmlinux\tEXPORT_SYMBOL_GPL\t\n");
        }
        crate::sys::set_temp_file(Some(&path));
        if let Err(e) = std::fs::write(&path, &text) {
            eprintln!("klp-convert: --modpost: {}: {e}", path.display());
            crate::sys::set_temp_file(None);
            return 1;
        }
        cmd.arg("-i").arg(&path);
        temp = Some(path);
    }
    cmd.args(margs);
    if stdin_list.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let status = cmd.spawn().and_then(|mut child| {
        if let (Some(list), Some(mut input)) = (stdin_list.as_deref(), child.stdin.take()) {
            // modpost reads all of its list; a failure shows in its status.
            let _ = input.write_all(list);
        }
        child.wait()
    });
    if let Some(path) = temp {
        let _ = std::fs::remove_file(&path);
        crate::sys::set_temp_file(None);
    }
    match status {
        Ok(s) => match (s.code(), std::os::unix::process::ExitStatusExt::signal(&s)) {
            (Some(c), _) => u8::try_from(c).unwrap_or(1),
            (None, Some(sig)) => u8::try_from(128 + sig).unwrap_or(1),
            _ => 1,
        },
        Err(e) => {
            eprintln!("klp-convert: --modpost: cannot run {modpost}: {e}");
            1
        }
    }
}

/// What to add and what to refuse.
#[derive(Debug, Default)]
struct Plan {
    /// The livepatch modules' plain references, listed as exports.
    names: Vec<Vec<u8>>,
    /// Other modules' references to those names: (module, name).
    misuses: Vec<(String, Vec<u8>)>,
}

fn plan(args: &Args, list: &[u8]) -> Result<Plan, String> {
    let mut objects = Vec::new();
    for path in module_paths(list).iter().chain(&args.objects) {
        if args.objects.contains(path) && !Path::new(path).exists() {
            continue;
        }
        objects.push(read_object(path)?);
    }
    let mut plan = Plan::default();
    if !objects
        .iter()
        .any(|o| o.livepatch && !o.undefined.is_empty())
    {
        return Ok(plan);
    }
    let mut dumps = Vec::new();
    for d in &args.dumps {
        // A missing input is modpost's to report.
        if let Ok(data) = std::fs::read(d) {
            dumps.push(data);
        }
    }
    if dumps.is_empty() {
        // No Module.symvers (vmlinux not built, or a full build whose
        // exports modpost reads from vmlinux.o): what is exported is not
        // known here, so nothing is let through.
        return Ok(plan);
    }
    let mut known: HashSet<&[u8]> = HashSet::new();
    for data in &dumps {
        known.extend(exported_names(data));
    }
    for o in &objects {
        known.extend(o.defined.iter().map(Vec::as_slice));
    }
    let mut names: Vec<&[u8]> = objects
        .iter()
        .filter(|o| o.livepatch)
        .flat_map(|o| o.undefined.iter().map(Vec::as_slice))
        .filter(|n| !known.contains(n))
        .collect();
    names.sort_unstable();
    names.dedup();
    for o in objects.iter().filter(|o| !o.livepatch) {
        for n in &o.undefined {
            if names.binary_search(&n.as_slice()).is_ok() {
                let module = match o.path.strip_suffix(".o") {
                    Some(base) => format!("{base}.ko"),
                    None => o.path.clone(),
                };
                plan.misuses.push((module, n.clone()));
            }
        }
    }
    plan.names = names.into_iter().map(<[u8]>::to_vec).collect();
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn arguments_of_each_version() {
        // 6.1: the list on standard input, vmlinux.o after it.
        let a = parse_args(&s(&[
            "-m",
            "-E",
            "-o",
            "Module.symvers",
            "-T",
            "-",
            "vmlinux.o",
        ]));
        assert_eq!(a.list.as_deref(), Some("-"));
        assert_eq!(a.output.as_deref(), Some("Module.symvers"));
        assert_eq!(a.objects, s(&["vmlinux.o"]));
        assert!(!a.warn);
        // 7.x external module: -e and KBUILD_EXTRA_SYMBOLS, warnings.
        let a = parse_args(&s(&[
            "-M",
            "-w",
            "-o",
            "/m/Module.symvers",
            "-T",
            "modules.order",
            "-i",
            "/k/Module.symvers",
            "-e",
            "-i",
            "/x/Module.symvers",
        ]));
        assert_eq!(a.dumps, s(&["/k/Module.symvers", "/x/Module.symvers"]));
        assert_eq!(a.list.as_deref(), Some("modules.order"));
        assert!(a.warn);
        assert!(a.objects.is_empty());
        let a = parse_args(&s(&["-iA", "-Tlist"]));
        assert_eq!(a.dumps, s(&["A"]));
        assert_eq!(a.list.as_deref(), Some("list"));
    }

    #[test]
    fn list_lines() {
        assert_eq!(
            module_paths(b"a/x.ko\n\n/abs/y.o\n"),
            s(&["a/x.o", "/abs/y.o"])
        );
    }
}
