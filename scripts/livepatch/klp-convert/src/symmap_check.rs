// SPDX-License-Identifier: GPL-2.0-only
//! Check annotations against a symbol map, and infer what they leave out.
//!
//! Every annotation is resolved the way kernel/livepatch/core.c
//! (klp_find_object_symbol(), klp_find_callback()) will resolve it: the
//! name must exist in the object; position 0 needs a unique name there;
//! position N is the N-th symbol of that name in the kernel's order
//! ([`crate::symmap`]). A failure prints the valid choices as annotations
//! ready to paste. KLP_SYMBOL() and KLP_SYMBOL_FILE() annotations get
//! their object (vmlinux or the patched module) and position from the map.
//! Warnings point at risky targets: compiler clones, __init symbols and,
//! in vmlinux, exported symbols.

use std::fmt::Write as _;

use crate::error::Problem;
use crate::names::{self, Annotation, Request, SymbolRef, Wanted, VMLINUX};
use crate::symmap::{Candidate, Kind, Lookup, SymbolMap};

/// Candidates listed in one message, at most: a map with two million
/// symbols of one name printed 230 MB of choices.
const MAX_CHOICES: usize = 20;
/// Other objects listed where a name was not found, at most.
const MAX_ELSEWHERE: usize = 10;

/// Suffixes GCC and LLVM give to clones of a function.
const CLONE_MARKS: &[&str] = &[".isra.", ".constprop.", ".part.", ".cold", ".llvm."];

/// What a map says about one name in one object.
struct Found {
    object: String,
    describe: String,
    lookup: Lookup,
    has_files: bool,
    full_view: bool,
    exported: bool,
    clones: Vec<String>,
}

/// Resolves annotated symbol names with a [`SymbolMap`].
pub struct Resolver<'m> {
    map: &'m mut SymbolMap,
    /// One line per resolved annotation, for --verbose.
    pub notes: Vec<String>,
    /// Symbol map errors reported, and how many more annotations failed
    /// on each (reported once, not once per annotation).
    map_errors: Vec<(String, usize)>,
}

fn which_map(object: &str) -> String {
    if object == VMLINUX {
        "a /proc/kallsyms dump of the target kernel, its System.map or its vmlinux".to_string()
    } else {
        format!(
            "{object}.ko (or .ko.xz/.ko.zst), the target's /lib/modules/<release>, or a \
             /proc/kallsyms dump taken while {object} is loaded"
        )
    }
}

fn file_matches(have: &str, want: &str) -> bool {
    let have = have.trim_start_matches("./");
    let want = want.trim_start_matches("./");
    have == want
        || have.strip_suffix(want).is_some_and(|p| p.ends_with('/'))
        || want.strip_suffix(have).is_some_and(|p| p.ends_with('/'))
}

fn is_clone(name: &str) -> bool {
    CLONE_MARKS.iter().any(|m| name.contains(m))
}

fn describe_candidate(c: &Candidate, full_view: bool) -> String {
    let mut s = if full_view {
        format!("{} st_value 0x{:x}", c.ty, c.addr)
    } else {
        format!("{} {:016x}", c.ty, c.addr)
    };
    match &c.file {
        Some(f) => {
            let _ = write!(s, " {f}");
        }
        None => s.push_str(" (source file unknown)"),
    }
    if c.init {
        s.push_str(", __init");
    }
    if full_view && c.core_pos.is_none() {
        s.push_str(", gone after module init");
    }
    s
}

