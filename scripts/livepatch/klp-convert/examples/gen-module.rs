// SPDX-License-Identifier: GPL-2.0-only
//! Write a synthetic, unconverted x86_64 livepatch module for benchmarks.
//!
//! Usage: gen-module [options] OUT
//!
//!   --relocs N     relocations in all .rela.text.* sections (default 1000)
//!   --klp-syms N   annotated .klp.sym.rela.* symbols (default 100)
//!   --sections N   .text.* sections, each with its .rela section (default 20)
//!   --globals N    ordinary global symbols, defined and undefined (default 1000)
//!   --data BYTES   size of an extra .rodata.blob section (default 0)
//!   --klp-every K  one relocation in K is annotated (default 2)
//!
//! The module looks like what gcc -ffunction-sections and ld -r produce for
//! a large livepatch: .modinfo with livepatch=Y, one .text.fn_<i> section
//! per function, each relocated by a .rela.text.fn_<i> that mixes ordinary
//! relocations (to other functions, to exported symbols, to .rodata) with
//! annotated ones (80% vmlinux, 20% a module), a big .symtab, and a
//! .rodata string table. Every annotated site holds zero bytes, as the x86_64
//! module loader requires. The symbols' names are in symbol order, as ld -r
//! writes them. The output is deterministic.

use std::process::ExitCode;

use object::build::elf::{Builder, Relocation, SectionData, SectionId, SymbolId};
use object::elf;
use object::Endianness;

struct Params {
    relocs: usize,
    klp_syms: usize,
    sections: usize,
    globals: usize,
    data: usize,
    klp_every: usize,
}

fn parse_args(args: &[String]) -> Result<(Params, String), String> {
    let mut p = Params {
        relocs: 1000,
        klp_syms: 100,
        sections: 20,
        globals: 1000,
        data: 0,
        klp_every: 2,
    };
    let mut out = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let field = match arg.as_str() {
            "--relocs" => &mut p.relocs,
            "--klp-syms" => &mut p.klp_syms,
            "--sections" => &mut p.sections,
            "--globals" => &mut p.globals,
            "--data" => &mut p.data,
            "--klp-every" => &mut p.klp_every,
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s => {
                if out.replace(s.to_string()).is_some() {
                    return Err("more than one output file".into());
                }
                continue;
            }
        };
        let value = it.next().ok_or_else(|| format!("{arg} needs a value"))?;
        *field = value
            .parse()
            .map_err(|_| format!("{arg}: {value:?} is not a number"))?;
    }
    if p.sections == 0 || p.klp_syms == 0 || p.klp_every == 0 {
        return Err("--sections, --klp-syms and --klp-every must be at least 1".into());
    }
    Ok((p, out.ok_or("missing output file")?))
}

fn add_section(
    b: &mut Builder<'static>,
    name: String,
    sh_type: elf::SectionType,
    flags: u64,
    align: u64,
    data: SectionData<'static>,
) -> SectionId {
    let s = b.sections.add();
    s.name = name.into_bytes().into();
    s.sh_type = sh_type;
    s.sh_flags = elf::SectionFlags(flags);
    s.sh_addralign = align;
    s.data = data;
    s.id()
}

