// SPDX-License-Identifier: GPL-2.0-only
//! The writer: a converted module laid out from the input and a plan,
//! written in one pass.
//!
//! A conversion changes little: some symbol entries (a new name, SHN_LIVEPATCH),
//! the relocation sections some entries leave, the `.klp.rela.` sections
//! they join, two string tables that grow, and the section indices after a
//! relocation section left empty and removed. Everything else is written
//! from the input's bytes as they are. [`Layout::new`] decides where every
//! section goes and what it holds, and refuses what it cannot write;
//! [`Layout::emit`] writes the file front to back and verifies as it goes
//! that nothing annotated is left (to a sink, that is the self-check of a
//! dry run); [`Layout::emit_file`] writes a large output in parts made side
//! by side, written by the calling thread.
//!
//! The layout is the one a linker makes: the ELF header, each section's
//! contents in section order at its alignment, then the section header
//! table. Existing string tables keep their bytes, the names they no longer
//! need included; new names are appended to them.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::sync::Mutex;

use object::elf;

use crate::convert::Plan;
use crate::elf::{Module, Section, SHF_RELA_LIVEPATCH, SHN_LIVEPATCH};
use crate::error::Error;
use crate::names;
use crate::par::lock;

/// A section that is not in the output (a removed relocation section).
const GONE: u32 = u32::MAX;
/// SHN_LORESERVE: section indices from here on need the extended fields.
const SHN_LORESERVE: usize = 0xff00;
/// SHN_XINDEX.
const SHN_XINDEX: u16 = 0xffff;

/// Where an output section's contents come from. Indices are u32, as
/// ELF counts sections: a module has tens of thousands of sections, and
/// the layout holds one of these for each.
#[derive(Debug, Clone, Copy)]
enum Content {
    /// None (SHT_NULL, SHT_NOBITS).
    Empty,
    /// Input section `.0`'s bytes, unchanged.
    Input(u32),
    /// A string table: input section `.0`'s bytes, then `appended[.1]`.
    Strings(u32, u32),
    /// The symbol string table, written anew.
    SymbolNames,
    /// The symbol table, renamed and renumbered entries patched.
    Symtab(u32),
    /// The SHT_SYMTAB_SHNDX section, renumbered.
    Shndx(u32),
    /// A relocation section without the entries that move.
    Kept(u32),
    /// A `.klp.rela.` section: an existing one's entries (input section
    /// `.0`, [`GONE`] for none), then the entries moved to destination
    /// `.1`.
    Klp(u32, u32),
    /// Made here: `owned[.0]` (a section group, renumbered).
    Owned(u32),
}

/// One section of the output: 48 bytes.
#[derive(Debug)]
struct OutSection {
    /// The input section whose sh_flags, sh_addr, sh_addralign and
    /// sh_entsize it keeps; [`GONE`] for a new livepatch relocation
    /// section, 0 for the null section.
    from: u32,
    name: u32,
    sh_type: u32,
    link: u32,
    info: u32,
    offset: u64,
    size: u64,
    content: Content,
}

/// A converted module, ready to be checked and written.
pub(crate) struct Layout<'a, 'data> {
    module: &'a Module<'data>,
    plan: &'a Plan,
    /// The input's ELF header, patched.
    header: Vec<u8>,
    sections: Vec<OutSection>,
    /// Per input section: its index in the output, or [`GONE`].
    new_index: Vec<u32>,
    /// Per symbol: an index into `plan.symbols`, or [`GONE`].
    renamed: Vec<u32>,
    /// The same as a bit set, small enough to stay in the cache while
    /// the relocations are checked.
    renamed_bits: Vec<u64>,
    /// The instructions the rewritten relocations change: the section,
    /// the offset and the new bytes, in that order.
    insns: Vec<(usize, u64, [u8; 4])>,
    /// Bytes appended to string tables.
    appended: Vec<Vec<u8>>,
    /// Contents made here ([`Content::Owned`]).
    owned: Vec<Vec<u8>>,
    /// Per input section: the range of `plan.moves` that leave it.
    leaving: Vec<(u32, u32)>,
    /// The relocation sections entries leave, grouped by the section
    /// they relocate (a destination's target), in section order, and
    /// where each target's group starts (one more for the end): a
    /// destination's moves are found in its target's sources, not in a
    /// list of their own as long as the moves.
    sources: Vec<u32>,
    source_start: Vec<u32>,
    /// Size of one RELA entry and of one symbol.
    rela_size: usize,
    sym_size: usize,
    shoff: u64,
    size: u64,
}

fn build_error(msg: String) -> Error {
    Error::Build(msg)
}

fn align_up(value: u64, align: u64) -> Option<u64> {
    if align <= 1 {
        return Some(value);
    }
    value.checked_add(align - 1).map(|v| v / align * align)
}

/// Store the `len` (1, 2, 4 or 8) low bytes of `value` in `buf` at `at`,
/// in the file's byte order.
#[inline]
fn put(buf: &mut [u8], at: usize, len: usize, value: u64, big_endian: bool) {
    let Some(dst) = buf.get_mut(at..at.saturating_add(len)) else {
        return;
    };
    let (le, be) = (value.to_le_bytes(), value.to_be_bytes());
    let src = if big_endian {
        be.get(8 - len.min(8)..)
    } else {
        le.get(..len.min(8))
    };
    if let Some(src) = src.filter(|s| s.len() == dst.len()) {
        dst.copy_from_slice(src);
    }
}

/// Read `len` (1, 2, 4 or 8) bytes at `at` in the file's byte order; 0
/// outside `buf`.
fn get(buf: &[u8], at: usize, len: usize, big_endian: bool) -> u64 {
    crate::elf::uint_at(buf, at, len, big_endian).unwrap_or(0)
}

/// The steps of [`Layout::new`] that run side by side.
#[derive(Debug, Clone, Copy)]
enum Step {
    Moves,
    Symbols,
    Names,
}

/// Per input section, the range of `plan.moves` that leave it; per
/// destination, at its index + 1, how many moves go to it.
type Leaving = (Vec<(u32, u32)>, Vec<u32>);

/// The string tables that grow, what each gets, and the offset of each
/// new section's name.
type NewNames = (Vec<usize>, Vec<Vec<u8>>, Vec<u32>);

/// What each [`Step`] made.
enum Done {
    Moves(Result<Leaving, Error>),
    Symbols(Result<Vec<u32>, Error>, Result<u64, Error>),
    Names(Result<NewNames, Error>),
}