/// The valid annotations for `name` in `f`, one per line.
fn choices(patched: &str, name: &str, f: &Found) -> String {
    let mut out = String::new();
    let n = f.lookup.candidates.len();
    let unique_file = |file: &str| {
        f.lookup
            .candidates
            .iter()
            .filter(|c| c.file.as_deref().is_some_and(|x| file_matches(x, file)))
            .count()
            == 1
    };
    for c in f.lookup.candidates.iter().take(MAX_CHOICES) {
        let ann = if n == 1 {
            format!("KLP_RELOC_SYMBOL({patched}, {}, {name})", f.object)
        } else {
            format!(
                "KLP_RELOC_SYMBOL_POS({patched}, {}, {name}, {})",
                f.object, c.pos
            )
        };
        let _ = write!(
            out,
            "\n\t{ann}\t/* {} */",
            describe_candidate(c, f.full_view)
        );
        if let Some(file) = c.file.as_deref().filter(|_| n > 1) {
            if unique_file(file) {
                let _ = write!(
                    out,
                    "\n\t  or KLP_SYMBOL_FILE({patched}, {name}, \"{file}\")"
                );
            }
        }
    }
    if n > MAX_CHOICES {
        let _ = write!(
            out,
            "\n\t... and {} more symbols named {name} in {} (positions {} to {n})",
            n - MAX_CHOICES,
            f.object,
            MAX_CHOICES + 1
        );
    }
    out
}

impl<'m> Resolver<'m> {
    /// A resolver over `map`.
    pub fn new(map: &'m mut SymbolMap) -> Self {
        Resolver {
            map,
            notes: Vec::new(),
            map_errors: Vec::new(),
        }
    }

    fn find(&mut self, object: &str, name: &str) -> Result<Option<Found>, Problem> {
        let o = self
            .map
            .object(object)
            .map_err(|e| Problem::error(e.to_string()))?;
        let Some(o) = o else {
            return Ok(None);
        };
        let lookup = o.lookup(name);
        Ok(Some(Found {
            object: o.object.clone(),
            describe: o.describe(),
            has_files: matches!(o.kind, Kind::Vmlinux | Kind::Module(_)),
            full_view: o.full_view,
            exported: o.object == VMLINUX && o.is_exported(name),
            clones: if lookup.candidates.is_empty() {
                o.names_with_prefix(&format!("{name}."), 8)
            } else {
                Vec::new()
            },
            lookup,
        }))
    }

    /// Where else `name` exists: the objects the map has read so far.
    fn elsewhere(&self, patched: &str, name: &str, except: &str) -> String {
        let mut out = String::new();
        let mut listed = 0;
        let mut more = 0;
        for o in self.map.loaded_objects() {
            if o.object == except {
                continue;
            }
            let l = o.lookup(name);
            if l.candidates.is_empty() {
                continue;
            }
            if listed == MAX_ELSEWHERE {
                more += 1;
                continue;
            }
            listed += 1;
            let f = Found {
                object: o.object.clone(),
                describe: o.describe(),
                has_files: false,
                full_view: o.full_view,
                exported: false,
                clones: Vec::new(),
                lookup: l,
            };
            let _ = write!(
                out,
                "\n  {name} exists in {}:{}",
                f.describe,
                choices(patched, name, &f)
            );
        }
        if more > 0 {
            let _ = write!(out, "\n  ... and in {more} more object(s)");
        }
        out
    }

    fn not_found(&self, req: &Request<'_>, f: &Found) -> Problem {
        let mut msg = format!(
            "{} not found in {}; the kernel would fail to load the patch (\"symbol '{}' not \
             found in symbol table\")",
            req.name, f.describe, req.name
        );
        if !f.clones.is_empty() {
            let _ = write!(
                msg,
                "\n  compiler clones of that name: {} (warning: their names and calling \
                 conventions depend on the compiler's decisions)",
                f.clones.join(", ")
            );
        }
        msg.push_str(&self.elsewhere(req.patched_for(&f.object), &req.name, &f.object));
        Problem::error(msg)
    }