fn generate(p: &Params) -> Result<Vec<u8>, String> {
    let mut b = Builder::new(Endianness::Little, true);
    b.header.e_type = elf::ET_REL;
    b.header.e_machine = elf::EM_X86_64;
    let alloc = elf::SHF_ALLOC.0;

    add_section(
        &mut b,
        ".modinfo".into(),
        elf::SHT_PROGBITS,
        alloc,
        1,
        SectionData::Data(
            b"license=GPL\0livepatch=Y\0name=klp_bench\0"
                .to_vec()
                .into(),
        ),
    );
    let mut strings = Vec::new();
    for i in 0..p.relocs / 8 + 1 {
        strings.extend_from_slice(format!("klp bench message {i}\n\0").as_bytes());
    }
    let rodata_len = strings.len() as u64;
    let rodata = add_section(
        &mut b,
        ".rodata.str1.1".into(),
        elf::SHT_PROGBITS,
        alloc | elf::SHF_MERGE.0 | elf::SHF_STRINGS.0,
        1,
        SectionData::Data(strings.into()),
    );
    if p.data > 0 {
        let blob: Vec<u8> = (0..p.data).map(|i| (i * 131 % 251) as u8).collect();
        add_section(
            &mut b,
            ".rodata.blob".into(),
            elf::SHT_PROGBITS,
            alloc,
            64,
            SectionData::Data(blob.into()),
        );
    }

    // Relocations per function section; each site is 8 bytes of text:
    // a call or mov opcode byte, the 4-byte field (zero), three nops.
    let per = |i: usize| p.relocs / p.sections + usize::from(i < p.relocs % p.sections);
    let mut texts = Vec::with_capacity(p.sections);
    for i in 0..p.sections {
        let n = per(i).max(1);
        let mut code = Vec::with_capacity(n * 8);
        for _ in 0..n {
            code.extend_from_slice(&[0xe8, 0, 0, 0, 0, 0x90, 0x90, 0x90]);
        }
        texts.push(add_section(
            &mut b,
            format!(".text.fn_{i}"),
            elf::SHT_PROGBITS,
            alloc | elf::SHF_EXECINSTR.0,
            16,
            SectionData::Data(code.into()),
        ));
    }
    let symtab = add_section(
        &mut b,
        ".symtab".into(),
        elf::SHT_SYMTAB,
        0,
        8,
        SectionData::Symbol,
    );
    add_section(
        &mut b,
        ".strtab".into(),
        elf::SHT_STRTAB,
        0,
        1,
        SectionData::String,
    );
    add_section(
        &mut b,
        ".shstrtab".into(),
        elf::SHT_STRTAB,
        0,
        1,
        SectionData::SectionString,
    );

    // Locals first: section symbols, then static helpers.
    let sym = |b: &mut Builder<'static>,
               name: String,
               section: Option<SectionId>,
               bind: elf::SymbolBind,
               kind: elf::SymbolType,
               value: u64,
               size: u64|
     -> SymbolId {
        let s = b.symbols.add();
        s.name = name.into_bytes().into();
        s.section = section;
        s.set_st_info(bind, kind);
        s.st_value = value;
        s.st_size = size;
        s.id()
    };
    let rodata_sym = sym(
        &mut b,
        String::new(),
        Some(rodata),
        elf::STB_LOCAL,
        elf::STT_SECTION,
        0,
        0,
    );
    for (i, t) in texts.iter().enumerate() {
        sym(
            &mut b,
            String::new(),
            Some(*t),
            elf::STB_LOCAL,
            elf::STT_SECTION,
            0,
            0,
        );
        sym(
            &mut b,
            format!("__static_helper_{i}"),
            Some(*t),
            elf::STB_LOCAL,
            elf::STT_FUNC,
            0,
            8,
        );
    }
    // Globals: one defined function per section, the rest undefined
    // exported symbols, then the annotations.
    let mut funcs = Vec::with_capacity(p.sections);
    for (i, t) in texts.iter().enumerate() {
        let size = (per(i).max(1) * 8) as u64;
        funcs.push(sym(
            &mut b,
            format!("livepatch_fn_{i}"),
            Some(*t),
            elf::STB_GLOBAL,
            elf::STT_FUNC,
            0,
            size,
        ));
    }
    let mut exported = Vec::new();
    for i in 0..p.globals.saturating_sub(p.sections).max(1) {
        exported.push(sym(
            &mut b,
            format!("exported_symbol_{i}"),
            None,
            elf::STB_GLOBAL,
            elf::STT_NOTYPE,
            0,
            0,
        ));
    }
    let mut klp = Vec::with_capacity(p.klp_syms);
    for i in 0..p.klp_syms {
        let name = if i % 5 == 4 {
            format!(".klp.sym.rela.ext4.ext4.ext4_private_function_{i},0")
        } else {
            format!(
                ".klp.sym.rela.vmlinux.vmlinux.kernel_private_symbol_{i},{}",
                i % 3
            )
        };
        klp.push(sym(
            &mut b,
            name,
            None,
            elf::STB_WEAK,
            elf::STT_NOTYPE,
            0,
            0,
        ));
    }

    // Relocation sections, after the symbol table as ld -r places them.
    let mut r = 0usize;
    for (i, t) in texts.iter().enumerate() {
        let mut entries = Vec::with_capacity(per(i));
        for site in 0..per(i) {
            let offset = (site * 8 + 1) as u64;
            let entry = if r % p.klp_every == 0 {
                let k = klp[(r / p.klp_every) % klp.len()];
                Relocation {
                    r_offset: offset,
                    symbol: Some(k),
                    r_type: if site % 2 == 0 {
                        elf::R_X86_64_PLT32
                    } else {
                        elf::R_X86_64_PC32
                    },
                    r_addend: -4,
                }
            } else {
                match r % 3 {
                    0 => Relocation {
                        r_offset: offset,
                        symbol: Some(funcs[(i + r) % funcs.len()]),
                        r_type: elf::R_X86_64_PLT32,
                        r_addend: -4,
                    },
                    1 => Relocation {
                        r_offset: offset,
                        symbol: Some(exported[r % exported.len()]),
                        r_type: elf::R_X86_64_PLT32,
                        r_addend: -4,
                    },
                    _ => Relocation {
                        r_offset: offset,
                        symbol: Some(rodata_sym),
                        r_type: elf::R_X86_64_32S,
                        r_addend: ((r * 7) as u64 % rodata_len) as i64,
                    },
                }
            };
            entries.push(entry);
            r += 1;
        }
        if entries.is_empty() {
            continue;
        }
        let rela = b.sections.add();
        rela.name = format!(".rela.text.fn_{i}").into_bytes().into();
        rela.sh_type = elf::SHT_RELA;
        rela.sh_flags = elf::SHF_INFO_LINK;
        rela.sh_link_section = Some(symtab);
        rela.sh_info_section = Some(*t);
        rela.sh_addralign = 8;
        rela.sh_entsize = 24;
        rela.data = SectionData::Relocation(entries);
    }

    let mut out = Vec::new();
    b.write(&mut out).map_err(|e| e.to_string())?;
    names_in_symbol_order(&mut out)?;
    Ok(out)
}

