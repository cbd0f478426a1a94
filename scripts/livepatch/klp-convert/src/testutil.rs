// SPDX-License-Identifier: GPL-2.0-only
//! Small relocatable objects for unit tests, made with object's writer.

use object::build::elf::{Builder, Relocation, SectionData};
use object::elf;
use object::Endianness;

/// A relocation in the test object: offset, symbol name, type, addend.
pub type TestReloc<'a> = (u64, &'a str, u32, i64);

/// An x86_64 object with .text (32 zero bytes), .modinfo (`modinfo`),
/// undefined symbols `undefined` (WEAK; `.klp.sym.` names get
/// SHN_LIVEPATCH and GLOBAL) and .rela.text holding `relocs`.
pub fn object(modinfo: &[u8], undefined: &[&str], relocs: &[TestReloc<'_>]) -> Vec<u8> {
    object_with(modinfo, undefined, &[(".text", 32)], &[(0, relocs)])
}

/// [`object`] with the allocated sections `sections` (name, size in zero
/// bytes; executable if the name starts with .text, writable otherwise)
/// and one relocation section `.rela<name>` for each of `relas` (the index
/// in `sections` of the section it relocates, its entries), in that
/// order.
pub fn object_with(
    modinfo: &[u8],
    undefined: &[&str],
    sections: &[(&str, usize)],
    relas: &[(usize, &[TestReloc<'_>])],
) -> Vec<u8> {
    let mut b = Builder::new(Endianness::Little, true);
    b.header.e_type = elf::ET_REL;
    b.header.e_machine = elf::EM_X86_64;
    let mut targets = Vec::new();
    for (name, size) in sections {
        let t = b.sections.add();
        t.name = name.as_bytes().to_vec().into();
        t.sh_type = elf::SHT_PROGBITS;
        let kind = if name.starts_with(".text") {
            elf::SHF_EXECINSTR.0
        } else {
            elf::SHF_WRITE.0
        };
        t.sh_flags = elf::SectionFlags(elf::SHF_ALLOC.0 | kind);
        t.sh_addralign = 16;
        t.data = SectionData::Data(vec![0u8; *size].into());
        targets.push((*name, t.id()));
    }
    let info = b.sections.add();
    info.name = b".modinfo".to_vec().into();
    info.sh_type = elf::SHT_PROGBITS;
    info.sh_flags = elf::SHF_ALLOC;
    info.sh_addralign = 1;
    info.data = SectionData::Data(modinfo.to_vec().into());
    let symtab = b.sections.add();
    symtab.name = b".symtab".to_vec().into();
    symtab.sh_type = elf::SHT_SYMTAB;
    symtab.data = SectionData::Symbol;
    let symtab = symtab.id();
    let strtab = b.sections.add();
    strtab.name = b".strtab".to_vec().into();
    strtab.sh_type = elf::SHT_STRTAB;
    strtab.data = SectionData::String;
    let shstrtab = b.sections.add();
    shstrtab.name = b".shstrtab".to_vec().into();
    shstrtab.sh_type = elf::SHT_STRTAB;
    shstrtab.data = SectionData::SectionString;

    let mut ids = Vec::new();
    for name in undefined {
        let s = b.symbols.add();
        s.name = name.as_bytes().to_vec().into();
        if name.starts_with(".klp.sym.") && !name.starts_with(".klp.sym.rela.") {
            s.st_shndx = elf::SymbolSection(crate::elf::SHN_LIVEPATCH);
            s.set_st_info(elf::STB_GLOBAL, elf::STT_NOTYPE);
        } else {
            s.set_st_info(elf::STB_WEAK, elf::STT_NOTYPE);
        }
        ids.push((*name, s.id()));
    }
    for (target, relocs) in relas {
        let mut entries = Vec::new();
        for (offset, sym, r_type, addend) in *relocs {
            let id = ids.iter().find(|(n, _)| n == sym).map(|(_, id)| *id);
            entries.push(Relocation {
                r_offset: *offset,
                symbol: id,
                r_type: elf::RelocationType(*r_type),
                r_addend: *addend,
            });
        }
        let (name, id) = targets[*target];
        let rela = b.sections.add();
        rela.name = format!(".rela{name}").into_bytes().into();
        rela.sh_type = elf::SHT_RELA;
        rela.sh_flags = elf::SHF_INFO_LINK;
        rela.sh_link_section = Some(symtab);
        rela.sh_info_section = Some(id);
        rela.sh_addralign = 8;
        rela.sh_entsize = 24;
        rela.data = SectionData::Relocation(entries);
    }
    let mut out = Vec::new();
    b.write(&mut out).expect("write test object");
    out
}

/// A new, empty directory for a unit test's files, named after the test
/// module (`module`), the process and `name`.
pub fn scratch(module: &str, name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("klp-{module}-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch directory");
    dir
}
