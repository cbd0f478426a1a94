// SPDX-License-Identifier: GPL-2.0-only
//! The one ELF reader: a read-only view of an ELF file of either class and
//! byte order, built with object::read::elf, which accepts any well-formed
//! file, so that listing and validation work on every module.
//!
//! It is generic over its byte source (object's `ReadRef`): a module is read
//! whole and viewed in place ([`Module::parse`]: every section's contents,
//! relocations decoded on access, nothing copied), while a symbol map such
//! as a large vmlinux is read through object's `ReadCache`
//! ([`Module::parse_symbols`]: the section headers, the symbol table, its
//! string table and .modinfo only, so that debug information is never
//! read).

use std::num::NonZeroU32;

use object::elf;
use object::read::elf::{FileHeader, Rel as _, Rela as _, SectionHeader, SectionTable, Sym as _};
use object::{Endianness, ReadRef};

use crate::error::ReadError;
use crate::names::Prefix;
use crate::par::Slots;

/// Section index value of livepatch symbols.
pub const SHN_LIVEPATCH: u16 = 0xff20;
/// Section flag of livepatch relocation sections.
pub const SHF_RELA_LIVEPATCH: u64 = 0x0010_0000;

/// One relocation entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reloc {
    /// Offset in the relocated section.
    pub offset: u64,
    /// Symbol table index (0: none).
    pub sym: u32,
    /// Relocation type.
    pub r_type: u32,
    /// Addend (0 for SHT_REL).
    pub addend: i64,
}

/// The entries of a relocation section, in the file's own layout.
#[derive(Debug, Clone, Copy)]
enum Table<'data> {
    None,
    Rel32(&'data [elf::Rel32<Endianness>]),
    Rela32(&'data [elf::Rela32<Endianness>]),
    Rel64(&'data [elf::Rel64<Endianness>]),
    Rela64(&'data [elf::Rela64<Endianness>]),
}

/// The entries of a SHT_REL or SHT_RELA section, decoded on access: a view
/// of the file's bytes, never a copy.
#[derive(Debug, Clone, Copy)]
pub struct Relocs<'data> {
    table: Table<'data>,
    endian: Endianness,
    mips64el: bool,
}

impl<'data> Relocs<'data> {
    const EMPTY: Relocs<'static> = Relocs {
        table: Table::None,
        endian: Endianness::Little,
        mips64el: false,
    };

    /// The number of entries.
    pub fn len(&self) -> usize {
        match self.table {
            Table::None => 0,
            Table::Rel32(t) => t.len(),
            Table::Rela32(t) => t.len(),
            Table::Rel64(t) => t.len(),
            Table::Rela64(t) => t.len(),
        }
    }

    /// True if there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entry `i`, decoded.
    #[inline]
    pub fn get(&self, i: usize) -> Option<Reloc> {
        let e = self.endian;
        Some(match self.table {
            Table::None => return None,
            Table::Rel32(t) => {
                let r = t.get(i)?;
                Reloc {
                    offset: r.r_offset(e).into(),
                    sym: r.r_sym(e),
                    r_type: r.r_type(e).0,
                    addend: 0,
                }
            }
            Table::Rela32(t) => {
                let r = t.get(i)?;
                Reloc {
                    offset: r.r_offset(e).into(),
                    sym: r.r_sym(e),
                    r_type: r.r_type(e).0,
                    addend: r.r_addend(e).into(),
                }
            }
            Table::Rel64(t) => {
                let r = t.get(i)?;
                Reloc {
                    offset: r.r_offset(e),
                    sym: r.r_sym(e),
                    r_type: r.r_type(e).0,
                    addend: 0,
                }
            }
            Table::Rela64(t) => {
                let r = t.get(i)?;
                Reloc {
                    offset: r.r_offset(e),
                    sym: r.r_sym(e, self.mips64el),
                    r_type: r.r_type(e, self.mips64el).0,
                    addend: r.r_addend(e),
                }
            }
        })
    }

    /// The symbol of entry `i`, decoded alone.
    #[inline]
    pub fn sym(&self, i: usize) -> Option<u32> {
        let e = self.endian;
        match self.table {
            Table::None => None,
            Table::Rel32(t) => t.get(i).map(|r| r.r_sym(e)),
            Table::Rela32(t) => t.get(i).map(|r| r.r_sym(e)),
            Table::Rel64(t) => t.get(i).map(|r| r.r_sym(e)),
            Table::Rela64(t) => t.get(i).map(|r| r.r_sym(e, self.mips64el)),
        }
    }

    /// Call `f` with the index and the symbol of every entry, in order:
    /// the cheap way through a large section.
    pub fn for_each_sym(&self, mut f: impl FnMut(usize, u32)) {
        use object::pod::bytes_of_slice;
        let e = self.endian;
        let big = e == Endianness::Big;
        // r_sym from r_info's bytes, one class and byte order per loop:
        // the high 32 bits of ELF64's r_info at offset 8 (bytes 12..16 in
        // little endian, 8..12 in big endian), ELF32's r_info at offset 4
        // shifted right by 8.
        match self.table {
            Table::Rel64(t) => return each_sym::<16>(bytes_of_slice(t), big, &mut f),
            Table::Rela64(t) if !self.mips64el => {
                return each_sym::<24>(bytes_of_slice(t), big, &mut f)
            }
            Table::Rel32(t) => return each_sym::<8>(bytes_of_slice(t), big, &mut f),
            Table::Rela32(t) => return each_sym::<12>(bytes_of_slice(t), big, &mut f),
            _ => {}
        }
        match self.table {
            Table::None => {}
            Table::Rel32(t) => t.iter().enumerate().for_each(|(i, r)| f(i, r.r_sym(e))),
            Table::Rela32(t) => t.iter().enumerate().for_each(|(i, r)| f(i, r.r_sym(e))),
            Table::Rel64(t) => t.iter().enumerate().for_each(|(i, r)| f(i, r.r_sym(e))),
            Table::Rela64(t) => t
                .iter()
                .enumerate()
                .for_each(|(i, r)| f(i, r.r_sym(e, self.mips64el))),
        }
    }

    /// The entries in order.
    pub fn iter(&self) -> RelocIter<'data> {
        RelocIter {
            relocs: *self,
            next: 0,
        }
    }

    /// The raw bytes of entry `i` as they are in the file.
    pub fn raw(&self, i: usize) -> Option<&'data [u8]> {
        match self.table {
            Table::None => None,
            Table::Rel32(t) => t.get(i).map(object::pod::bytes_of),
            Table::Rela32(t) => t.get(i).map(object::pod::bytes_of),
            Table::Rel64(t) => t.get(i).map(object::pod::bytes_of),
            Table::Rela64(t) => t.get(i).map(object::pod::bytes_of),
        }
    }
}

