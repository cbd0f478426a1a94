// SPDX-License-Identifier: GPL-2.0-only
//! A read-only view of a relocatable ELF file (a kernel module).
//!
//! Built with object::read::elf, which accepts any well-formed ELF file,
//! so that listing and validation work on every module, including ones the
//! rewriting layer (object::build::elf) cannot represent.

use object::elf;
use object::read::elf::{FileHeader, Rel as _, Rela as _, SectionHeader, Sym as _};
use object::Endianness;

use crate::error::ReadError;

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

/// One section header, with its contents where they matter.
#[derive(Debug, Clone)]
pub struct Section<'data> {
    /// Section header index.
    pub index: usize,
    /// Name.
    pub name: &'data [u8],
    /// sh_type.
    pub sh_type: u32,
    /// sh_flags.
    pub flags: u64,
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
    /// Contents (None for SHT_NOBITS).
    pub data: Option<&'data [u8]>,
    /// Parsed entries of a SHT_REL or SHT_RELA section.
    pub relocs: Vec<Reloc>,
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

/// One symbol table entry.
#[derive(Debug, Clone)]
pub struct Symbol<'data> {
    /// Symbol table index.
    pub index: usize,
    /// Name.
    pub name: &'data [u8],
    /// Raw st_shndx.
    pub shndx: u16,
    /// Section index with SHN_XINDEX resolved; None if undefined or special.
    pub section: Option<usize>,
    /// Binding (STB_*).
    pub bind: u8,
    /// Type (STT_*).
    pub st_type: u8,
    /// st_other.
    pub other: u8,
    /// st_value.
    pub value: u64,
    /// st_size.
    pub size: u64,
}

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

/// A parsed relocatable ELF file.
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
    /// File offset of the section header table.
    pub shoff: u64,
    /// Size of one section header.
    pub shentsize: u64,
}

impl<'data> Module<'data> {
    /// Parse `data` as an ELF file of either class and byte order.
    pub fn parse(data: &'data [u8]) -> Result<Self, ReadError> {
        match object::FileKind::parse(data) {
            Ok(object::FileKind::Elf32) => parse_class::<elf::FileHeader32<Endianness>>(data),
            Ok(object::FileKind::Elf64) => parse_class::<elf::FileHeader64<Endianness>>(data),
            _ => Err(ReadError::new("not an ELF file")),
        }
    }

    /// The section with header index `index`.
    pub fn section(&self, index: usize) -> Option<&Section<'data>> {
        self.sections.get(index)
    }

    /// The symbol with symbol table index `index`.
    pub fn symbol(&self, index: u32) -> Option<&Symbol<'data>> {
        self.symbols.get(usize::try_from(index).ok()?)
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

fn parse_class<'data, Elf>(data: &'data [u8]) -> Result<Module<'data>, ReadError>
where
    Elf: FileHeader<Endian = Endianness>,
{
    let header = Elf::parse(data)?;
    let endian = header.endian()?;
    let is_mips64el = header.is_mips64el(endian);
    let table = header.sections(endian, data)?;
    let symtab = table.symbols(endian, data, elf::SHT_SYMTAB)?;

    let mut symbols = Vec::with_capacity(symtab.len());
    for (index, sym) in symtab.enumerate() {
        let name = symtab.symbol_name(endian, sym)?;
        let section = symtab
            .symbol_section(endian, sym, index)?
            .map(|s| s.0)
            .filter(|s| *s != 0);
        symbols.push(Symbol {
            index: index.0,
            name,
            shndx: sym.st_shndx(endian).0,
            section,
            bind: sym.st_bind().0,
            st_type: sym.st_type().0,
            other: sym.st_other().0,
            value: sym.st_value(endian).into(),
            size: sym.st_size(endian).into(),
        });
    }

    let mut sections = Vec::with_capacity(table.len());
    for (index, shdr) in table.enumerate() {
        let name = table.section_name(endian, shdr)?;
        let sh_type = shdr.sh_type(endian);
        let contents = if sh_type == elf::SHT_NOBITS {
            None
        } else {
            Some(shdr.data(endian, data).map_err(|_| {
                ReadError::new(format!(
                    "section {}: contents lie outside the file",
                    String::from_utf8_lossy(name)
                ))
            })?)
        };
        let mut relocs = Vec::new();
        if let Some((rela, _)) = shdr.rela(endian, data)? {
            relocs.reserve(rela.len());
            for r in rela {
                relocs.push(Reloc {
                    offset: r.r_offset(endian).into(),
                    sym: r.r_sym(endian, is_mips64el),
                    r_type: r.r_type(endian, is_mips64el).0,
                    addend: r.r_addend(endian).into(),
                });
            }
        } else if let Some((rel, _)) = shdr.rel(endian, data)? {
            relocs.reserve(rel.len());
            for r in rel {
                relocs.push(Reloc {
                    offset: r.r_offset(endian).into(),
                    sym: r.r_sym(endian),
                    r_type: r.r_type(endian).0,
                    addend: 0,
                });
            }
        }
        sections.push(Section {
            index: index.0,
            name,
            sh_type: sh_type.0,
            flags: shdr.sh_flags(endian).0,
            link: shdr.sh_link(endian),
            info: shdr.sh_info(endian),
            addralign: shdr.sh_addralign(endian).into(),
            entsize: shdr.sh_entsize(endian).into(),
            size: shdr.sh_size(endian).into(),
            data: contents,
            relocs,
        });
    }

    Ok(Module {
        is_64: header.is_type_64(),
        big_endian: endian == Endianness::Big,
        e_type: header.e_type(endian).0,
        machine: header.e_machine(endian).0,
        sections,
        symbols,
        symtab: symtab.section().0,
        shoff: header.e_shoff(endian).into(),
        shentsize: header.e_shentsize(endian).into(),
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
        let r = rela.relocs[0];
        assert_eq!((r.offset, r.r_type, r.addend), (4, 2, -4));
        let sym = m.symbol(r.sym).unwrap();
        assert_eq!(sym.name, b".klp.sym.rela.vmlinux.vmlinux.x,0");
        assert!(sym.is_undefined());
        assert_eq!(sym.bind, elf::STB_WEAK.0);
        assert_eq!(m.rela_entsize(), 24);
        assert!(m.symbol(1000).is_none());
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
