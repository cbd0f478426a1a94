// SPDX-License-Identifier: GPL-2.0-only
//! Symbol maps: the target kernel's symbols, per object (vmlinux or a
//! module), in the order the kernel counts them when it resolves a
//! livepatch symbol `.klp.sym.<obj>.<name>,<pos>`
//! (kernel/livepatch/core.c, klp_find_object_symbol()):
//!
//! - vmlinux: kallsyms order, i.e. ascending address (/proc/kallsyms and
//!   System.map list vmlinux in that order; a vmlinux ELF is sorted here);
//! - a module: the order of its symbol table, undefined symbols skipped.
//!   While the module loads (a patch enabled before it) the kernel counts
//!   the whole table; after its init it counts only the "core" symbols it
//!   keeps (no .init* sections, no SHN_ABS, allocated sections only), which
//!   is also what /proc/kallsyms lists for it.
//!
//! Sources ([`SymbolMap::new`]), detected from their contents: a
//! /proc/kallsyms dump or System.map ([`crate::symmap_text`]), vmlinux or a
//! module .ko/.ko.xz/.ko.zst/.ko.gz ([`crate::symmap_elf`]), a
//! `/lib/modules/<release>` tree ([`crate::symmap_tree`]). Nothing is read
//! before an annotation asks for an object, and a tree only yields the
//! modules asked for. When several sources know an object, the last one
//! given wins.
//!
//! Layers: this file is the map (sources, detection, reading on demand);
//! the format parsers ([`crate::symmap_text`], [`crate::symmap_elf`],
//! [`crate::symmap_tree`]) sit below it and produce the data model of
//! [`crate::objsyms`], below them all; nothing imports back up.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::names::VMLINUX;
pub use crate::objsyms::{
    module_name_of, Candidate, Compression, Entry, Kind, Lookup, ObjectSymbols, Str, SymMapError,
    FLAG_CORE, FLAG_INIT,
};
use crate::{symmap_elf, symmap_text, symmap_tree};

enum State {
    Pending,
    Loaded(Vec<usize>),
    /// Read once and failed: the error is given again, the file is not
    /// read again.
    Failed(SymMapError),
    Tree(Box<symmap_tree::Tree>),
}

struct Source {
    path: PathBuf,
    kind: Kind,
    state: State,
}

/// The symbol maps given on the command line, read on demand.
pub struct SymbolMap {
    sources: Vec<Source>,
    objects: Vec<ObjectSymbols>,
    /// Modules read from trees, by path, or why they could not be.
    tree_modules: HashMap<PathBuf, Result<usize, SymMapError>>,
    /// What was read and how long it took, for --verbose.
    pub log: Vec<String>,
}

/// Detect the kind of a file from its first bytes (and a directory).
pub fn detect(path: &Path) -> Result<Kind, SymMapError> {
    let meta = std::fs::metadata(path).map_err(|e| SymMapError::new(path, e.to_string()))?;
    if meta.is_dir() {
        return Ok(Kind::Tree);
    }
    let mut head = [0u8; 512];
    // Refuse a FIFO, a device or a socket before reading a byte (a FIFO
    // opens without waiting for a writer); the readers check again.
    let (mut f, _) = crate::sys::open_regular(path, u64::MAX)
        .map_err(|e| SymMapError::new(path, e.to_string()))?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => return Err(SymMapError::new(path, e.to_string())),
        }
    }
    let head = &head[..n];
    if head.starts_with(b"\x7fELF") {
        // e_type: bytes 16-17 in the file's byte order.
        let et = match (head.get(5), head.get(16), head.get(17)) {
            (Some(2), Some(hi), Some(lo)) => u16::from_be_bytes([*hi, *lo]),
            (Some(_), Some(lo), Some(hi)) => u16::from_le_bytes([*lo, *hi]),
            _ => return Err(SymMapError::new(path, "truncated ELF header")),
        };
        return Ok(if et == object::elf::ET_REL.0 {
            Kind::Module(Compression::None)
        } else {
            Kind::Vmlinux
        });
    }
    if head.starts_with(b"\xfd7zXZ\0") {
        return Ok(Kind::Module(Compression::Xz));
    }
    if head.starts_with(b"\x28\xb5\x2f\xfd") {
        return Ok(Kind::Module(Compression::Zstd));
    }
    if head.starts_with(b"\x1f\x8b") {
        return Ok(Kind::Module(Compression::Gzip));
    }
    symmap_text::detect(path, head)
}