/// [`Relocs::for_each_sym`] over entries of `N` bytes (8 and 12: ELF32,
/// 16 and 24: ELF64, r_info at offset 4 or 8).
fn each_sym<const N: usize>(bytes: &[u8], big: bool, f: &mut impl FnMut(usize, u32)) {
    let word = |b: &[u8], at: usize| -> u32 {
        let mut w = [0u8; 4];
        if let Some(src) = b.get(at..at + 4) {
            w.copy_from_slice(src);
        }
        if big {
            u32::from_be_bytes(w)
        } else {
            u32::from_le_bytes(w)
        }
    };
    for (i, e) in bytes.chunks_exact(N).enumerate() {
        let sym = match (N >= 16, big) {
            (true, false) => word(e, 12),
            (true, true) => word(e, 8),
            (false, _) => word(e, 4) >> 8,
        };
        f(i, sym);
    }
}

/// An iterator over [`Relocs`].
#[derive(Debug, Clone)]
pub struct RelocIter<'data> {
    relocs: Relocs<'data>,
    next: usize,
}

impl Iterator for RelocIter<'_> {
    type Item = Reloc;

    fn next(&mut self) -> Option<Reloc> {
        let r = self.relocs.get(self.next)?;
        self.next += 1;
        Some(r)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.relocs.len().saturating_sub(self.next);
        (n, Some(n))
    }
}

impl ExactSizeIterator for RelocIter<'_> {}

impl<'data> IntoIterator for &Relocs<'data> {
    type Item = Reloc;
    type IntoIter = RelocIter<'data>;

    fn into_iter(self) -> RelocIter<'data> {
        self.iter()
    }
}