impl<'a, 'data> Layout<'a, 'data> {
    /// Lay out the conversion of `data` (parsed as `module`) by `plan`.
    pub(crate) fn new(
        data: &'data [u8],
        module: &'a Module<'data>,
        plan: &'a Plan,
    ) -> Result<Self, Error> {
        let is_64 = module.is_64;
        let (ehdr_size, shdr_size, sym_size) = if is_64 { (64, 64, 24) } else { (52, 40, 16) };
        let rela_size = module.rela_entsize() as usize;
        let n = module.sections.len();
        if module.phnum != 0 {
            return Err(build_error(format!(
                "the file has {} program headers; a relocatable module has none",
                module.phnum
            )));
        }
        if n == 0 {
            return Err(build_error("the file has no section headers".into()));
        }

        // Three steps that need nothing of each other, side by side in a
        // large conversion: the moves, the symbols, the new sections'
        // names.
        let strtab_index = module
            .section(module.symtab)
            .filter(|_| module.symtab != 0)
            .map(|s| s.link as usize);
        let large = plan.moves.len() + module.symbols.len() >= 2 * crate::par::MIN_SPLIT;
        let steps = vec![Step::Moves, Step::Symbols, Step::Names];
        let mut done = crate::par::each(large, steps, |step| match step {
            Step::Moves => Done::Moves(Self::moves(module, plan)),
            Step::Symbols => {
                let renamed = Self::renamed(module, plan);
                let size = renamed
                    .as_ref()
                    .map_or(Ok(0), |r| Self::strtab_size(module, plan, strtab_index, r));
                Done::Symbols(renamed, size)
            }
            Step::Names => Done::Names(Self::dest_names(module, plan)),
        })
        .into_iter();
        let (Some(Done::Moves(moves)), Some(Done::Symbols(renamed, strtab_size))) =
            (done.next(), done.next())
        else {
            return Err(build_error("internal error: a step of the layout".into()));
        };
        let Some(Done::Names(dest_names)) = done.next() else {
            return Err(build_error("internal error: a step of the layout".into()));
        };
        let (leaving, mut dest_start) = moves?;

        for i in 1..dest_start.len() {
            dest_start[i] += dest_start[i - 1];
        }
        // The sections entries leave, by target (a counting sort, stable).
        let mut source_start = vec![0u32; n + 1];
        let leaves = |s: &&Section<'_>| leaving.get(s.index).is_some_and(|r| r.1 > r.0);
        for s in module.sections.iter().filter(leaves) {
            if let Some(c) = source_start.get_mut(s.info as usize + 1) {
                *c += 1;
            }
        }
        for i in 1..source_start.len() {
            source_start[i] += source_start[i - 1];
        }
        let mut fill = source_start.clone();
        let mut sources = vec![0u32; source_start.last().copied().unwrap_or(0) as usize];
        for s in module.sections.iter().filter(leaves) {
            if let Some(f) = fill.get_mut(s.info as usize) {
                if let Some(slot) = sources.get_mut(*f as usize) {
                    *slot = s.index as u32;
                }
                *f += 1;
            }
        }

        // Sections left empty go; existing `.klp.rela.` sections stay.
        let mut new_index = vec![GONE; n];
        let mut count = 0u32;
        for s in &module.sections {
            let (start, end) = leaving.get(s.index).copied().unwrap_or((0, 0));
            let moved = (end - start) as usize;
            if moved > 0 && moved == s.relocs.len() {
                continue;
            }
            if let Some(slot) = new_index.get_mut(s.index) {
                *slot = count;
            }
            count += 1;
        }
        let renumber = |what: &dyn Fn() -> String, old: u32| -> Result<u32, Error> {
            if old == 0 {
                return Ok(0);
            }
            match new_index.get(old as usize) {
                Some(&GONE) => Err(build_error(format!(
                    "{} refers to section {old}, a relocation section the conversion leaves \
                     empty and removes",
                    what()
                ))),
                Some(i) => Ok(*i),
                None => Err(build_error(format!(
                    "{} refers to section {old}, which does not exist",
                    what()
                ))),
            }
        };

        let renamed = renamed?;
        // Every symbol's section must stay, under its new index.
        for (index, (sym, r)) in module.symbols.iter().zip(&renamed).enumerate() {
            let Some(section) = module.symbol_section(index).filter(|_| *r == GONE) else {
                continue;
            };
            renumber(&|| format!("symbol {}", sym.display_name()), section.get())?;
        }
        let strtab_size = strtab_size?;
        let (tables, appended, dest_names) = dest_names?;

        // The destination that extends each existing section.
        let mut extends = vec![GONE; n];
        for (d, dest) in plan.dests.iter().enumerate() {
            if let Some(slot) = dest.existing.and_then(|i| extends.get_mut(i)) {
                *slot = d as u32;
            }
        }

        // The sections, in order, then the new ones.
        let mut sections = Vec::with_capacity(count as usize + dest_names.len());
        let mut owned = Vec::new();
        for s in &module.sections {
            if new_index.get(s.index) == Some(&GONE) {
                continue;
            }
            let what = || format!("section {}", s.display_name());
            // Below e_shnum, which ELF stores in 32 bits at most.
            let index = u32::try_from(s.index)
                .map_err(|_| build_error(format!("{} has too high an index", what())))?;
            let link = renumber(&what, s.link)?;
            let info_is_index = s.is_reloc() || s.flags & elf::SHF_INFO_LINK.0 != 0;
            let info = if info_is_index {
                renumber(&what, s.info)?
            } else {
                s.info
            };
            let (start, end) = leaving.get(s.index).copied().unwrap_or((0, 0));
            let mut size = s.size;
            let content = if s.index == 0 {
                Content::Empty
            } else if Some(s.index) == strtab_index && strtab_size > 0 {
                size = strtab_size;
                Content::SymbolNames
            } else if let Some(k) = tables.iter().position(|t| *t == s.index) {
                size += appended.get(k).map_or(0, |a| a.len() as u64);
                Content::Strings(index, k as u32)
            } else if s.index == module.symtab {
                Content::Symtab(index)
            } else if s.index == module.symtab_shndx && module.symtab_shndx != 0 {
                Content::Shndx(index)
            } else if end > start {
                size = ((s.relocs.len() - (end - start) as usize) * rela_size) as u64;
                Content::Kept(index)
            } else if let Some(d) = extends
                .get(s.index)
                .filter(|d| **d != GONE)
                .map(|d| *d as usize)
            {
                let moved = dest_start.get(d + 1).copied().unwrap_or(0)
                    - dest_start.get(d).copied().unwrap_or(0);
                if s.sh_type != elf::SHT_RELA.0 || s.data.is_none() {
                    return Err(build_error(format!(
                        "cannot append to livepatch relocation section {}",
                        s.display_name()
                    )));
                }
                size += moved as u64 * rela_size as u64;
                Content::Klp(index, d as u32)
            } else if s.sh_type == elf::SHT_GROUP.0 {
                let bytes = Self::group(module, s, &new_index)?;
                size = bytes.len() as u64;
                owned.push(bytes);
                Content::Owned(owned.len() as u32 - 1)
            } else if s.sh_type == elf::SHT_NOBITS.0 {
                Content::Empty
            } else {
                Content::Input(index)
            };
            sections.push(OutSection {
                from: index,
                name: s.name_offset,
                sh_type: s.sh_type,
                link,
                info,
                offset: 0,
                size,
                content,
            });
        }
        let symtab_new = new_index.get(module.symtab).copied().unwrap_or(0);
        let mut names = dest_names.into_iter();
        for (d, dest) in plan.dests.iter().enumerate() {
            if dest.existing.is_some() {
                continue;
            }
            let moved = dest_start.get(d + 1).copied().unwrap_or(0)
                - dest_start.get(d).copied().unwrap_or(0);
            let target = renumber(
                &|| "a livepatch relocation section".into(),
                dest.target as u32,
            )?;
            sections.push(OutSection {
                from: GONE,
                name: names.next().unwrap_or(0),
                sh_type: elf::SHT_RELA.0,
                link: symtab_new,
                info: target,
                offset: 0,
                size: moved as u64 * rela_size as u64,
                content: Content::Klp(GONE, d as u32),
            });
        }

        // File offsets.
        let mut at = ehdr_size as u64;
        for s in sections.iter_mut().skip(1) {
            let offset = align_up(at, Self::header(module, s).2)
                .ok_or_else(|| build_error("file offsets overflow".into()))?;
            s.offset = offset;
            if !matches!(s.content, Content::Empty) {
                at = offset
                    .checked_add(s.size)
                    .ok_or_else(|| build_error("file offsets overflow".into()))?;
            }
        }
        let shoff = align_up(at, module.addr_size())
            .ok_or_else(|| build_error("file offsets overflow".into()))?;
        let size = (sections.len() as u64)
            .checked_mul(shdr_size as u64)
            .and_then(|t| t.checked_add(shoff))
            .ok_or_else(|| build_error("file offsets overflow".into()))?;

        // The ELF header: the input's, with the section header table's
        // place, size and count, and no program headers.
        let big = module.big_endian;
        let mut header = data
            .get(..ehdr_size)
            .ok_or_else(|| build_error("truncated ELF header".into()))?
            .to_vec();
        let shnum = sections.len();
        let shstrndx = new_index.get(module.shstrndx).copied().unwrap_or(0) as usize;
        let (shnum_field, shstrndx_field) = (
            if shnum >= SHN_LORESERVE {
                0
            } else {
                shnum as u64
            },
            if shstrndx >= SHN_LORESERVE {
                u64::from(SHN_XINDEX)
            } else {
                shstrndx as u64
            },
        );
        if let Some(s0) = sections.first_mut() {
            *s0 = OutSection {
                from: 0,
                name: 0,
                sh_type: 0,
                offset: 0,
                size: if shnum >= SHN_LORESERVE {
                    shnum as u64
                } else {
                    0
                },
                link: if shstrndx >= SHN_LORESERVE {
                    shstrndx as u32
                } else {
                    0
                },
                info: 0,
                content: Content::Empty,
            };
        }
        if is_64 {
            put(&mut header, 32, 8, 0, big); // e_phoff
            put(&mut header, 40, 8, shoff, big);
            put(&mut header, 52, 2, ehdr_size as u64, big);
            put(&mut header, 56, 2, 0, big); // e_phnum
            put(&mut header, 58, 2, shdr_size as u64, big);
            put(&mut header, 60, 2, shnum_field, big);
            put(&mut header, 62, 2, shstrndx_field, big);
        } else {
            put(&mut header, 28, 4, 0, big);
            put(&mut header, 32, 4, shoff, big);
            put(&mut header, 40, 2, ehdr_size as u64, big);
            put(&mut header, 44, 2, 0, big);
            put(&mut header, 46, 2, shdr_size as u64, big);
            put(&mut header, 48, 2, shnum_field, big);
            put(&mut header, 50, 2, shstrndx_field, big);
        }

        let mut insns: Vec<(usize, u64, [u8; 4])> = plan
            .rewrites
            .iter()
            .filter_map(|r| Some((r.target, r.offset, r.rewrite.insn?)))
            .collect();
        insns.sort_unstable();

        let mut renamed_bits = vec![0u64; renamed.len().div_ceil(64)];
        for (i, r) in renamed.iter().enumerate() {
            if let Some(w) = renamed_bits.get_mut(i / 64).filter(|_| *r != GONE) {
                *w |= 1 << (i % 64);
            }
        }

        Ok(Layout {
            module,
            plan,
            header,
            sections,
            new_index,
            renamed,
            renamed_bits,
            insns,
            appended,
            owned,
            leaving,
            sources,
            source_start,
            rela_size,
            sym_size,
            shoff,
            size,
        })
    }

