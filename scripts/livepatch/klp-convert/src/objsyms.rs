// SPDX-License-Identifier: GPL-2.0-only
//! One object's symbols, in the kernel's counting order: the data model
//! every symbol map parser produces ([`crate::symmap_text`],
//! [`crate::symmap_elf`], [`crate::symmap_tree`]) and [`crate::symmap`]
//! serves; it imports none of them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a symbol map could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymMapError {
    /// The file concerned.
    pub path: PathBuf,
    /// The line (text maps) concerned, 1-based.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl SymMapError {
    /// An error about `path`.
    pub fn new(path: &Path, message: impl Into<String>) -> Self {
        SymMapError {
            path: path.to_path_buf(),
            line: None,
            message: message.into(),
        }
    }

    /// An error about line `line` of `path`.
    pub fn at_line(path: &Path, line: usize, message: impl Into<String>) -> Self {
        SymMapError {
            line: Some(line),
            ..SymMapError::new(path, message)
        }
    }
}

impl fmt::Display for SymMapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "symbol map {}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ", line {line}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for SymMapError {}

/// What kind of file a source is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A /proc/kallsyms dump (vmlinux and the loaded modules).
    Kallsyms,
    /// A System.map (vmlinux).
    SystemMap,
    /// A vmlinux ELF file.
    Vmlinux,
    /// A module, possibly compressed.
    Module(Compression),
    /// A `/lib/modules/<release>` tree.
    Tree,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Kallsyms => "kallsyms dump",
            Kind::SystemMap => "System.map-format list",
            Kind::Vmlinux => "vmlinux ELF",
            Kind::Module(Compression::None) => "module",
            Kind::Module(Compression::Xz) => "xz-compressed module",
            Kind::Module(Compression::Zstd) => "zstd-compressed module",
            Kind::Module(Compression::Gzip) => "gzip-compressed module",
            Kind::Tree => "module tree",
        })
    }
}

/// How a module file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain ELF.
    None,
    /// xz (Debian 6.12).
    Xz,
    /// zstd.
    Zstd,
    /// gzip.
    Gzip,
}

/// The symbol is in an init section (.init.*), freed after boot or after
/// the module's init.
pub const FLAG_INIT: u8 = 1;
/// The module keeps the symbol in its kallsyms after init.
pub const FLAG_CORE: u8 = 2;

/// A (offset, length) slice of an object's name buffer; length 0: none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Str {
    /// Offset in the buffer.
    pub off: u32,
    /// Length in bytes.
    pub len: u32,
}

/// One symbol of an object.
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    /// The name.
    pub name: Str,
    /// Its source file (STT_FILE), if known.
    pub file: Str,
    /// Address (st_value for modules).
    pub addr: u64,
    /// nm-style type letter (`t`, `T`, `d`, ...).
    pub ty: u8,
    /// FLAG_* bits.
    pub flags: u8,
}

/// The symbols of one object, in the kernel's counting order.
#[derive(Debug, Clone)]
pub struct ObjectSymbols {
    /// vmlinux or the module's name (with `_`, as the kernel names it).
    pub object: String,
    /// The file they came from.
    pub source: PathBuf,
    /// The kind of that file.
    pub kind: Kind,
    /// True if `entries` is the module's whole symbol table (a .ko), so
    /// that both of the kernel's views can be computed; false if it is the
    /// core view only (/proc/kallsyms) or vmlinux.
    pub full_view: bool,
    /// Storage of names.
    pub buf: Arc<Vec<u8>>,
    /// The symbols.
    pub entries: Vec<Entry>,
    /// Address ranges of init code and data, where the map tells them.
    pub init_ranges: Vec<(u64, u64)>,
}

/// One symbol of a name, as a candidate for an annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Its position among the symbols of that name (1-based, full view).
    pub pos: u64,
    /// Its position in the core view of a module (None: not kept after
    /// init); equal to `pos` for vmlinux and kallsyms dumps.
    pub core_pos: Option<u64>,
    /// Address.
    pub addr: u64,
    /// nm-style type.
    pub ty: char,
    /// Source file, if known.
    pub file: Option<String>,
    /// In an init section.
    pub init: bool,
}

/// All symbols of one name in one object.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    /// In the kernel's order.
    pub candidates: Vec<Candidate>,
    /// How many of them the core view holds.
    pub core_count: u64,
}

impl ObjectSymbols {
    /// The bytes of `s`.
    pub fn str(&self, s: Str) -> &[u8] {
        let start = s.off as usize;
        self.buf
            .get(start..start.saturating_add(s.len as usize))
            .unwrap_or_default()
    }