/// One section header, with its contents where they matter.
#[derive(Debug, Clone)]
pub struct Section<'data> {
    /// Section header index.
    pub index: usize,
    /// Name.
    pub name: &'data [u8],
    /// sh_name: the name's offset in the section name string table.
    pub name_offset: u32,
    /// sh_type.
    pub sh_type: u32,
    /// sh_flags.
    pub flags: u64,
    /// sh_addr.
    pub addr: u64,
    /// sh_offset.
    pub offset: u64,
    /// sh_link.
    pub link: u32,
    /// sh_info.
    pub info: u32,
    /// sh_addralign.
    pub addralign: u64,
    /// sh_entsize.
    pub entsize: u64,
    /// sh_size.
    pub size: u64,
    /// Contents: None for SHT_NOBITS, and for the sections
    /// [`Module::parse_symbols`] does not read.
    pub data: Option<&'data [u8]>,
    /// The entries of a SHT_REL or SHT_RELA section (none where
    /// [`Module::parse_symbols`] read the headers only).
    pub relocs: Relocs<'data>,
}

impl Section<'_> {
    /// True for SHT_REL and SHT_RELA sections.
    pub fn is_reloc(&self) -> bool {
        self.sh_type == elf::SHT_REL.0 || self.sh_type == elf::SHT_RELA.0
    }

    /// True for SHF_ALLOC sections.
    pub fn is_alloc(&self) -> bool {
        self.flags & elf::SHF_ALLOC.0 != 0
    }

    /// True for sections flagged SHF_RELA_LIVEPATCH.
    pub fn is_livepatch(&self) -> bool {
        self.flags & SHF_RELA_LIVEPATCH != 0
    }

    /// The name, lossily decoded for messages.
    pub fn display_name(&self) -> String {
        crate::error::escape_bytes(self.name)
    }
}

/// One symbol table entry (24 bytes: a module may have hundreds of
/// thousands; st_name, st_value and st_size stay in the file, read by
/// [`Module::symbol_name_offset`] and [`Module::symbol_value_size`], and
/// an SHN_XINDEX section index in its table, by
/// [`Module::symbol_section`]). Its symbol table index is its place in
/// [`Module::symbols`].
#[derive(Debug, Clone)]
pub struct Symbol<'data> {
    /// Name.
    pub name: &'data [u8],
    /// Raw st_shndx.
    pub shndx: u16,
    /// Binding (STB_*).
    pub bind: u8,
    /// Type (STT_*).
    pub st_type: u8,
    /// st_other.
    pub other: u8,
    /// The name's livepatch prefix, found as it is read: the plan looks
    /// at every symbol's, and the names are spread over the string table.
    pub prefix: Prefix,
}

// The size the documentation gives, kept: a module may have hundreds of
// thousands.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Symbol<'static>>() == 24);

impl Symbol<'_> {
    /// The name, lossily decoded for messages.
    pub fn display_name(&self) -> String {
        crate::error::escape_bytes(self.name)
    }

    /// True if the symbol is undefined (SHN_UNDEF).
    pub fn is_undefined(&self) -> bool {
        self.shndx == elf::SHN_UNDEF.0
    }
}

/// A parsed ELF file.
#[derive(Debug)]
pub struct Module<'data> {
    /// True for ELFCLASS64.
    pub is_64: bool,
    /// True for ELFDATA2MSB.
    pub big_endian: bool,
    /// e_type.
    pub e_type: u16,
    /// e_machine.
    pub machine: u16,
    /// All section headers, index 0 included.
    pub sections: Vec<Section<'data>>,
    /// All .symtab entries, index 0 included (empty without a .symtab).
    pub symbols: Vec<Symbol<'data>>,
    /// Index of the .symtab section (0 if none).
    pub symtab: usize,
    /// Index of the SHT_SYMTAB_SHNDX section of .symtab (0 if none).
    pub symtab_shndx: usize,
    /// Index of the section name string table (SHN_XINDEX resolved).
    pub shstrndx: usize,
    /// File offset of the section header table.
    pub shoff: u64,
    /// Size of one section header.
    pub shentsize: u64,
    /// Number of program headers (none in a relocatable module).
    pub phnum: u16,
}

/// What [`read`] takes from the file besides the headers and the symbols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Contents {
    /// Every section's contents and relocations.
    All,
    /// Only the contents of the symbol table, its string table, its
    /// SHT_SYMTAB_SHNDX section and .modinfo.
    Symbols,
}