    /// Which entries leave which section, in file order, and how many go
    /// to each destination (at the destination's index + 1). Moves come
    /// in runs from one section: its entry count is looked up once per
    /// run.
    fn moves(module: &Module<'_>, plan: &Plan) -> Result<Leaving, Error> {
        let mut leaving = vec![(0u32, 0u32); module.sections.len()];
        let mut dest_start = vec![0u32; plan.dests.len() + 1];
        let mut last: Option<(u32, u32)> = None;
        let mut relocs = (u32::MAX, 0usize, None);
        for (i, m) in plan.moves.iter().enumerate() {
            let ordered = match last {
                Some((from, entry)) => (m.from, m.entry) > (from, entry),
                None => true,
            };
            if m.from != relocs.0 {
                let from = module.section(m.from as usize);
                let len = from.map_or(0, |s| s.relocs.len());
                relocs = (m.from, len, from.map(|s| s.info as usize));
            }
            let count = (m.dest as usize)
                .checked_add(1)
                .and_then(|k| dest_start.get_mut(k));
            // A destination is for the section its moves' source relocates.
            let target = plan.dests.get(m.dest as usize).map(|d| d.target);
            let valid = ordered
                && (m.entry as usize) < relocs.1
                && count.is_some()
                && target.is_some_and(|t| Some(t) == relocs.2);
            let (Some(count), true) = (count, valid) else {
                return Err(build_error(format!(
                    "internal error: move {i} of the plan is out of order or out of range"
                )));
            };
            *count += 1;
            if let Some(r) = leaving.get_mut(m.from as usize) {
                if r.1 == 0 {
                    r.0 = i as u32;
                }
                r.1 = i as u32 + 1;
            }
            last = Some((m.from, m.entry));
        }

        Ok((leaving, dest_start))
    }

    /// Per symbol: its index in `plan.symbols`, or [`GONE`].
    fn renamed(module: &Module<'_>, plan: &Plan) -> Result<Vec<u32>, Error> {
        let mut renamed = vec![GONE; module.symbols.len()];
        for (i, change) in plan.symbols.iter().enumerate() {
            match renamed.get_mut(change.index) {
                Some(r) => *r = i as u32,
                None => {
                    return Err(build_error(format!(
                        "internal error: no symbol with index {}",
                        change.index
                    )))
                }
            }
        }
        Ok(renamed)
    }

    /// String table `index` of `module`, or why it cannot be one.
    fn string_table<'m, 'd>(
        module: &'m Module<'d>,
        index: usize,
        what: &str,
    ) -> Result<&'m Section<'d>, Error> {
        module
            .section(index)
            .filter(|s| index != 0 && s.sh_type == elf::SHT_STRTAB.0 && s.data.is_some())
            .ok_or_else(|| {
                build_error(format!(
                    "the {what} (section {index}) is not a string table with contents"
                ))
            })
    }

    /// The size of the symbol string table (section `strtab`), written
    /// anew: a NUL, then every symbol's name in symbol table order, so
    /// that it holds no annotated name and depends on the final names
    /// only (an inferred annotation and its explicit twin give the same
    /// bytes); 0 if no symbol is renamed.
    fn strtab_size(
        module: &Module<'_>,
        plan: &Plan,
        strtab: Option<usize>,
        renamed: &[u32],
    ) -> Result<u64, Error> {
        if plan.symbols.is_empty() {
            return Ok(0);
        }
        let index = strtab.ok_or_else(|| build_error("no symbol table".into()))?;
        Self::string_table(module, index, "symbol string table")?;
        if index == module.shstrndx {
            return Err(build_error(
                "the symbol and section names share one string table; klp-convert \
                 writes them apart"
                    .into(),
            ));
        }
        let mut size = 1u64;
        for (sym, r) in module.symbols.iter().zip(renamed) {
            let len = match plan.symbols.get(*r as usize) {
                Some(change) => {
                    names::SYMBOL_PREFIX.len() + plan.new_name_tail(module, change).len()
                }
                None => sym.name.len(),
            };
            if len > 0 {
                size += len as u64 + 1;
            }
        }
        if u32::try_from(size).is_err() {
            return Err(build_error(
                "the symbol string table would exceed 4 GiB".into(),
            ));
        }
        Ok(size)
    }

    /// The names of the new livepatch relocation sections, appended to the
    /// section name string table: the tables that grow, what each gets,
    /// and each name's offset.
    fn dest_names(module: &Module<'_>, plan: &Plan) -> Result<NewNames, Error> {
        let mut tables: Vec<usize> = Vec::new();
        let mut appended: Vec<Vec<u8>> = Vec::new();
        // A name added to string table `index` by `name`.
        let mut append =
            |index: usize, name: &dyn Fn(&mut Vec<u8>), what: &str| -> Result<u32, Error> {
                let table = Self::string_table(module, index, what)?;
                let k = match tables.iter().position(|t| *t == index) {
                    Some(k) => k,
                    None => {
                        tables.push(index);
                        appended.push(Vec::new());
                        tables.len() - 1
                    }
                };
                let buf = appended
                    .get_mut(k)
                    .ok_or_else(|| build_error("append".into()))?;
                let offset = table.size.saturating_add(buf.len() as u64);
                let offset = u32::try_from(offset)
                    .map_err(|_| build_error(format!("the {what} would exceed 4 GiB")))?;
                name(buf);
                buf.push(0);
                Ok(offset)
            };
        let mut dest_names = Vec::with_capacity(plan.dests.len());
        for d in plan.dests.iter().filter(|d| d.existing.is_none()) {
            dest_names.push(append(
                module.shstrndx,
                &|buf| plan.push_dest_name(module, d, buf),
                "section name string table",
            )?);
        }

        Ok((tables, appended, dest_names))
    }