/// Rewrite the symbol string table of `elf` with the names in symbol
/// order, as ld -r writes it: object's writer sorts it for suffix
/// sharing, which puts consecutive symbols' names megabytes apart in a
/// large module, where a linked module has them side by side (in
/// Debian's 6.1 modules, 90% of consecutive symbols have increasing
/// name offsets, a median 24 bytes apart). The table keeps its place and
/// size (the names share no suffix), zero-padded.
fn names_in_symbol_order(elf: &mut [u8]) -> Result<(), String> {
    use object::read::elf::{FileHeader, SectionHeader};
    let e = Endianness::Little;
    let file = &*elf;
    let header = elf::FileHeader64::<Endianness>::parse(file).map_err(|e| e.to_string())?;
    let sections = header.sections(e, file).map_err(|e| e.to_string())?;
    let (symtab, strtab) = sections
        .iter()
        .enumerate()
        .find(|(_, s)| s.sh_type(e) == elf::SHT_SYMTAB)
        .map(|(_, s)| (s, s.sh_link(e) as usize))
        .ok_or("no symbol table")?;
    let strtab = sections
        .section(object::SectionIndex(strtab))
        .map_err(|e| e.to_string())?;
    let (sym_at, sym_size) = (symtab.sh_offset(e) as usize, symtab.sh_size(e) as usize);
    let (str_at, str_size) = (strtab.sh_offset(e) as usize, strtab.sh_size(e) as usize);
    let old = file
        .get(str_at..str_at + str_size)
        .ok_or("string table outside the file")?
        .to_vec();
    let mut table = vec![0u8];
    let mut offsets = Vec::with_capacity(sym_size / 24);
    for entry in file
        .get(sym_at..sym_at + sym_size)
        .ok_or("symbol table outside the file")?
        .chunks_exact(24)
    {
        let at = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]) as usize;
        let name = old.get(at..).ok_or("name outside the string table")?;
        let name = &name[..name
            .iter()
            .position(|b| *b == 0)
            .ok_or("unterminated name")?];
        if name.is_empty() {
            offsets.push(0u32);
        } else {
            offsets.push(table.len() as u32);
            table.extend_from_slice(name);
            table.push(0);
        }
    }
    if table.len() > str_size {
        return Err("the names in symbol order do not fit the string table".into());
    }
    table.resize(str_size, 0);
    elf[str_at..str_at + str_size].copy_from_slice(&table);
    for (k, offset) in offsets.into_iter().enumerate() {
        let at = sym_at + k * 24;
        elf[at..at + 4].copy_from_slice(&offset.to_le_bytes());
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (params, out) = match parse_args(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("gen-module: {e}");
            eprintln!("Usage: gen-module [--relocs N] [--klp-syms N] [--sections N] [--globals N] [--data BYTES] [--klp-every K] OUT");
            return ExitCode::from(2);
        }
    };
    let bytes = match generate(&params) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("gen-module: cannot build the ELF file: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::write(&out, bytes) {
        eprintln!("gen-module: cannot write {out}: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