impl<'data> Module<'data> {
    /// Parse `data` as an ELF file of either class and byte order, with
    /// every section's contents.
    pub fn parse(data: &'data [u8]) -> Result<Self, ReadError> {
        read(data, Contents::All, Some(data))
    }

    /// Parse the section headers and the symbol table of the ELF file
    /// `data` (a slice, or object's `ReadCache` of a file); of the contents
    /// only the symbol table, its string table and .modinfo are read, and
    /// no relocations.
    pub fn parse_symbols<R: ReadRef<'data>>(data: R) -> Result<Self, ReadError> {
        read(data, Contents::Symbols, None)
    }

    /// The section with header index `index`.
    pub fn section(&self, index: usize) -> Option<&Section<'data>> {
        self.sections.get(index)
    }

    /// The symbol with symbol table index `index`.
    pub fn symbol(&self, index: u32) -> Option<&Symbol<'data>> {
        self.symbols.get(usize::try_from(index).ok()?)
    }

    /// st_value and st_size of symbol `index`, read from the symbol
    /// table's bytes: they are not kept per symbol, in a module's largest
    /// table, since only a symbol map (the value) and the dump use them.
    pub fn symbol_value_size(&self, index: usize) -> Option<(u64, u64)> {
        let entry = self.symbol_entry(index)?;
        let (value, size, width) = if self.is_64 { (8, 16, 8) } else { (4, 8, 4) };
        let field = |at| uint_at(entry, at, width, self.big_endian);
        Some((field(value)?, field(size)?))
    }

    /// st_name of symbol `index`: its name's offset in the string table.
    pub fn symbol_name_offset(&self, index: usize) -> Option<u32> {
        let entry = self.symbol_entry(index)?;
        u32::try_from(uint_at(entry, 0, 4, self.big_endian)?).ok()
    }

    /// The section symbol `index` is defined in, SHN_XINDEX resolved; None
    /// if it is undefined or has a special st_shndx.
    pub fn symbol_section(&self, index: usize) -> Option<NonZeroU32> {
        let shndx = self.symbols.get(index)?.shndx;
        if shndx != elf::SHN_XINDEX.0 {
            let i = elf::SymbolSection(shndx).index()?;
            return NonZeroU32::new(u32::from(i));
        }
        let table = self
            .section(self.symtab_shndx)
            .filter(|_| self.symtab_shndx != 0)?;
        let at = index.checked_mul(4)?;
        let i = uint_at(table.data?, at, 4, self.big_endian)?;
        NonZeroU32::new(u32::try_from(i).ok()?)
    }

    /// The bytes of symbol `index`'s entry in the symbol table.
    fn symbol_entry(&self, index: usize) -> Option<&'data [u8]> {
        let table = self.section(self.symtab).filter(|_| self.symtab != 0)?;
        let entsize = if self.is_64 { 24 } else { 16 };
        table
            .data?
            .get(index.checked_mul(entsize)?..)?
            .get(..entsize)
    }

    /// The first section called `name`.
    pub fn section_by_name(&self, name: &[u8]) -> Option<&Section<'data>> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// True if .modinfo carries `livepatch=Y`.
    pub fn is_livepatch(&self) -> bool {
        self.modinfo()
            .any(|entry| entry == b"livepatch=Y".as_slice())
    }

    /// The NUL-separated entries of .modinfo.
    pub fn modinfo(&self) -> impl Iterator<Item = &'data [u8]> {
        self.section_by_name(b".modinfo")
            .and_then(|s| s.data)
            .unwrap_or_default()
            .split(|b| *b == 0)
            .filter(|e| !e.is_empty())
    }

    /// Size of one RELA entry for this class.
    pub fn rela_entsize(&self) -> u64 {
        if self.is_64 {
            24
        } else {
            12
        }
    }

    /// Address size of this class.
    pub fn addr_size(&self) -> u64 {
        if self.is_64 {
            8
        } else {
            4
        }
    }
}