    /// The sh_flags, sh_addr, sh_addralign and sh_entsize of `s`: those of
    /// the input section it comes from, the livepatch relocation
    /// section's for a new one.
    fn header(module: &Module<'_>, s: &OutSection) -> (u64, u64, u64, u64) {
        match s.from {
            0 => (0, 0, 0, 0),
            GONE => (
                elf::SHF_ALLOC.0 | elf::SHF_INFO_LINK.0 | SHF_RELA_LIVEPATCH,
                0,
                module.addr_size(),
                module.rela_entsize(),
            ),
            i => module.section(i as usize).map_or((0, 0, 1, 0), |i| {
                (i.flags, i.addr, i.addralign.max(1), i.entsize)
            }),
        }
    }

    /// A section group's contents with its members renumbered; the
    /// relocation sections removed leave it.
    fn group(module: &Module<'_>, s: &Section<'_>, new_index: &[u32]) -> Result<Vec<u8>, Error> {
        let data = s.data.unwrap_or_default();
        if data.len() % 4 != 0 || data.is_empty() {
            return Err(build_error(format!(
                "section group {} has a size that is not a multiple of 4",
                s.display_name()
            )));
        }
        let big = module.big_endian;
        let mut out = Vec::with_capacity(data.len());
        out.extend_from_slice(data.get(..4).unwrap_or_default());
        for member in data.chunks_exact(4).skip(1) {
            let old = get(member, 0, 4, big) as usize;
            match new_index.get(old) {
                Some(&GONE) => continue,
                Some(&i) => {
                    let mut b = [0u8; 4];
                    put(&mut b, 0, 4, u64::from(i), big);
                    out.extend_from_slice(&b);
                }
                None => {
                    return Err(build_error(format!(
                        "section group {} names section {old}, which does not exist",
                        s.display_name()
                    )))
                }
            }
        }
        Ok(out)
    }