impl SymbolMap {
    /// Check that every path exists and tell its kind; read nothing else.
    pub fn new(paths: &[PathBuf]) -> Result<Self, SymMapError> {
        let mut sources = Vec::new();
        for path in paths {
            let kind = detect(path)?;
            let state = if kind == Kind::Tree {
                State::Tree(Box::new(symmap_tree::Tree::new(path)))
            } else {
                State::Pending
            };
            sources.push(Source {
                path: path.clone(),
                kind,
                state,
            });
        }
        Ok(SymbolMap {
            sources,
            objects: Vec::new(),
            tree_modules: HashMap::new(),
            log: Vec::new(),
        })
    }

    /// True if no source was given.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The sources, for messages: `a.txt (kallsyms dump), /lib/modules/x
    /// (module tree)`.
    pub fn describe_sources(&self) -> String {
        let v: Vec<String> = self
            .sources
            .iter()
            .map(|s| format!("{} ({})", s.path.display(), s.kind))
            .collect();
        v.join(", ")
    }

    /// True if some source can know `object` without reading it: vmlinux
    /// needs a kallsyms dump, System.map or vmlinux; a module a kallsyms
    /// dump, its .ko or a tree.
    pub fn may_know(&self, object: &str) -> bool {
        self.sources.iter().any(|s| match s.kind {
            Kind::Kallsyms => true,
            Kind::SystemMap | Kind::Vmlinux => object == VMLINUX,
            Kind::Module(_) | Kind::Tree => object != VMLINUX,
        })
    }

    fn load(&mut self, i: usize) -> Result<(), SymMapError> {
        let Some(src) = self.sources.get(i) else {
            return Ok(());
        };
        match &src.state {
            State::Pending => {}
            State::Failed(e) => return Err(e.clone()),
            _ => return Ok(()),
        }
        let start = Instant::now();
        let path = src.path.clone();
        let kind = src.kind;
        let read = match kind {
            Kind::Kallsyms | Kind::SystemMap => symmap_text::read(&path, kind),
            Kind::Vmlinux => symmap_elf::read_vmlinux(&path).map(|o| vec![o]),
            Kind::Module(c) => symmap_elf::read_module(&path, c).map(|o| vec![o]),
            Kind::Tree => Ok(Vec::new()),
        };
        let objs = match read {
            Ok(objs) => objs,
            Err(e) => {
                if let Some(src) = self.sources.get_mut(i) {
                    src.state = State::Failed(e.clone());
                }
                return Err(e);
            }
        };
        let syms: usize = objs.iter().map(|o| o.entries.len()).sum();
        self.log.push(format!(
            "symbol map {} ({kind}): {} object(s), {syms} symbols, read in {:.1} ms",
            path.display(),
            objs.len(),
            start.elapsed().as_secs_f64() * 1e3
        ));
        let mut ids = Vec::new();
        for o in objs {
            ids.push(self.objects.len());
            self.objects.push(o);
        }
        if let Some(src) = self.sources.get_mut(i) {
            src.state = State::Loaded(ids);
        }
        Ok(())
    }

    fn tree_lookup(&mut self, i: usize, object: &str) -> Result<Option<usize>, SymMapError> {
        let Some(src) = self.sources.get_mut(i) else {
            return Ok(None);
        };
        let State::Tree(tree) = &mut src.state else {
            return Ok(None);
        };
        let found = tree.find(object);
        self.log.append(&mut tree.notes);
        let Some(path) = found? else {
            return Ok(None);
        };
        if let Some(known) = self.tree_modules.get(&path) {
            return known.clone().map(Some);
        }
        let read = self.read_tree_module(&path, object);
        self.tree_modules.insert(path, read.clone());
        read.map(Some)
    }