/// Read `data` as [`Module`]; `bytes`, if the file is in memory: its
/// section headers are then read in parts side by side.
fn read<'data, R: ReadRef<'data>>(
    data: R,
    contents: Contents,
    bytes: Option<&'data [u8]>,
) -> Result<Module<'data>, ReadError> {
    match object::FileKind::parse(data) {
        Ok(object::FileKind::Elf32) => {
            read_class::<elf::FileHeader32<Endianness>, R>(data, contents, bytes)
        }
        Ok(object::FileKind::Elf64) => {
            read_class::<elf::FileHeader64<Endianness>, R>(data, contents, bytes)
        }
        _ => Err(ReadError::new("not an ELF file")),
    }
}

/// The entries of `shdr`, viewed in the file's layout.
fn relocs<'data, Elf, R>(
    shdr: &Elf::SectionHeader,
    endian: Endianness,
    data: R,
) -> Result<Table<'data>, ReadError>
where
    Elf: FileHeader<Endian = Endianness>,
    R: ReadRef<'data>,
{
    use object::pod::{bytes_of_slice, slice_from_all_bytes};
    let bytes = if let Some((rela, _)) = shdr.rela(endian, data)? {
        (true, bytes_of_slice(rela))
    } else if let Some((rel, _)) = shdr.rel(endian, data)? {
        (false, bytes_of_slice(rel))
    } else {
        return Ok(Table::None);
    };
    let bad = |_| ReadError::new("relocation entries are misaligned");
    // The same bytes object just read as this class's entries.
    Ok(match (Elf::is_type_64_sized(), bytes) {
        (false, (false, b)) => Table::Rel32(slice_from_all_bytes(b).map_err(bad)?),
        (false, (true, b)) => Table::Rela32(slice_from_all_bytes(b).map_err(bad)?),
        (true, (false, b)) => Table::Rel64(slice_from_all_bytes(b).map_err(bad)?),
        (true, (true, b)) => Table::Rela64(slice_from_all_bytes(b).map_err(bad)?),
    })
}

/// Push to `out` the symbols `raw`, the first of which is symbol `first`,
/// their names from `strtab`; the section of an SHN_XINDEX symbol is left
/// to the caller.
fn fill_symbols<'data, Elf>(
    out: &mut Slots<'_, Symbol<'data>>,
    raw: &'data [Elf::Sym],
    first: usize,
    strtab: &'data [u8],
    endian: Endianness,
) -> Result<(), ReadError>
where
    Elf: FileHeader<Endian = Endianness>,
{
    for (index, sym) in raw.iter().enumerate() {
        let name_offset = sym.st_name(endian);
        let name = strtab
            .get(name_offset as usize..)
            .and_then(until_nul)
            .ok_or_else(|| {
                ReadError::new(format!(
                    "symbol {}: name offset 0x{name_offset:x} outside the string table",
                    first + index
                ))
            })?;
        let shndx = sym.st_shndx(endian);
        out.push(Symbol {
            name,
            shndx: shndx.0,
            bind: sym.st_bind().0,
            st_type: sym.st_type().0,
            other: sym.st_other().0,
            prefix: Prefix::of(name),
        });
    }
    Ok(())
}

/// The `len` (1, 2, 4 or 8) bytes at `at` of `buf`, in the file's byte
/// order; None outside `buf`.
pub(crate) fn uint_at(buf: &[u8], at: usize, len: usize, big_endian: bool) -> Option<u64> {
    let src = buf.get(at..at.checked_add(len)?).filter(|_| len <= 8)?;
    let mut b = [0u8; 8];
    if big_endian {
        b.get_mut(8 - len..)?.copy_from_slice(src);
        Some(u64::from_be_bytes(b))
    } else {
        b.get_mut(..len)?.copy_from_slice(src);
        Some(u64::from_le_bytes(b))
    }
}