    /// The size of the output in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// The moves that leave section `index`.
    fn leaving(&self, index: usize) -> &'a [crate::convert::Move] {
        let (start, end) = self.leaving.get(index).copied().unwrap_or((0, 0));
        self.plan
            .moves
            .get(start as usize..end as usize)
            .unwrap_or_default()
    }

    /// The moves to destination `dest`, in plan order: those of the
    /// sections that leave its target for it.
    fn arriving(&self, dest: usize) -> impl Iterator<Item = &'a crate::convert::Move> + '_ {
        let target = self.plan.dests.get(dest).map_or(usize::MAX, |d| d.target);
        let start = self.source_start.get(target).copied().unwrap_or(0) as usize;
        let end = self.source_start.get(target + 1).copied().unwrap_or(0) as usize;
        let dest = u32::try_from(dest).unwrap_or(u32::MAX);
        self.sources
            .get(start..end)
            .unwrap_or_default()
            .iter()
            .flat_map(|s| self.leaving(*s as usize))
            .filter(move |m| m.dest == dest)
    }

    /// True if symbol `sym` is renamed.
    #[inline]
    fn is_renamed(&self, sym: u32) -> bool {
        let sym = sym as usize;
        self.renamed_bits
            .get(sym / 64)
            .is_some_and(|w| w & (1 << (sym % 64)) != 0)
    }

    /// The self-check of a relocation section written with the entries
    /// of input section `index` that do not leave it: it keeps none
    /// against a renamed symbol. The moves are distinct entries (Layout::new
    /// checked their order) that reference renamed symbols (checked as
    /// they are written): it keeps none if it has as many entries against
    /// renamed symbols as leave it.
    fn check_kept(&self, index: usize) -> io::Result<()> {
        let Some(section) = self.module.section(index) else {
            return Ok(());
        };
        if !section.is_reloc() || section.link as usize != self.module.symtab {
            return Ok(());
        }
        let mut against_renamed = 0usize;
        section
            .relocs
            .for_each_sym(|_, sym| against_renamed += usize::from(self.is_renamed(sym)));
        if against_renamed != self.leaving(index).len() {
            return Err(invalid(format!(
                "section {} keeps a relocation against a renamed symbol",
                section.display_name()
            )));
        }
        Ok(())
    }

    /// The rewrite of moved relocation `m`, if the architecture has one.
    fn rewrite_of(&self, m: &crate::convert::Move) -> Option<&'a crate::convert::Rewritten> {
        let rewrites = &self.plan.rewrites;
        if rewrites.is_empty() {
            return None;
        }
        rewrites
            .binary_search_by_key(&(m.from, m.entry), |r| (r.from, r.entry))
            .ok()
            .and_then(|i| rewrites.get(i))
    }

    /// A relocation entry with another type.
    fn retyped(&self, entry: &[u8], r_type: u32) -> Vec<u8> {
        let mut e = entry.to_vec();
        let big = self.module.big_endian;
        // r_info: symbol and type; the type is its low 32 bits in ELF64,
        // its low 8 bits in ELF32.
        let (at, len, mask) = if self.module.is_64 {
            (8, 8, 0xffff_ffff)
        } else {
            (4, 4, 0xff)
        };
        if e.len() >= at + len {
            let info = get(&e, at, len, big);
            put(
                &mut e,
                at,
                len,
                (info & !mask) | (u64::from(r_type) & mask),
                big,
            );
        }
        e
    }

    /// An input section's contents, with the instructions that rewritten
    /// relocations change.
    fn emit_input(&self, w: &mut Sink<'_>, index: usize, data: &[u8]) -> io::Result<()> {
        // Found by section, not by a look at every rewrite for every
        // section: an arm64 module may have thousands of each.
        let start = self.insns.partition_point(|i| i.0 < index);
        let end = self.insns.partition_point(|i| i.0 <= index);
        let patches = self.insns.get(start..end).unwrap_or_default();
        if patches.is_empty() {
            return w.put(data);
        }
        let mut from = 0usize;
        for &(_, at, insn) in patches {
            let Ok(at) = usize::try_from(at) else {
                continue;
            };
            // The architecture read those 4 bytes; two rewrites of one
            // instruction would be the same.
            let (Some(before), Some(end)) = (data.get(from..at), at.checked_add(4)) else {
                continue;
            };
            if end > data.len() {
                continue;
            }
            w.put(before)?;
            w.put(&insn)?;
            from = end;
        }
        w.put(data.get(from..).unwrap_or_default())
    }

    /// Write the output to `w`, front to back. The self-check runs as it
    /// goes: no symbol keeps an annotated name, every moved relocation
    /// references a renamed symbol, and no relocation left in an
    /// ordinary relocation section does; a failure is an error [`invalid`]
    /// makes, and the output is not to be used.
    pub(crate) fn emit(&self, w: &mut dyn Write) -> io::Result<()> {
        let mut sink = Sink::new(w, 0);
        self.emit_part(&mut sink, 1, self.sections.len())?;
        sink.flush()
    }

    /// [`Layout::emit`] to `file`, new and empty: a large output in parts
    /// written side by side, each at its offset.
    pub(crate) fn emit_file(&self, file: &File) -> io::Result<()> {
        self.emit_file_split(file, crate::par::MIN_SPLIT)
    }

    /// [`Layout::emit_file`], in [`crate::par::parts`] parts for the moves
    /// and `min_split`.
    fn emit_file_split(&self, file: &File, min_split: usize) -> io::Result<()> {
        let cuts = self.cuts(crate::par::parts(self.plan.moves.len(), min_split));
        if cuts.len() < 2 {
            let mut w = file;
            return self.emit(&mut w);
        }
        let parts: Vec<(usize, (usize, u64))> = cuts.iter().copied().enumerate().collect();
        // The calling thread writes what the other makes (see Handoff).
        let caller = std::thread::current().id();
        let handoff = Handoff {
            file,
            full: Mutex::new(Vec::new()),
            empty: Mutex::new(Vec::new()),
        };
        // Each thread gathers small pieces in one buffer for all its parts.
        let init = || {
            let writes = std::thread::current().id() == caller;
            (Vec::with_capacity(SINK), writes)
        };
        let written = crate::par::each_with(true, parts, init, |(buf, writes), (i, (from, at))| {
            let next = cuts.get(i + 1).copied();
            let to = next.map_or(self.sections.len(), |(k, _)| k);
            let out = Out::File(file, Some((&handoff, *writes)));
            let mut sink = Sink::with_buffer(out, at, std::mem::take(buf));
            self.emit_part(&mut sink, from, to)?;
            if let Some((_, end)) = next {
                sink.pad(end)?;
            }
            sink.flush()?;
            *buf = sink.buf;
            Ok(())
        });
        written.into_iter().collect::<io::Result<()>>()?;
        // What the other thread handed over last.
        handoff.drain()
    }

    /// Where the output splits into up to `parts` parts of about the same
    /// work: the first section of each part and its offset, the first
    /// part's being section 1 at offset 0 (the ELF header). Each cut is
    /// the section boundary nearest its share of the work; cuts that fall
    /// on the same boundary are one.
    fn cuts(&self, parts: usize) -> Vec<(usize, u64)> {
        let mut cuts = vec![(1usize, 0u64)];
        if parts < 2 {
            return cuts;
        }
        let n = parts as u64;
        let total: u64 = self.sections.iter().map(|s| self.cost(s)).sum();
        let share = |part: u64| total / n * part + total % n * part / n;
        let mut push = |cut: (usize, u64)| {
            if cuts.last().is_some_and(|(last, _)| cut.0 > *last) {
                cuts.push(cut);
            }
        };
        // One pass over where a part can start (a section with contents
        // after the first): each share goes to the start before it or the
        // one after it, whichever is nearer (the one before on a tie).
        let mut part = 1;
        let mut before = 0u64;
        let mut last: Option<(u64, (usize, u64))> = None;
        for (k, s) in self.sections.iter().enumerate() {
            if k >= 2 && !matches!(s.content, Content::Empty) {
                while part < n && before >= share(part) {
                    let want = share(part);
                    match last {
                        Some((b, cut)) if want - b <= before - want => push(cut),
                        _ => push((k, s.offset)),
                    }
                    part += 1;
                }
                last = Some((before, (k, s.offset)));
            }
            before += self.cost(s);
        }
        // The shares after the last start.
        if let Some((_, cut)) = last.filter(|_| part < n) {
            push(cut);
        }
        cuts
    }

    /// About what writing `s` costs, in tenths of a nanosecond, as
    /// measured on the benchmark's modules (dev-harness/bench): 30 ns for
    /// a section, 0.4 ns for a byte copied, 15 ns for a relocation entry
    /// that stays, 20 ns for one that moves (looked up in its source
    /// section), 16 ns for a symbol and 25 ns for its name.
    fn cost(&self, s: &OutSection) -> u64 {
        let symbols = self.module.symbols.len() as u64;
        let entries = |size: u64| size / self.rela_size.max(1) as u64;
        let work = match s.content {
            Content::SymbolNames => 250 * symbols,
            Content::Symtab(_) => 160 * symbols,
            Content::Shndx(_) => 20 * symbols,
            Content::Kept(_) => 150 * entries(s.size),
            Content::Klp(..) => 200 * entries(s.size),
            Content::Input(_) | Content::Strings(..) | Content::Owned(_) => 4 * s.size,
            Content::Empty => 0,
        };
        300 + work
    }

    /// Write sections `from..to` (the ELF header before section 1, the
    /// section header table after the last), each at its offset.
    fn emit_part(&self, w: &mut Sink<'_>, from: usize, to: usize) -> io::Result<()> {
        if from <= 1 {
            w.put(&self.header)?;
        }
        for s in self.sections.get(from..to).unwrap_or_default() {
            if matches!(s.content, Content::Empty) {
                continue;
            }
            w.pad(s.offset)?;
            let start = w.n;
            self.emit_content(w, s)?;
            let written = w.n - start;
            if written != s.size {
                return Err(io::Error::other(format!(
                    "internal error: {written} bytes written for a section of {}",
                    s.size
                )));
            }
        }
        if to < self.sections.len() {
            return Ok(());
        }
        w.pad(self.shoff)?;
        let big = self.module.big_endian;
        for s in &self.sections {
            let (flags, addr, addralign, entsize) = Self::header(self.module, s);
            let fields = [
                u64::from(s.name),
                u64::from(s.sh_type),
                flags,
                addr,
                s.offset,
                s.size,
                u64::from(s.link),
                u64::from(s.info),
                addralign,
                entsize,
            ];
            // Whole headers of a size known here: each is encoded and
            // copied without a call.
            if self.module.is_64 {
                w.put_fixed(&encode::<64>(&SHDR64, fields, big))?;
            } else {
                w.put_fixed(&encode::<40>(&SHDR32, fields, big))?;
            }
        }
        Ok(())
    }

    /// Write one section's contents.
    fn emit_content(&self, w: &mut Sink<'_>, s: &OutSection) -> io::Result<()> {
        let data = |index: usize| {
            self.module
                .section(index)
                .and_then(|s| s.data)
                .unwrap_or_default()
        };
        match s.content {
            Content::Empty => {}
            Content::Input(index) => {
                let index = index as usize;
                self.emit_input(w, index, data(index))?;
                self.check_kept(index)?;
            }
            Content::Owned(k) => w.put(self.owned.get(k as usize).map_or(&[], Vec::as_slice))?,
            Content::Strings(index, k) => {
                w.put(data(index as usize))?;
                w.put(self.appended.get(k as usize).map_or(&[], Vec::as_slice))?;
            }
            Content::SymbolNames => {
                // Every name is checked here, where its bytes are read to
                // be written: no symbol keeps an annotation as its name.
                w.put(&[0])?;
                for (sym, r) in self.module.symbols.iter().zip(&self.renamed) {
                    let name = match self.plan.symbols.get(*r as usize) {
                        Some(change) => {
                            // The prefix, then this: an annotation if it
                            // starts with what follows the prefix in one.
                            let tail = self.plan.new_name_tail(self.module, change);
                            if names::is_annotation_tail(tail) {
                                let name = self.plan.new_name(self.module, change);
                                return Err(invalid(format!(
                                    "the new name \"{}\" is an annotation",
                                    crate::error::escape_bytes(&name)
                                )));
                            }
                            w.put(names::SYMBOL_PREFIX.as_bytes())?;
                            tail
                        }
                        None if sym.name.is_empty() => continue,
                        None if names::is_annotation(sym.name) => {
                            return Err(invalid(format!(
                                "symbol {} is left annotated",
                                crate::error::escape_bytes(sym.name)
                            )));
                        }
                        None => sym.name,
                    };
                    w.put_name(name)?;
                }
            }
            Content::Symtab(index) => {
                let bytes = data(index as usize);
                let count = self.module.symbols.len();
                let big = self.module.big_endian;
                let mut e = [0u8; 24];
                // Names as Content::SymbolNames writes them.
                let mut next_name = 1u64;
                for (i, raw) in bytes.chunks_exact(self.sym_size).take(count).enumerate() {
                    let e = e.get_mut(..self.sym_size).unwrap_or_default();
                    e.copy_from_slice(raw);
                    let (info_at, shndx_at) = if self.module.is_64 { (4, 6) } else { (12, 14) };
                    let r = self.renamed.get(i).copied().unwrap_or(GONE);
                    // The names' lengths only: Content::SymbolNames
                    // reads and checks their bytes.
                    let len = match self.plan.symbols.get(r as usize) {
                        Some(change) => {
                            names::SYMBOL_PREFIX.len()
                                + self.plan.new_name_tail(self.module, change).len()
                        }
                        None => self.module.symbols.get(i).map_or(0, |s| s.name.len()),
                    };
                    let name = if len == 0 { 0 } else { next_name };
                    if len > 0 {
                        next_name += len as u64 + 1;
                    }
                    if !self.plan.symbols.is_empty() {
                        put(e, 0, 4, name, big);
                    }
                    match r {
                        GONE => {
                            let shndx = get(e, shndx_at, 2, big) as usize;
                            if shndx != 0 && shndx < SHN_LORESERVE {
                                let new = self.new_index.get(shndx).copied().unwrap_or(0);
                                put(e, shndx_at, 2, u64::from(new), big);
                            }
                        }
                        _ => {
                            // GLOBAL NOTYPE SHN_LIVEPATCH, value and size 0;
                            // st_other is kept.
                            let info = (elf::STB_GLOBAL.0 << 4) | elf::STT_NOTYPE.0;
                            let (value_at, size_at, width) = if self.module.is_64 {
                                (8, 16, 8)
                            } else {
                                (4, 8, 4)
                            };
                            put(e, info_at, 1, u64::from(info), big);
                            put(e, shndx_at, 2, u64::from(SHN_LIVEPATCH), big);
                            put(e, value_at, width, 0, big);
                            put(e, size_at, width, 0, big);
                        }
                    }
                    w.put_entry(e)?;
                }
                w.put(bytes.get(count * self.sym_size..).unwrap_or_default())?;
            }
            Content::Shndx(index) => {
                let bytes = data(index as usize);
                let big = self.module.big_endian;
                let count = self.module.symbols.len();
                for (i, raw) in bytes.chunks_exact(4).take(count).enumerate() {
                    let mut e = [0u8; 4];
                    e.copy_from_slice(raw);
                    let xindex = self
                        .module
                        .symbols
                        .get(i)
                        .is_some_and(|s| s.shndx == SHN_XINDEX);
                    let renamed = self.renamed.get(i).is_some_and(|r| *r != GONE);
                    let old = get(&e, 0, 4, big) as usize;
                    let new = if renamed {
                        0
                    } else if xindex && old != 0 {
                        self.new_index.get(old).copied().unwrap_or(0)
                    } else {
                        old as u32
                    };
                    put(&mut e, 0, 4, u64::from(new), big);
                    w.put(&e)?;
                }
                w.put(
                    bytes
                        .get(count.min(bytes.len() / 4) * 4..)
                        .unwrap_or_default(),
                )?;
            }
            Content::Kept(index) => {
                let index = index as usize;
                let bytes = data(index);
                let size = self.rela_size;
                let mut from = 0usize;
                for m in self.leaving(index) {
                    let e = m.entry as usize;
                    w.put_entry(bytes.get(from * size..e * size).unwrap_or_default())?;
                    from = e + 1;
                }
                let len = self.module.section(index).map_or(0, |s| s.relocs.len());
                w.put(bytes.get(from * size..len * size).unwrap_or_default())?;
                self.check_kept(index)?;
            }
            Content::Klp(existing, dest) => {
                if existing != GONE {
                    w.put(data(existing as usize))?;
                }
                // Moves come by source section: its entries are looked up
                // once per run of moves from it.
                let mut from: Option<&Section<'_>> = None;
                let size = self.rela_size;
                for m in self.arriving(dest as usize) {
                    let section = match from {
                        Some(section) if section.index == m.from as usize => section,
                        _ => {
                            let section =
                                self.module.section(m.from as usize).ok_or_else(|| {
                                    invalid(format!(
                                        "a move from section {}, which is missing",
                                        m.from
                                    ))
                                })?;
                            from = Some(section);
                            section
                        }
                    };
                    let at = m.entry as usize * size;
                    if !section
                        .relocs
                        .sym(m.entry as usize)
                        .is_some_and(|s| self.is_renamed(s))
                    {
                        return Err(invalid(format!(
                            "the relocation at offset 0x{at:x} of section {}, moved, references \
                             a symbol that is not renamed",
                            section.display_name()
                        )));
                    }
                    let table = section.data.unwrap_or_default();
                    let entry = table.get(at..at + size).unwrap_or_default();
                    match self.rewrite_of(m) {
                        Some(r) => w.put(&self.retyped(entry, r.rewrite.r_type))?,
                        None => w.put_entry(entry)?,
                    }
                }
            }
        }
        Ok(())
    }
}