    /// The name of an entry.
    pub fn name(&self, e: &Entry) -> &[u8] {
        self.str(e.name)
    }

    /// True if an entry is counted in the core view.
    fn is_core(&self, e: &Entry) -> bool {
        !self.full_view || e.flags & FLAG_CORE != 0
    }

    /// Every symbol called `name`, in the kernel's order.
    pub fn lookup(&self, name: &str) -> Lookup {
        let name = name.as_bytes();
        let mut out = Lookup::default();
        for e in &self.entries {
            if e.name.len as usize != name.len() || self.name(e) != name {
                continue;
            }
            let core_pos = if self.is_core(e) {
                out.core_count += 1;
                Some(out.core_count)
            } else {
                None
            };
            let file = (e.file.len > 0).then(|| crate::error::escape_bytes(self.str(e.file)));
            let init = e.flags & FLAG_INIT != 0
                || self
                    .init_ranges
                    .iter()
                    .any(|(lo, hi)| (*lo..*hi).contains(&e.addr));
            out.candidates.push(Candidate {
                pos: out.candidates.len() as u64 + 1,
                core_pos,
                addr: e.addr,
                ty: char::from(e.ty),
                file,
                init,
            });
        }
        out
    }

    /// True if a symbol called `name` exists.
    pub fn contains(&self, name: &[u8]) -> bool {
        self.entries
            .iter()
            .any(|e| e.name.len as usize == name.len() && self.name(e) == name)
    }

    /// Distinct names that start with `prefix` (compiler clones of a
    /// function: `foo.isra.0`, `foo.cold`), at most `max`.
    pub fn names_with_prefix(&self, prefix: &str, max: usize) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in &self.entries {
            let n = self.name(e);
            if n.len() > prefix.len() && n.starts_with(prefix.as_bytes()) {
                let s = crate::error::escape_bytes(n);
                if !out.contains(&s) {
                    out.push(s);
                    if out.len() >= max {
                        break;
                    }
                }
            }
        }
        out
    }

    /// True if vmlinux exports `name` (`__ksymtab_<name>` exists).
    pub fn is_exported(&self, name: &str) -> bool {
        let mut k = Vec::with_capacity(11 + name.len());
        k.extend_from_slice(b"__ksymtab_");
        k.extend_from_slice(name.as_bytes());
        self.contains(&k)
    }

    /// A short description for messages: `vmlinux (kallsyms dump x.txt)`.
    pub fn describe(&self) -> String {
        format!("{} ({} {})", self.object, self.kind, self.source.display())
    }
}

/// The module name the kernel uses for a file name: the part before
/// `.ko`, with `-` turned into `_`.
pub fn module_name_of(path: &Path) -> Option<String> {
    let file = path.file_name()?.to_str()?;
    let stem = [".ko", ".ko.xz", ".ko.zst", ".ko.gz"]
        .iter()
        .find_map(|ext| file.strip_suffix(ext))?;
    Some(stem.replace('-', "_"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names() {
        let n = |p: &str| module_name_of(Path::new(p));
        assert_eq!(
            n("/x/snd-hda-intel.ko.xz").as_deref(),
            Some("snd_hda_intel")
        );
        assert_eq!(n("ext4.ko").as_deref(), Some("ext4"));
        assert_eq!(n("a.ko.zst").as_deref(), Some("a"));
        assert_eq!(n("a.o"), None);
    }

    #[test]
    fn lookup_counts_both_views() {
        let buf = b"foofoofoobarx.c".to_vec();
        let s = |off, len| Str { off, len };
        let e = |name, addr, flags| Entry {
            name,
            file: s(12, 3),
            addr,
            ty: b't',
            flags,
        };
        let o = ObjectSymbols {
            object: "m".into(),
            source: PathBuf::from("m.ko"),
            kind: Kind::Module(Compression::None),
            full_view: true,
            buf: Arc::new(buf),
            entries: vec![
                e(s(0, 3), 1, FLAG_INIT),
                e(s(9, 3), 2, FLAG_CORE),
                e(s(3, 3), 3, FLAG_CORE),
            ],
            init_ranges: Vec::new(),
        };
        let l = o.lookup("foo");
        assert_eq!(l.candidates.len(), 2);
        assert_eq!(l.core_count, 1);
        assert_eq!(l.candidates[0].core_pos, None);
        assert!(l.candidates[0].init);
        assert_eq!(l.candidates[1].pos, 2);
        assert_eq!(l.candidates[1].core_pos, Some(1));
        assert_eq!(l.candidates[1].file.as_deref(), Some("x.c"));
        assert!(o.lookup("fo").candidates.is_empty());
        assert!(o.contains(b"bar"));
    }
}
