// SPDX-License-Identifier: GPL-2.0-only
//! A stable text dump of a relocatable ELF file, for golden tests and
//! debugging: every section with its flags, link and info, every symbol,
//! every relocation. File offsets are left out: they depend on the
//! writer's layout, not on the meaning of the file.

use std::fmt::Write as _;

use object::elf;

use crate::arch;
use crate::elf::{Module, SHF_RELA_LIVEPATCH, SHN_LIVEPATCH};

fn section_type(t: u32) -> String {
    let name = match elf::SectionType(t) {
        elf::SHT_NULL => "NULL",
        elf::SHT_PROGBITS => "PROGBITS",
        elf::SHT_SYMTAB => "SYMTAB",
        elf::SHT_STRTAB => "STRTAB",
        elf::SHT_RELA => "RELA",
        elf::SHT_REL => "REL",
        elf::SHT_NOBITS => "NOBITS",
        elf::SHT_NOTE => "NOTE",
        elf::SHT_GROUP => "GROUP",
        elf::SHT_SYMTAB_SHNDX => "SYMTAB_SHNDX",
        elf::SHT_INIT_ARRAY => "INIT_ARRAY",
        elf::SHT_FINI_ARRAY => "FINI_ARRAY",
        _ => return format!("0x{t:x}"),
    };
    name.to_string()
}

fn section_flags(flags: u64) -> String {
    const BITS: &[(u64, char)] = &[
        (1 << 0, 'W'),
        (1 << 1, 'A'),
        (1 << 2, 'X'),
        (1 << 4, 'M'),
        (1 << 5, 'S'),
        (1 << 6, 'I'),
        (1 << 7, 'L'),
        (1 << 8, 'O'),
        (1 << 9, 'G'),
        (1 << 10, 'T'),
        (1 << 11, 'C'),
        (SHF_RELA_LIVEPATCH, 'o'),
    ];
    let mut s = String::new();
    let mut rest = flags;
    for (bit, c) in BITS {
        if flags & bit != 0 {
            s.push(*c);
            rest &= !bit;
        }
    }
    if rest != 0 {
        let _ = write!(s, "+0x{rest:x}");
    }
    if s.is_empty() {
        s.push('-');
    }
    s
}

fn bind(b: u8) -> String {
    match b {
        0 => "LOCAL".into(),
        1 => "GLOBAL".into(),
        2 => "WEAK".into(),
        _ => format!("BIND{b}"),
    }
}

fn sym_type(t: u8) -> String {
    match t {
        0 => "NOTYPE".into(),
        1 => "OBJECT".into(),
        2 => "FUNC".into(),
        3 => "SECTION".into(),
        4 => "FILE".into(),
        5 => "COMMON".into(),
        6 => "TLS".into(),
        _ => format!("TYPE{t}"),
    }
}

/// The dump of `module`, one item per line.
pub fn dump(module: &Module<'_>) -> String {
    let mut out = String::new();
    let section_name = |i: usize| {
        module
            .section(i)
            .map(|s| s.display_name())
            .unwrap_or_else(|| format!("<bad section {i}>"))
    };
    let _ = writeln!(
        out,
        "ELF{} {} machine {} type {}",
        if module.is_64 { 64 } else { 32 },
        if module.big_endian {
            "big-endian"
        } else {
            "little-endian"
        },
        module.machine,
        module.e_type
    );
    let _ = writeln!(out, "sections:");
    for s in module.sections.iter().skip(1) {
        let _ = writeln!(
            out,
            "  [{}] {} {} flags {} size 0x{:x} link {} info {} align {} entsize {}",
            s.index,
            s.display_name(),
            section_type(s.sh_type),
            section_flags(s.flags),
            s.size,
            if s.link == 0 {
                "0".to_string()
            } else {
                section_name(s.link as usize)
            },
            if s.is_reloc() && s.info != 0 {
                section_name(s.info as usize)
            } else {
                s.info.to_string()
            },
            s.addralign,
            s.entsize
        );
    }
    let _ = writeln!(out, "symbols:");
    for (index, sym) in module.symbols.iter().enumerate().skip(1) {
        let (value, size) = module.symbol_value_size(index).unwrap_or_default();
        let shndx = match (module.symbol_section(index), sym.shndx) {
            (Some(i), _) => section_name(i.get() as usize),
            (None, 0) => "UND".to_string(),
            (None, 0xfff1) => "ABS".to_string(),
            (None, 0xfff2) => "COM".to_string(),
            (None, SHN_LIVEPATCH) => "LIVEPATCH".to_string(),
            (None, other) => format!("0x{other:x}"),
        };
        let _ = writeln!(
            out,
            "  [{}] {} {} {} value 0x{:x} size 0x{:x} other 0x{:x} {}",
            index,
            bind(sym.bind),
            sym_type(sym.st_type),
            shndx,
            value,
            size,
            sym.other,
            sym.display_name()
        );
    }
    let _ = writeln!(out, "relocations:");
    for s in module.sections.iter().filter(|s| s.is_reloc()) {
        let _ = writeln!(out, "  {}:", s.display_name());
        for r in &s.relocs {
            let sym = module
                .symbol(r.sym)
                .filter(|_| r.sym != 0)
                .map(|s| {
                    if s.name.is_empty() {
                        module
                            .symbol_section(r.sym as usize)
                            .map(|i| {
                                format!("[{}] section {}", r.sym, section_name(i.get() as usize))
                            })
                            .unwrap_or_else(|| format!("[{}]", r.sym))
                    } else {
                        format!("[{}] {}", r.sym, s.display_name())
                    }
                })
                .unwrap_or_else(|| format!("[{}]", r.sym));
            let sign = if r.addend < 0 { '-' } else { '+' };
            let _ = writeln!(
                out,
                "    0x{:x} {} {} {}0x{:x}",
                r.offset,
                arch::type_name(module.machine, r.r_type),
                sym,
                sign,
                r.addend.unsigned_abs()
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::object;

    #[test]
    fn flags_and_types() {
        assert_eq!(section_flags(0), "-");
        assert_eq!(section_flags(0x42 | SHF_RELA_LIVEPATCH), "AIo");
        assert_eq!(section_flags(0x1_0000_0000), "+0x100000000");
        assert_eq!(section_type(4), "RELA");
        assert_eq!(section_type(0x6fff_fff0), "0x6ffffff0");
        assert_eq!(bind(2), "WEAK");
        assert_eq!(sym_type(9), "TYPE9");
    }

    #[test]
    fn dumps_everything() {
        let data = object(
            b"livepatch=Y\0",
            &[".klp.sym.vmlinux.b,0"],
            &[(16, ".klp.sym.vmlinux.b,0", 1, -0x10)],
        );
        let text = dump(&Module::parse(&data).unwrap());
        assert!(
            text.starts_with("ELF64 little-endian machine 62 type 1\n"),
            "{text}"
        );
        assert!(text.contains("] .text PROGBITS flags AX size 0x20 link 0 info 0 align 16"));
        assert!(text
            .contains("GLOBAL NOTYPE LIVEPATCH value 0x0 size 0x0 other 0x0 .klp.sym.vmlinux.b,0"));
        assert!(
            text.contains("  .rela.text:\n    0x10 R_X86_64_64 [1] .klp.sym.vmlinux.b,0 -0x10\n"),
            "{text}"
        );
    }
}