/// An `N`-byte structure whose fields, at the offsets and of the sizes in
/// `layout`, hold `values`.
#[inline(always)]
fn encode<const N: usize>(layout: &[(usize, usize); 10], values: [u64; 10], big: bool) -> [u8; N] {
    let mut out = [0u8; N];
    for ((at, len), value) in layout.iter().zip(values) {
        put(&mut out, *at, *len, value, big);
    }
    out
}

/// Offset and size of the fields of a section header, in the order
/// sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link,
/// sh_info, sh_addralign, sh_entsize.
const SHDR64: [(usize, usize); 10] = [
    (0, 4),
    (4, 4),
    (8, 8),
    (16, 8),
    (24, 8),
    (32, 8),
    (40, 4),
    (44, 4),
    (48, 8),
    (56, 8),
];
const SHDR32: [(usize, usize); 10] = [
    (0, 4),
    (4, 4),
    (8, 4),
    (12, 4),
    (16, 4),
    (20, 4),
    (24, 4),
    (28, 4),
    (32, 4),
    (36, 4),
];

/// What the thread that makes parts of the output hands to the thread
/// that writes them, with the other parts it makes: its pieces, each
/// with the offset it goes to. Writes to one file take turns (a buffered
/// write holds the file's lock while it copies), and a thread waiting
/// for its turn spins: two threads that both wrote spent a tenth of
/// their time there at 300k relocations. A piece waits in a buffer of
/// its own, which comes back empty; while [`HANDOFF_DEPTH`] of them wait,
/// the maker writes its next piece itself, so that the memory it takes
/// stays bounded.
struct Handoff<'f> {
    file: &'f File,
    full: Mutex<Vec<(u64, Vec<u8>)>>,
    empty: Mutex<Vec<Vec<u8>>>,
}

/// The most pieces that wait to be written.
const HANDOFF_DEPTH: usize = 2;

impl Handoff<'_> {
    /// Hand the piece in `buf`, to be written at `at`, over, and leave
    /// an empty buffer in its place: false if too many wait already.
    fn hand(&self, at: u64, buf: &mut Vec<u8>) -> bool {
        if lock(&self.full).len() >= HANDOFF_DEPTH {
            return false;
        }
        let empty = lock(&self.empty)
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(SINK));
        lock(&self.full).push((at, std::mem::replace(buf, empty)));
        true
    }

    /// Write the pieces handed over.
    fn drain(&self) -> io::Result<()> {
        loop {
            let Some((at, buf)) = lock(&self.full).pop() else {
                return Ok(());
            };
            self.file.write_all_at(&buf, at)?;
            let mut buf = buf;
            buf.clear();
            lock(&self.empty).push(buf);
        }
    }
}

/// The self-check found the output wrong: the message, in an io::Error
/// so that the writer can stop with it.
#[derive(Debug)]
pub(crate) struct Invalid(pub(crate) String);

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