    fn read_tree_module(&mut self, path: &Path, object: &str) -> Result<usize, SymMapError> {
        let start = Instant::now();
        let kind = detect(path)?;
        let Kind::Module(c) = kind else {
            return Err(SymMapError::new(path, format!("not a module ({kind})")));
        };
        let mut o = symmap_elf::read_module(path, c)?;
        o.object = object.to_string();
        self.log.push(format!(
            "module {object}: {} ({kind}), {} symbols, read in {:.1} ms",
            path.display(),
            o.entries.len(),
            start.elapsed().as_secs_f64() * 1e3
        ));
        let id = self.objects.len();
        self.objects.push(o);
        Ok(id)
    }

    /// The symbols of `object` from the last source that knows it.
    pub fn object(&mut self, object: &str) -> Result<Option<&ObjectSymbols>, SymMapError> {
        for i in (0..self.sources.len()).rev() {
            let kind = match self.sources.get(i) {
                Some(s) => s.kind,
                None => continue,
            };
            let wanted = match kind {
                Kind::Kallsyms => true,
                Kind::SystemMap | Kind::Vmlinux => object == VMLINUX,
                // Named on the command line: few, and the name in .modinfo
                // counts.
                Kind::Module(_) => object != VMLINUX,
                Kind::Tree => {
                    if object == VMLINUX {
                        continue;
                    }
                    if let Some(id) = self.tree_lookup(i, object)? {
                        return Ok(self.objects.get(id));
                    }
                    continue;
                }
            };
            if !wanted {
                continue;
            }
            self.load(i)?;
            if let Some(Source {
                state: State::Loaded(ids),
                ..
            }) = self.sources.get(i)
            {
                let found = ids
                    .iter()
                    .copied()
                    .find(|id| self.objects.get(*id).is_some_and(|o| o.object == object));
                if let Some(id) = found {
                    return Ok(self.objects.get(id));
                }
            }
        }
        Ok(None)
    }

    /// The modules the maps list, in the order given: those of every
    /// kallsyms dump and every module file (read now); a tree lists none,
    /// it only answers for modules asked by name.
    pub fn listed_modules(&mut self) -> Result<Vec<String>, SymMapError> {
        let mut out: Vec<String> = Vec::new();
        for i in 0..self.sources.len() {
            if !matches!(
                self.sources.get(i).map(|s| s.kind),
                Some(Kind::Kallsyms | Kind::Module(_))
            ) {
                continue;
            }
            self.load(i)?;
            if let Some(Source {
                state: State::Loaded(ids),
                ..
            }) = self.sources.get(i)
            {
                for o in ids.iter().filter_map(|id| self.objects.get(*id)) {
                    if o.object != VMLINUX && !out.contains(&o.object) {
                        out.push(o.object.clone());
                    }
                }
            }
        }
        Ok(out)
    }

    /// Names of the modules the kallsyms dumps given so far list; used to
    /// suggest the right object.
    pub fn loaded_objects(&self) -> Vec<&ObjectSymbols> {
        self.objects.iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Item 5 of issue 12: a map that failed to load is not read again
    /// (the old code read, and decompressed, it once per annotation).
    #[test]
    fn failed_map_is_not_read_again() {
        let dir = std::env::temp_dir().join(format!("klp-symmap-once-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("tree")).unwrap();
        let map = dir.join("System.map");
        std::fs::write(&map, "ffffffff81000000 T _stext\nffffffff81000001 T\n").unwrap();
        let module = dir.join("tree/tgt.ko");
        std::fs::write(&module, b"\x7fELF junk").unwrap();
        let mut m = SymbolMap::new(&[map.clone(), dir.join("tree")]).unwrap();
        let e1 = m.object(VMLINUX).err().unwrap();
        let t1 = m.object("tgt").err().unwrap();
        // Fixed on disk: the failure stands, nothing is read again.
        std::fs::write(&map, "ffffffff81000000 T _stext\n").unwrap();
        std::fs::remove_file(&module).unwrap();
        assert_eq!(m.object(VMLINUX).err(), Some(e1));
        assert_eq!(m.object("tgt").err(), Some(t1));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_file_is_an_error() {
        let e = SymbolMap::new(&[PathBuf::from("/nonexistent/System.map")])
            .err()
            .unwrap();
        assert!(e
            .to_string()
            .starts_with("symbol map /nonexistent/System.map: "));
    }
}