/// The bytes of `s` before its first NUL; None if it has none. Eight
/// bytes at a time: a module's symbol names are tens of bytes, too short
/// for a general search to set itself up.
fn until_nul(s: &[u8]) -> Option<&[u8]> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = s.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let x = u64::from_le_bytes(w);
        // The lowest byte flagged is the first zero byte (a flag above it
        // may be false, from the borrow).
        let zero = x.wrapping_sub(ONES) & !x & HIGH;
        if zero != 0 {
            return s.get(..at + (zero.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    let end = words.remainder().iter().position(|b| *b == 0)?;
    s.get(..at + end)
}

/// The symbols `raw`, in parts on two threads if there are twice
/// `min_split` symbols or more; the section of an SHN_XINDEX symbol is
/// left to the caller.
fn read_symbols<'data, Elf>(
    raw: &'data [Elf::Sym],
    strtab: &'data [u8],
    endian: Endianness,
    min_split: usize,
) -> Result<Vec<Symbol<'data>>, ReadError>
where
    Elf: FileHeader<Endian = Endianness>,
    Elf::Sym: Sync,
{
    let parts = crate::par::parts(raw.len(), min_split);
    // Each part fills its own piece of the table in place: no copy, and
    // no second table at the peak.
    crate::par::map(true, raw, parts, |first, part, out| {
        fill_symbols::<Elf>(out, part, first, strtab, endian)
    })?
    .ok_or_else(|| ReadError::new("internal error: symbols left unread"))
}

/// How [`read_class`] reads a section header.
struct Read {
    endian: Endianness,
    mips64el: bool,
    contents: Contents,
    /// The symbol table, its string table and SHT_SYMTAB_SHNDX section.
    tables: (usize, usize, usize),
}

impl Read {
    /// Section `index`, whose header is `shdr`, of `table`.
    fn section<'data, Elf, R>(
        &self,
        table: &SectionTable<'data, Elf, R>,
        index: usize,
        shdr: &'data Elf::SectionHeader,
        data: R,
    ) -> Result<Section<'data>, ReadError>
    where
        Elf: FileHeader<Endian = Endianness>,
        R: ReadRef<'data>,
    {
        let (endian, mips64el, contents) = (self.endian, self.mips64el, self.contents);
        let (symtab_index, strtab_index, shndx_index) = self.tables;
        let name = table.section_name(endian, shdr)?;
        let sh_type = shdr.sh_type(endian);
        let wanted = contents == Contents::All
            || (index != 0
                && (index == symtab_index
                    || index == strtab_index
                    || index == shndx_index
                    || name == b".modinfo"));
        let contents_of = if sh_type == elf::SHT_NOBITS || !wanted {
            None
        } else {
            Some(shdr.data(endian, data).map_err(|_| {
                ReadError::new(format!(
                    "section {}: contents lie outside the file",
                    crate::error::escape_bytes(name)
                ))
            })?)
        };
        let relocs = if contents == Contents::All {
            Relocs {
                table: relocs::<Elf, R>(shdr, endian, data)?,
                endian,
                mips64el,
            }
        } else {
            Relocs::EMPTY
        };
        Ok(Section {
            index,
            name,
            name_offset: shdr.sh_name(endian),
            sh_type: sh_type.0,
            flags: shdr.sh_flags(endian).0,
            addr: shdr.sh_addr(endian).into(),
            offset: shdr.sh_offset(endian).into(),
            link: shdr.sh_link(endian),
            info: shdr.sh_info(endian),
            addralign: shdr.sh_addralign(endian).into(),
            entsize: shdr.sh_entsize(endian).into(),
            size: shdr.sh_size(endian).into(),
            data: contents_of,
            relocs,
        })
    }
}

/// The sections of `table`, read from `bytes` in parts side by side if
/// there are twice [`crate::par::MIN_SPLIT_COSTLY`] or more.
fn read_sections<'data, Elf>(
    table: &SectionTable<'data, Elf, &'data [u8]>,
    bytes: &'data [u8],
    read: &Read,
) -> Result<Vec<Section<'data>>, ReadError>
where
    Elf: FileHeader<Endian = Endianness>,
    Elf::SectionHeader: Sync,
{
    let headers = table.iter().as_slice();
    let parts = crate::par::parts(headers.len(), crate::par::MIN_SPLIT_COSTLY);
    crate::par::map(true, headers, parts, |first, part, out| {
        for (i, shdr) in part.iter().enumerate() {
            out.push(read.section(table, first + i, shdr, bytes)?);
        }
        Ok::<(), ReadError>(())
    })?
    .ok_or_else(|| ReadError::new("internal error: sections left unread"))
}