    /// One error per symbol map error that more annotations ran into
    /// after the first, which reported it.
    pub fn repeated_map_errors(&self) -> Vec<crate::error::Problem> {
        self.map_errors
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(msg, n)| {
                let first = msg.lines().next().unwrap_or_default();
                Problem::error(format!(
                    "{n} more annotation(s) need the symbol map that failed above ({first}); \
                     not reported again"
                ))
            })
            .collect()
    }

    /// Resolve one annotated symbol name: the annotation to convert
    /// (None on error) and the problems found.
    pub fn resolve<'w>(&mut self, wanted: Wanted<'w>) -> (Option<Annotation<'w>>, Vec<Problem>) {
        match wanted {
            Wanted::Name(raw) => match names::parse_request(raw) {
                Ok(r) => self.resolve_request(&r),
                Err(e) => (None, vec![Problem::error(e.to_string())]),
            },
            Wanted::Request(r) => self.resolve_request(r),
        }
    }

    /// A symbol map error, reported once: later ones only count.
    fn map_error<'w>(&mut self, p: Problem) -> (Option<Annotation<'w>>, Vec<Problem>) {
        if let Some(seen) = self.map_errors.iter_mut().find(|e| e.0 == p.message) {
            seen.1 += 1;
            return (None, Vec::new());
        }
        self.map_errors.push((p.message.clone(), 0));
        (None, vec![p])
    }

    fn resolve_request<'w>(&mut self, req: &Request<'w>) -> (Option<Annotation<'w>>, Vec<Problem>) {
        let objects: Vec<String> = match &req.object {
            Some(o) => vec![o.to_string()],
            // A plain reference: vmlinux and every module the maps list.
            None if req.is_plain() => match self.map.listed_modules() {
                Ok(mut m) => {
                    m.insert(0, VMLINUX.to_string());
                    m
                }
                Err(e) => return self.map_error(Problem::error(e.to_string())),
            },
            None if req.patched == VMLINUX => vec![VMLINUX.to_string()],
            None => vec![VMLINUX.to_string(), req.patched.to_string()],
        };
        let mut found = Vec::new();
        let mut unknown = Vec::new();
        for o in &objects {
            match self.find(o, &req.name) {
                Ok(Some(f)) => found.push(f),
                Ok(None) => unknown.push(o.clone()),
                Err(p) => return self.map_error(p),
            }
        }
        let sources = self.map.describe_sources();
        if found.is_empty() {
            let what = objects.join(" or ");
            let give: Vec<String> = objects.iter().map(|o| which_map(o)).collect();
            if let Some(a) = req.explicit() {
                let p = Problem::warning(format!(
                    "not checked: no symbol map given ({sources}) knows {what}; give {}",
                    give.join("; ")
                ));
                return (Some(a), vec![p]);
            }
            return (
                None,
                vec![Problem::error(format!(
                    "cannot infer the {} of {}: no symbol map given ({sources}) knows {what}; \
                     give {}",
                    if req.object.is_none() {
                        "object"
                    } else {
                        "position"
                    },
                    req.name,
                    give.join("; ")
                ))],
            );
        }
        if req.object.is_none() {
            let hits: Vec<usize> = (0..found.len())
                .filter(|i| {
                    found
                        .get(*i)
                        .is_some_and(|f| !f.lookup.candidates.is_empty())
                })
                .collect();
            match hits.as_slice() {
                [] => {
                    let mut msg = format!(
                        "{} not found in {}",
                        req.name,
                        found
                            .iter()
                            .map(|f| f.describe.clone())
                            .collect::<Vec<_>>()
                            .join(" nor in ")
                    );
                    if !unknown.is_empty() {
                        let _ = write!(
                            msg,
                            "; not searched: {} (give {})",
                            unknown.join(", "),
                            unknown
                                .iter()
                                .map(|o| which_map(o))
                                .collect::<Vec<_>>()
                                .join("; ")
                        );
                    }
                    for f in &found {
                        if !f.clones.is_empty() {
                            let _ = write!(
                                msg,
                                "\n  compiler clones in {}: {}",
                                f.object,
                                f.clones.join(", ")
                            );
                        }
                    }
                    return (None, vec![Problem::error(msg)]);
                }
                [one] => {
                    let f = found.swap_remove(*one);
                    if !unknown.is_empty() {
                        // Found in one object, the other was not searched.
                        return (
                            None,
                            vec![Problem::error(format!(
                                "cannot infer the object of {}: found in {}, but no map given \
                                 knows {} (give {}); name the object instead:{}",
                                req.name,
                                f.describe,
                                unknown.join(", "),
                                unknown
                                    .iter()
                                    .map(|o| which_map(o))
                                    .collect::<Vec<_>>()
                                    .join("; "),
                                choices(req.patched_for(&f.object), &req.name, &f)
                            ))],
                        );
                    }
                    return self.evaluate(req, f);
                }
                _ => {
                    let which: Vec<&str> = hits
                        .iter()
                        .filter_map(|i| found.get(*i))
                        .map(|f| f.object.as_str())
                        .collect();
                    let mut msg = format!(
                        "cannot infer the object of {}: {} define it; name it with one of:",
                        req.name,
                        which.join(" and ")
                    );
                    for f in hits.iter().filter_map(|i| found.get(*i)) {
                        msg.push_str(&choices(req.patched_for(&f.object), &req.name, f));
                    }
                    return (None, vec![Problem::error(msg)]);
                }
            }
        }
        let f = found.swap_remove(0);
        self.evaluate(req, f)
    }

    fn evaluate<'w>(
        &mut self,
        req: &Request<'w>,
        f: Found,
    ) -> (Option<Annotation<'w>>, Vec<Problem>) {
        let n = f.lookup.candidates.len() as u64;
        if n == 0 {
            return (None, vec![self.not_found(req, &f)]);
        }
        let name = &req.name;
        let list = choices(req.patched_for(&f.object), name, &f);
        let (index, pos) = match (req.pos, &req.file) {
            (Some(0), _) if n == 1 => (0, 0),
            (Some(0), _) => {
                return (
                    None,
                    vec![Problem::error(format!(
                        "position 0 needs a unique name, but {} has {n} symbols named {name}; \
                         the kernel would refuse the patch (\"unresolvable ambiguity\"); use \
                         one of:{list}",
                        f.describe
                    ))],
                )
            }
            (Some(p), _) if p <= n => ((p - 1) as usize, p),
            (Some(p), _) => {
                return (
                    None,
                    vec![Problem::error(format!(
                        "position {p} is out of range: {} has {n} symbol(s) named {name}; the \
                         kernel would fail to load the patch (\"symbol position {p} ... not \
                         found\"); use one of:{list}",
                        f.describe
                    ))],
                )
            }
            (None, None) if n == 1 => (0, 0),
            (None, None) => {
                return (
                    None,
                    vec![Problem::error(format!(
                        "cannot infer the position: {} has {n} symbols named {name}; name \
                         one with:{list}",
                        f.describe
                    ))],
                )
            }
            (None, Some(file)) => {
                if !f.has_files {
                    return (
                        None,
                        vec![Problem::error(format!(
                            "{} has no source file names (only an ELF vmlinux or .ko has): \
                             give vmlinux or the module with --symbols to resolve \
                             KLP_SYMBOL_FILE(), or use one of:{list}",
                            f.describe
                        ))],
                    );
                }
                let hits: Vec<usize> = (0..f.lookup.candidates.len())
                    .filter(|i| {
                        f.lookup
                            .candidates
                            .get(*i)
                            .and_then(|c| c.file.as_deref())
                            .is_some_and(|have| file_matches(have, file))
                    })
                    .collect();
                // A global symbol has no STT_FILE; a unique one is taken.
                let unknown_file = f
                    .lookup
                    .candidates
                    .first()
                    .is_some_and(|c| c.file.is_none());
                match hits.as_slice() {
                    [] if n == 1 && unknown_file => (0, 0),
                    [i] if n == 1 => (*i, 0),
                    [i] => (*i, *i as u64 + 1),
                    [] => {
                        return (
                            None,
                            vec![Problem::error(format!(
                                "none of the {n} symbol(s) named {name} in {} comes from \
                                 {file}; use one of:{list}",
                                f.describe
                            ))],
                        )
                    }
                    _ => {
                        return (
                            None,
                            vec![Problem::error(format!(
                                "{file} defines {} symbols named {name} in {}; name one \
                                 with:{list}",
                                hits.len(),
                                f.describe
                            ))],
                        )
                    }
                }
            }
        };
        let Some(c) = f.lookup.candidates.get(index) else {
            return (None, vec![Problem::error("internal error: no candidate")]);
        };
        let mut problems = Vec::new();
        if f.full_view {
            // A module: the kernel counts the whole symbol table while the
            // module loads and only the core symbols after its init.
            match c.core_pos {
                None => problems.push(Problem::warning(format!(
                    "{name} in {} is not kept after the module's init ({}): it resolves only \
                     when the patch is enabled before {} loads; enabled later, the patch \
                     fails to load (\"not found\"), and the memory is freed after init",
                    f.describe,
                    if c.init {
                        "__init, in an .init section"
                    } else {
                        "not in an allocated section"
                    },
                    f.object
                ))),
                Some(core) if pos != 0 && core != pos => problems.push(Problem::error(format!(
                    "position {pos} of {name} depends on the load order: counted over the \
                     whole symbol table of {} (patch enabled before the module loads) it is \
                     {}, but after the module's init the kernel counts only {} symbol(s) of \
                     that name and this one is number {core}; no annotation resolves the \
                     same way in both cases: patch a caller instead",
                    f.object,
                    describe_candidate(c, true),
                    f.lookup.core_count
                ))),
                Some(_) => {}
            }
        } else if c.init {
            problems.push(Problem::warning(format!(
                "{name} in {} is __init (between _sinittext/_einittext or __init_begin/\
                 __init_end): its memory is freed after boot, the resolved address points \
                 to freed memory",
                f.describe
            )));
        }
        if is_clone(name) {
            problems.push(Problem::warning(format!(
                "{name} is a compiler-made clone (.isra, .constprop, .part, .cold, .llvm.): \
                 its name, its calling convention and its existence depend on the compiler's \
                 decisions; check it against the exact build of the target"
            )));
        }
        if f.exported {
            problems.push(Problem::warning(format!(
                "vmlinux exports {name} (__ksymtab_{name}): reference it directly, without a \
                 livepatch relocation"
            )));
        }
        let target = SymbolRef {
            object: f.object.clone().into(),
            name: name.clone(),
            pos,
        };
        self.notes.push(format!(
            "symbol map: {} -> {} ({}, from {})",
            String::from_utf8_lossy(req_name(req).as_bytes()),
            target.klp_symbol_name(),
            describe_candidate(c, f.full_view),
            f.describe
        ));
        (
            Some(Annotation {
                patched: req.patched_for(&target.object).to_string().into(),
                target,
            }),
            problems,
        )
    }
}