fn invalid(what: String) -> io::Error {
    io::Error::other(Invalid(format!(
        "internal error: the converted module fails validation: {what}"
    )))
}

/// The self-check's message, if `e` is its failure.
pub(crate) fn invalid_message(e: &io::Error) -> Option<&str> {
    e.get_ref()
        .and_then(|e| e.downcast_ref::<Invalid>())
        .map(|i| i.0.as_str())
}

/// What [`Sink`] gathers before it writes.
const SINK: usize = 256 << 10;

/// Where a [`Sink`] writes.
enum Out<'w> {
    /// Front to back, to any writer.
    Stream(&'w mut dyn Write),
    /// To a file, each piece at its offset (pwrite), beside another sink
    /// writing another part of it; with a [`Handoff`], the sink of the
    /// thread that writes to the file (true) or of the one that hands its
    /// pieces to it (false).
    File(&'w File, Option<(&'w Handoff<'w>, bool)>),
}

/// The output writer: small pieces (symbols, relocation entries) are
/// gathered in a buffer, large ones (the input's sections) written
/// directly.
struct Sink<'w> {
    out: Out<'w>,
    buf: Vec<u8>,
    /// The offset of the end of what was put so far, the buffer's
    /// included.
    n: u64,
}

impl<'w> Sink<'w> {
    /// A sink writing to `w` from offset `n` of the output.
    fn new(w: &'w mut dyn Write, n: u64) -> Self {
        Sink {
            out: Out::Stream(w),
            buf: Vec::with_capacity(SINK),
            n,
        }
    }

    /// A sink writing to `out` from offset `n`, gathering in `buf`
    /// (emptied first).
    fn with_buffer(out: Out<'w>, n: u64, mut buf: Vec<u8>) -> Self {
        buf.clear();
        Sink { out, buf, n }
    }