fn read_class<'data, Elf, R>(
    data: R,
    contents: Contents,
    bytes: Option<&'data [u8]>,
) -> Result<Module<'data>, ReadError>
where
    Elf: FileHeader<Endian = Endianness>,
    Elf::Sym: Sync,
    Elf::SectionHeader: Sync,
    R: ReadRef<'data>,
{
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    let mips64el = header.is_mips64el(endian);
    let table = header.sections(endian, data)?;
    let symtab = table.symbols(endian, data, elf::SHT_SYMTAB)?;

    // The string table is read once and names are sliced from it: through
    // a cache, a read per name would cost a lookup (and an entry) each.
    let strtab: &'data [u8] = if symtab.is_empty() {
        &[]
    } else {
        table
            .section(symtab.string_section())?
            .data(endian, data)
            .map_err(|_| ReadError::new("symbol string table: contents lie outside the file"))?
    };
    let raw = symtab.symbols();
    let symbols = read_symbols::<Elf>(raw, strtab, endian, crate::par::MIN_SPLIT)?;
    // The few SHN_XINDEX symbols must have their index in the table of
    // them (Module::symbol_section reads it there).
    for (index, (s, sym)) in symbols.iter().zip(raw).enumerate() {
        if s.shndx == elf::SHN_XINDEX.0 {
            symtab.symbol_section(endian, sym, object::SymbolIndex(index))?;
        }
    }

    let symtab_index = symtab.section().0;
    let strtab_index = symtab.string_section().0;
    let shndx_index = symtab.shndx_section().0;
    let read = Read {
        endian,
        mips64el,
        contents,
        tables: (symtab_index, strtab_index, shndx_index),
    };
    let sections = match bytes {
        // The same headers, read from the bytes, which threads can share.
        Some(bytes) => read_sections(&header.sections(endian, bytes)?, bytes, &read)?,
        None => {
            let mut sections = Vec::with_capacity(table.len());
            for (index, shdr) in table.enumerate() {
                sections.push(read.section(&table, index.0, shdr, data)?);
            }
            sections
        }
    };

    Ok(Module {
        is_64: header.is_type_64(),
        big_endian: endian == Endianness::Big,
        e_type: header.e_type(endian).0,
        machine: header.e_machine(endian).0,
        sections,
        symbols,
        symtab: symtab_index,
        symtab_shndx: shndx_index,
        shstrndx: header.shstrndx(endian, data)? as usize,
        shoff: header.e_shoff(endian).into(),
        shentsize: header.e_shentsize(endian).into(),
        phnum: header.e_phnum(endian),
    })
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::object;

    #[test]
    fn parses_sections_symbols_relocations() {
        let data = object(
            b"license=GPL\0livepatch=Y\0",
            &[".klp.sym.rela.vmlinux.vmlinux.x,0"],
            &[(4, ".klp.sym.rela.vmlinux.vmlinux.x,0", 2, -4)],
        );
        let m = Module::parse(&data).unwrap();
        assert!(m.is_64 && !m.big_endian);
        assert_eq!(m.machine, elf::EM_X86_64.0);
        assert!(m.is_livepatch());
        assert_eq!(
            m.modinfo().collect::<Vec<_>>(),
            [b"license=GPL".as_slice(), b"livepatch=Y".as_slice()]
        );
        let rela = m.section_by_name(b".rela.text").unwrap();
        assert!(rela.is_reloc() && !rela.is_alloc() && !rela.is_livepatch());
        assert_eq!(rela.relocs.len(), 1);
        let r = rela.relocs.get(0).unwrap();
        assert_eq!((r.offset, r.r_type, r.addend), (4, 2, -4));
        let sym = m.symbol(r.sym).unwrap();
        assert_eq!(sym.name, b".klp.sym.rela.vmlinux.vmlinux.x,0");
        assert!(sym.is_undefined());
        assert_eq!(sym.bind, elf::STB_WEAK.0);
        assert_eq!(m.rela_entsize(), 24);
        assert!(m.symbol(1000).is_none());
    }

    /// The symbol table read in two halves is the table read whole, and a
    /// bad name in the second half is reported with its own index.
    #[test]
    fn symbols_read_in_halves_are_read_whole() {
        let names: Vec<String> = (0..9).map(|i| format!("sym_{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let data = object(b"livepatch=Y\0", &names, &[]);
        let header = elf::FileHeader64::<Endianness>::parse(&*data).unwrap();
        let endian = header.endian().unwrap();
        let table = header.sections(endian, &*data).unwrap();
        let symtab = table.symbols(endian, &*data, elf::SHT_SYMTAB).unwrap();
        let strtab = table
            .section(symtab.string_section())
            .unwrap()
            .data(endian, &*data)
            .unwrap();
        let raw = symtab.symbols();
        assert!(raw.len() >= 10, "{}", raw.len());
        let read = |raw, strtab, min| {
            read_symbols::<elf::FileHeader64<Endianness>>(raw, strtab, endian, min)
        };
        let whole = read(raw, strtab, usize::MAX).unwrap();
        let halves = read(raw, strtab, 1).unwrap();
        assert_eq!(format!("{whole:?}"), format!("{halves:?}"));
        assert!(whole.iter().any(|s| s.name == b"sym_8"));
        let mut bad = raw.to_vec();
        if let Some(last) = bad.last_mut() {
            last.st_name = object::U32::new(endian, 0xffff);
        }
        let e = read(&bad, strtab, 1).unwrap_err().to_string();
        let want = format!("symbol {}: name offset 0xffff outside", raw.len() - 1);
        assert!(e.contains(&want), "{e}");
    }

    #[test]
    fn for_each_sym_agrees_with_get_in_every_layout() {
        use object::{I32, I64, U32, U64};
        for endian in [Endianness::Little, Endianness::Big] {
            let e = endian;
            let syms = [0u32, 1, 0x00ab_cdef, 0x1234];
            let r32: Vec<_> = syms
                .iter()
                .map(|s| elf::Rela32 {
                    r_offset: U32::new(e, 7),
                    r_info: U32::new(e, (s & 0x00ff_ffff) << 8 | 5),
                    r_addend: I32::new(e, -1),
                })
                .collect();
            let l32: Vec<_> = r32
                .iter()
                .map(|r| elf::Rel32 {
                    r_offset: r.r_offset,
                    r_info: r.r_info,
                })
                .collect();
            let r64: Vec<_> = syms
                .iter()
                .map(|s| elf::Rela64 {
                    r_offset: U64::new(e, 7),
                    r_info: U64::new(e, u64::from(*s) << 32 | 0xffff_fff5),
                    r_addend: I64::new(e, -1),
                })
                .collect();
            let l64: Vec<_> = r64
                .iter()
                .map(|r| elf::Rel64 {
                    r_offset: r.r_offset,
                    r_info: r.r_info,
                })
                .collect();
            for table in [
                Table::Rela32(&r32),
                Table::Rel32(&l32),
                Table::Rela64(&r64),
                Table::Rel64(&l64),
            ] {
                let relocs = Relocs {
                    table,
                    endian,
                    mips64el: false,
                };
                let mut seen = Vec::new();
                relocs.for_each_sym(|i, s| seen.push((i, s)));
                let want: Vec<_> = (0..relocs.len())
                    .map(|i| (i, relocs.get(i).unwrap().sym))
                    .collect();
                assert_eq!(seen, want, "{table:?}");
                assert_eq!(seen.len(), syms.len());
                assert_eq!(seen[2].1 & 0xff_ffff, 0xab_cdef);
            }
        }
    }

    #[test]
    fn a_symbol_takes_32_bytes() {
        // A module may have hundreds of thousands: the conversion's
        // memory is mostly the mapped file, this and the moves.
        assert!(std::mem::size_of::<Symbol<'_>>() <= 32);
    }

    #[test]
    fn names_end_at_the_first_nul() {
        // The NUL at every offset of a word, after bytes whose borrow
        // could flag the next one (0x01 after 0x00, 0x80 and up).
        for len in 0..40 {
            for fill in [b'a', 0x01, 0x80, 0xff] {
                let mut s = vec![fill; len];
                s.extend_from_slice(b"\0\x01\0rest");
                assert_eq!(until_nul(&s), Some(&s[..len]), "{len} {fill}");
                s.truncate(len);
                assert_eq!(until_nul(&s), None);
            }
        }
    }

    #[test]
    fn livepatch_modinfo_must_match_exactly() {
        let m = object(b"livepatch=N\0xlivepatch=Y\0", &[], &[]);
        assert!(!Module::parse(&m).unwrap().is_livepatch());
    }

    #[test]
    fn rejects_non_elf() {
        assert!(Module::parse(b"").is_err());
        assert!(Module::parse(b"\x7fELF").is_err());
        assert!(Module::parse(&[0u8; 64]).is_err());
    }
}