/// The annotation's name as written, for notes.
fn req_name(req: &Request<'_>) -> String {
    if req.is_plain() {
        return format!("undefined {}", req.name);
    }
    let mut s = format!(
        "{}{}.{}.{},",
        names::ANNOTATION_PREFIX,
        req.patched,
        req.object.as_deref().unwrap_or(names::INFER),
        req.name
    );
    match (req.pos, &req.file) {
        (Some(p), _) => {
            let _ = write!(s, "{p}");
        }
        (None, Some(f)) => {
            let _ = write!(s, "*,{f}");
        }
        (None, None) => s.push('*'),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_match_by_path_suffix() {
        assert!(file_matches("fs/proc/cmdline.c", "fs/proc/cmdline.c"));
        assert!(file_matches("../fs/proc/cmdline.c", "fs/proc/cmdline.c"));
        assert!(file_matches("cmdline.c", "fs/proc/cmdline.c"));
        assert!(file_matches("./fs/proc/cmdline.c", "proc/cmdline.c"));
        assert!(!file_matches("fs/proc/xcmdline.c", "cmdline.c"));
        assert!(!file_matches("fs/proc/cmdline.c", "fs/proc/cmdline.h"));
    }

    #[test]
    fn clones() {
        assert!(is_clone("foo.isra.0"));
        assert!(is_clone("foo.cold"));
        assert!(is_clone("foo.llvm.123"));
        assert!(!is_clone("foo"));
    }

    #[test]
    fn request_names_round_trip() {
        for n in [
            ".klp.sym.rela.vmlinux.*.x,*",
            ".klp.sym.rela.ext4.*.x,*,fs/ext4/a.c",
            ".klp.sym.rela.ext4.ext4.x,2",
        ] {
            let r = names::parse_request(n.as_bytes()).unwrap();
            assert_eq!(req_name(&r), n);
        }
    }
}