    /// Add `bytes`: most pieces are a symbol or a relocation entry, which
    /// go to the buffer inline.
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.len() < 64 && self.buf.len() + bytes.len() <= SINK {
            self.n += bytes.len() as u64;
            self.buf.extend_from_slice(bytes);
            return Ok(());
        }
        self.put_any(bytes)
    }

    /// [`Sink::put`] for a piece whose size is known at compile time (an
    /// ELF64 symbol or RELA entry): copied without a call.
    #[inline(always)]
    fn put_fixed<const N: usize>(&mut self, bytes: &[u8; N]) -> io::Result<()> {
        if self.buf.len() + N <= SINK {
            self.n += N as u64;
            self.buf.extend_from_slice(bytes);
            return Ok(());
        }
        self.put_any(bytes)
    }

    /// A name and its NUL.
    #[inline(always)]
    fn put_name(&mut self, name: &[u8]) -> io::Result<()> {
        if name.len() < 512 && self.buf.len() + name.len() < SINK {
            self.n += name.len() as u64 + 1;
            self.buf.extend_from_slice(name);
            self.buf.push(0);
            return Ok(());
        }
        self.put(name)?;
        self.put(&[0])
    }

    /// A relocation entry or a symbol: the ELF64 sizes without a call.
    #[inline(always)]
    fn put_entry(&mut self, bytes: &[u8]) -> io::Result<()> {
        match <&[u8; 24]>::try_from(bytes) {
            Ok(e) => self.put_fixed(e),
            Err(_) => self.put(bytes),
        }
    }

    /// [`Sink::put`] for what does not go to the buffer inline: out of
    /// line, so that the callers' loops stay small.
    #[cold]
    #[inline(never)]
    fn put_any(&mut self, bytes: &[u8]) -> io::Result<()> {
        // What is gathered goes out first, whenever a piece bypasses
        // the buffer or does not fit in it.
        let large = bytes.len() >= SINK / 2;
        if large || self.buf.len() + bytes.len() > SINK {
            self.write_buf()?;
        }
        if large {
            self.write_at(bytes, self.n)?;
        } else {
            self.buf.extend_from_slice(bytes);
        }
        self.n += bytes.len() as u64;
        Ok(())
    }

    /// Write zeros up to offset `to`.
    fn pad(&mut self, to: u64) -> io::Result<()> {
        if to > self.n {
            let k = usize::try_from(to - self.n).unwrap_or(usize::MAX);
            if self.buf.len() + k > SINK {
                self.write_buf()?;
            }
            if k >= SINK {
                // Bounded by the alignment checks; rare.
                let zeros = [0; 4096];
                while self.n < to {
                    let step = (to - self.n).min(zeros.len() as u64);
                    self.write_at(zeros.get(..step as usize).unwrap_or_default(), self.n)?;
                    self.n += step;
                }
            } else {
                self.buf.resize(self.buf.len() + k, 0);
            }
            self.n = to;
        }
        Ok(())
    }

    /// Write what is gathered, which ends at `n`; a sink that hands its
    /// pieces over hands the buffer itself, and takes an empty one.
    fn write_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let at = self.n - self.buf.len() as u64;
        if let Out::File(_, Some((handoff, false))) = self.out {
            if handoff.hand(at, &mut self.buf) {
                return Ok(());
            }
        }
        let buf = std::mem::take(&mut self.buf);
        let written = self.write_at(&buf, at);
        self.buf = buf;
        self.buf.clear();
        written
    }

    /// Write `bytes` at offset `at`: the next bytes of a stream.
    fn write_at(&mut self, bytes: &[u8], at: u64) -> io::Result<()> {
        match &mut self.out {
            Out::Stream(w) => w.write_all(bytes),
            Out::File(file, handoff) => {
                file.write_all_at(bytes, at)?;
                match handoff {
                    Some((handoff, true)) => handoff.drain(),
                    _ => Ok(()),
                }
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.write_buf()?;
        match &mut self.out {
            Out::Stream(w) => w.flush(),
            Out::File(..) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::convert::{layout, plan};
    use crate::elf::Module;
    use crate::testutil::object;

    const ANN: &str = ".klp.sym.rela.vmlinux.vmlinux.x,0";

    /// A livepatch module with `n` relocations at .text, every other one
    /// against an annotated symbol.
    fn module(n: u64) -> Vec<u8> {
        let relocs: Vec<_> = (0..n)
            .map(|i| (i % 4 * 8, if i % 2 == 0 { ANN } else { "plain" }, 1, 0))
            .collect();
        object(b"livepatch=Y\0", &[ANN, "plain"], &relocs)
    }

    /// A plan that leaves a relocation against a renamed symbol behind
    /// fails the check the writer makes, whichever way it writes.
    #[test]
    fn a_wrong_plan_fails_the_check() {
        let data = module(8);
        let m = Module::parse(&data).unwrap();
        let mut p = plan(&m);
        assert_eq!(p.moves.len(), 4);
        p.moves.pop();
        let out = layout(&data, &m, &p).unwrap();
        let e = out.check().unwrap_err().to_string();
        assert!(
            e.contains("fails validation: section .rela.text keeps a relocation against a renamed"),
            "{e}"
        );
        let e = out.emit(&mut Vec::new()).unwrap_err();
        assert!(crate::convert::is_invalid(&e), "{e}");
        assert!(
            out.0
                .cuts(crate::par::parts(out.0.plan.moves.len(), 1))
                .len()
                > 1
        );
        let (dir, path) = scratch("wrong");
        let file = File::create(&path).unwrap();
        let e = out.0.emit_file_split(&file, 1).unwrap_err();
        assert!(crate::convert::is_invalid(&e), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A plan whose moves are out of file order or name an entry, a
    /// section or a destination that does not exist is refused, with the
    /// first wrong move named.
    #[test]
    fn a_plan_out_of_order_or_range_is_refused() {
        let data = module(8);
        let m = Module::parse(&data).unwrap();
        let p = plan(&m);
        assert_eq!(p.moves.len(), 4);
        let wrong = |k: usize, change: &dyn Fn(&mut crate::convert::Move)| {
            let mut p = plan(&m);
            change(&mut p.moves[k]);
            match layout(&data, &m, &p) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("move {k} changed, laid out"),
            }
        };
        let first = p.moves[0];
        let e = wrong(1, &|mv| *mv = first);
        assert!(e.contains("move 1 of the plan is out of order"), "{e}");
        let e = wrong(3, &|mv| mv.entry = 1000);
        assert!(e.contains("move 3 of the plan"), "{e}");
        let e = wrong(2, &|mv| mv.dest = u32::MAX);
        assert!(e.contains("move 2 of the plan"), "{e}");
        let e = wrong(3, &|mv| mv.from = 1000);
        assert!(e.contains("move 3 of the plan"), "{e}");
        let e = wrong(0, &|mv| mv.dest = p.dests.len() as u32);
        assert!(e.contains("move 0 of the plan"), "{e}");
        // A destination for another section than its source relocates.
        let mut other = plan(&m);
        let mut dest = other.dests[0].clone();
        dest.target += 1;
        other.dests.push(dest);
        other.moves[1].dest = 1;
        let e = layout(&data, &m, &other).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("move 1 of the plan")));
    }

    /// A plan that moves a relocation against a symbol it does not rename
    /// (in place of one it does, so that the counts still agree) fails
    /// the check, naming the section and the entry's offset.
    #[test]
    fn a_wrong_move_fails_the_check() {
        let data = module(8);
        let m = Module::parse(&data).unwrap();
        let mut p = plan(&m);
        assert_eq!(p.moves.first().map(|m| m.entry), Some(0));
        if let Some(first) = p.moves.first_mut() {
            first.entry = 1;
        }
        let out = layout(&data, &m, &p).unwrap();
        let e = out.check().unwrap_err().to_string();
        assert!(
            e.contains("the relocation at offset 0x18 of section .rela.text, moved, references"),
            "{e}"
        );
    }

    /// A scratch directory and the output path in it.
    fn scratch(what: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let dir = crate::testutil::scratch("convert-write", what);
        let path = dir.join("out.ko");
        (dir, path)
    }

    /// A large output written in parts side by side, cut where each takes
    /// about its share of the work, is the output written front to back,
    /// whatever the number of parts.
    #[test]
    fn parts_make_the_same_file() {
        // 40 sections of 100 relocations, every other one annotated.
        let relocs: Vec<_> = (0..100)
            .map(|i| (i % 4 * 8, if i % 2 == 0 { ANN } else { "plain" }, 1, 0))
            .collect();
        let texts: Vec<String> = (0..40).map(|i| format!(".text.f{i}")).collect();
        let sections: Vec<(&str, usize)> = texts.iter().map(|t| (t.as_str(), 32)).collect();
        let relas: Vec<_> = (0..40).map(|i| (i, relocs.as_slice())).collect();
        let data =
            crate::testutil::object_with(b"livepatch=Y\0", &[ANN, "plain"], &sections, &relas);
        let m = Module::parse(&data).unwrap();
        let p = plan(&m);
        assert_eq!(p.moves.len(), 2000);
        let out = layout(&data, &m, &p).unwrap();
        assert_eq!(crate::par::parts(p.moves.len(), 1001), 1);
        assert_eq!(out.0.cuts(1), vec![(1, 0)]);
        let mut whole = Vec::new();
        out.emit(&mut whole).unwrap();
        let costs: Vec<u64> = out.0.sections.iter().map(|s| out.0.cost(s)).collect();
        let total: u64 = costs.iter().sum();
        let largest = costs.iter().copied().max().unwrap_or(0);
        // Each share's cut is the start nearest it, the one before it on
        // a tie, as a search of every start finds it.
        let mut starts = Vec::new();
        let mut before = 0u64;
        for (k, s) in out.0.sections.iter().enumerate() {
            if k >= 2 && !matches!(s.content, Content::Empty) {
                starts.push((before, (k, s.offset)));
            }
            before += costs[k];
        }
        for parts in 2..=16u64 {
            let mut want = vec![(1usize, 0u64)];
            for part in 1..parts {
                let share = total / parts * part + total % parts * part / parts;
                let nearest = starts
                    .iter()
                    .min_by_key(|(b, _)| b.abs_diff(share))
                    .map(|(_, cut)| *cut)
                    .unwrap();
                if nearest.0 > want.last().unwrap().0 {
                    want.push(nearest);
                }
            }
            assert_eq!(out.0.cuts(parts as usize), want, "{parts} parts");
        }
        for parts in [2, 3, 8] {
            let cuts = out.0.cuts(parts);
            assert_eq!(cuts.len(), parts, "{cuts:?}");
            // Each part takes about its share: it misses it by less than
            // the costliest section, which one of them must take.
            let mut ends: Vec<usize> = cuts.iter().skip(1).map(|c| c.0).collect();
            ends.push(costs.len());
            let mut from = 0;
            for ((k, at), end) in cuts.iter().zip(ends) {
                assert!(*k >= 1 && end > *k, "{cuts:?}");
                assert!(*k == 1 || out.0.sections[*k].offset == *at);
                let work: u64 = costs[from..end].iter().sum();
                assert!(work.abs_diff(total / parts as u64) <= largest, "{cuts:?}");
                from = end;
            }
        }
        for min_split in [1000, 500, 1] {
            let (dir, path) = scratch("parts");
            let file = File::create(&path).unwrap();
            out.0.emit_file_split(&file, min_split).unwrap();
            drop(file);
            let parts = std::fs::read(&path).unwrap();
            std::fs::remove_dir_all(&dir).unwrap();
            assert_eq!(parts.len(), whole.len());
            assert!(parts == whole, "the parts differ from the whole");
        }
    }

    /// A sink that hands its pieces over hands as many as may wait and
    /// writes the others itself; the writer writes the handed ones where
    /// they go.
    #[test]
    fn handed_pieces_are_written_where_they_go() {
        let (dir, path) = scratch("handoff");
        let file = File::create(&path).unwrap();
        let handoff = Handoff {
            file: &file,
            full: Mutex::new(Vec::new()),
            empty: Mutex::new(Vec::new()),
        };
        let mut want = Vec::new();
        let out = Out::File(&file, Some((&handoff, false)));
        let mut maker = Sink::with_buffer(out, 0, Vec::new());
        // Two pieces a buffer, six buffers: more than may wait.
        for i in 0..12u8 {
            let piece = vec![i + 1; SINK / 2 - 1];
            maker.put(&piece).unwrap();
            want.extend_from_slice(&piece);
        }
        maker.flush().unwrap();
        assert_eq!(lock(&handoff.full).len(), HANDOFF_DEPTH);
        handoff.drain().unwrap();
        assert!(lock(&handoff.full).is_empty());
        assert_eq!(lock(&handoff.empty).len(), HANDOFF_DEPTH);
        drop(file);
        let got = std::fs::read(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(got == want, "the pieces are not where they go");
    }

    /// Pieces come out in the order they were put, whichever path each
    /// takes: a large piece after a small one must not overtake it.
    #[test]
    fn sink_keeps_order() {
        let mut out = Vec::new();
        let mut sink = Sink {
            out: Out::Stream(&mut out),
            buf: Vec::new(),
            n: 0,
        };
        let large = vec![2u8; SINK / 2 + 1];
        let mut want = Vec::new();
        for piece in [&[1u8; 10][..], &large, &[3u8; 7], &[4u8; 100]] {
            sink.put(piece).unwrap();
            want.extend_from_slice(piece);
        }
        sink.pad(want.len() as u64 + 5).unwrap();
        want.extend_from_slice(&[0; 5]);
        sink.put(&large).unwrap();
        want.extend_from_slice(&large);
        sink.flush().unwrap();
        assert_eq!(sink.n, want.len() as u64);
        assert!(out == want, "pieces reordered");
    }
}
