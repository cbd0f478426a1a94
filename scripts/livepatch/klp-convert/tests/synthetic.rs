// SPDX-License-Identifier: GPL-2.0-only
//! Cases a compiler does not produce, built with object's ELF writer:
//! ELF32 in both byte orders, big-endian ELF64, SHN_XINDEX, 64-bit
//! addends, SHT_REL, stray livepatch symbols, unknown machines.

mod common;

use std::fs;
use std::path::PathBuf;

use common::*;
use klp_convert::{run, Options, Outcome};
use object::elf;
use object::Endianness::{Big, Little};

fn write(name: &str, data: &[u8]) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let path = dir.join(format!("{name}.ko"));
    fs::write(&path, data).unwrap();
    (dir, path)
}

fn convert_ok(name: &str, data: &[u8]) -> Vec<u8> {
    let (dir, path) = write(name, data);
    let out = dir.join("out.ko");
    let r = klp_convert(&[path.as_os_str(), out.as_os_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let converted = fs::read(&out).unwrap();
    check_converted(&converted);
    // Idempotent.
    let again = dir.join("again.ko");
    let r = klp_convert(&[out.as_os_str(), again.as_os_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("already converted"), "{}", r.stdout);
    assert_eq!(fs::read(&again).unwrap(), converted);
    converted
}

fn convert_err(name: &str, data: &[u8], expected: &[&str]) {
    let (dir, path) = write(name, data);
    let out = dir.join("out.ko");
    let r = klp_convert(&[path.as_os_str(), out.as_os_str()]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    for e in expected {
        assert!(r.stderr.contains(e), "expected {e:?} in:\n{}", r.stderr);
    }
    assert_untouched(&dir, &path, data, Some(&out));
}

#[test]
fn elf32_big_endian_ppc32() {
    let mut s = Synth::new(Big, false, elf::EM_PPC.0, 16, true, 0);
    let v = s.undefined(".klp.sym.rela.vmlinux.vmlinux.jiffies,0", elf::STB_WEAK);
    let f = s.undefined(".klp.sym.rela.nfsd.nfsd.nfsd_helper,1", elf::STB_WEAK);
    s.reloc(2, v, elf::R_PPC_ADDR16_HA.0, 0);
    s.reloc(6, v, elf::R_PPC_ADDR16_LO.0, 0);
    s.reloc(8, f, elf::R_PPC_REL24.0, 0);
    let out = convert_ok("ppc32", &s.write());
    let m = Module::parse(&out).unwrap();
    assert!(!m.is_64 && m.big_endian);
    let vml = section(&m, ".klp.rela.vmlinux..text").unwrap();
    assert_eq!(vml.relocs.len(), 2);
    assert_eq!(vml.entsize, 12);
    let nfsd = section(&m, ".klp.rela.nfsd..text").unwrap();
    assert_eq!(nfsd.relocs.len(), 1);
    assert_eq!(nfsd.relocs.get(0).unwrap().r_type, elf::R_PPC_REL24.0);
    assert_eq!(nfsd.relocs.get(0).unwrap().offset, 8);
    assert!(section(&m, ".rela.text").is_none());
}

#[test]
fn elf32_little_endian_riscv32() {
    let mut s = Synth::new(Little, false, elf::EM_RISCV.0, 16, true, 0);
    let v = s.undefined(".klp.sym.rela.vmlinux.vmlinux.jiffies,0", elf::STB_GLOBAL);
    s.reloc(0, v, elf::R_RISCV_HI20.0, 4);
    s.reloc(4, v, elf::R_RISCV_LO12_I.0, 4);
    let out = convert_ok("rv32", &s.write());
    let m = Module::parse(&out).unwrap();
    assert!(!m.is_64 && !m.big_endian);
    let r = &section(&m, ".klp.rela.vmlinux..text").unwrap().relocs;
    assert_eq!(r.len(), 2);
    assert_eq!(r.get(0).unwrap().addend, 4);

    let mut s = Synth::new(Little, false, elf::EM_RISCV.0, 16, true, 0);
    let v = s.undefined(".klp.sym.rela.vmlinux.vmlinux.jiffies,0", elf::STB_WEAK);
    s.reloc(0, v, elf::R_RISCV_PCREL_HI20.0, 0);
    convert_err(
        "rv32pcrel",
        &s.write(),
        &["R_RISCV_PCREL_HI20", "PCREL_LO12 partner", "offset 0x0"],
    );
}

#[test]
fn elf64_big_endian_s390x_with_large_addend() {
    let mut s = Synth::new(Big, true, elf::EM_S390.0, 32, true, 0);
    let v = s.undefined(".klp.sym.rela.vmlinux.vmlinux.big_table,0", elf::STB_WEAK);
    let addend = 0x1234_5678_9abc_i64;
    s.reloc(2, v, elf::R_390_PC32DBL.0, addend);
    s.reloc(8, v, elf::R_390_64.0, -0x7fff_ffff_ffff);
    let out = convert_ok("s390", &s.write());
    let m = Module::parse(&out).unwrap();
    assert!(m.is_64 && m.big_endian);
    let r = &section(&m, ".klp.rela.vmlinux..text").unwrap().relocs;
    assert_eq!(r.get(0).unwrap().addend, addend);
    assert_eq!(r.get(1).unwrap().addend, -0x7fff_ffff_ffff);
    assert_eq!(r.get(1).unwrap().r_type, elf::R_390_64.0);
}

#[test]
fn ppc64_big_endian_needs_nop_after_call() {
    let nop = 0x6000_0000u32.to_be_bytes();
    let mut s = Synth::new(Big, true, elf::EM_PPC64.0, 16, true, 0);
    if let object::build::elf::SectionData::Data(d) = &mut s.builder.sections.get_mut(s.text).data {
        let mut text = vec![0u8; 16];
        text[4..8].copy_from_slice(&nop);
        *d = text.into();
    }
    let f = s.undefined(".klp.sym.rela.vmlinux.vmlinux.do_thing,0", elf::STB_WEAK);
    s.reloc(0, f, elf::R_PPC64_REL24.0, 0);
    s.reloc(8, f, elf::R_PPC64_REL24.0, 0);
    convert_err(
        "ppc64nop",
        &s.write(),
        &[
            "offset 0x8",
            "the instruction after this call is 0x00000000, not a nop",
        ],
    );
}

#[test]
fn shn_xindex_symbols_survive() {
    // .text lands past SHN_LORESERVE, so its symbols need .symtab_shndx.
    let mut s = Synth::new(Little, true, elf::EM_X86_64.0, 16, true, 0xff10);
    let v = s.undefined(".klp.sym.rela.vmlinux.vmlinux.jiffies,0", elf::STB_WEAK);
    s.reloc(4, v, elf::R_X86_64_PC32.0, -4);
    let data = s.write();
    let before = Module::parse(&data).unwrap();
    let text_index = section(&before, ".text").unwrap().index;
    assert!(text_index >= 0xff00);
    let (index, func) = before
        .symbols
        .iter()
        .enumerate()
        .find(|(_, s)| s.name == b"patched_func")
        .unwrap();
    assert_eq!(func.shndx, elf::SHN_XINDEX.0);
    let at = before.symbol_section(index).map(|s| s.get() as usize);
    assert_eq!(at, Some(text_index));
    drop(before);

    let out = convert_ok("xindex", &data);
    let m = Module::parse(&out).unwrap();
    let text = section(&m, ".text").unwrap();
    let index = m
        .symbols
        .iter()
        .position(|s| s.name == b"patched_func")
        .unwrap();
    let at = m.symbol_section(index).map(|s| s.get() as usize);
    assert_eq!(at, Some(text.index));
    let klp = section(&m, ".klp.rela.vmlinux..text").unwrap();
    assert_eq!(klp.info as usize, text.index);
    assert_eq!(klp.relocs.get(0).unwrap().addend, -4);
}

#[test]
fn rel_sections_are_rejected() {
    let mut s = Synth::new(Little, false, elf::EM_RISCV.0, 16, true, 0);
    let v = s.undefined(".klp.sym.rela.vmlinux.vmlinux.jiffies,0", elf::STB_WEAK);
    s.reloc(0, v, elf::R_RISCV_32.0, 0);
    let rela = s.builder.sections.get_mut(s.rela_text);
    rela.sh_type = elf::SHT_REL;
    rela.name = b".rel.text".to_vec().into();
    rela.sh_entsize = 8;
    convert_err(
        "rel",
        &s.write(),
        &[
            "section .rel.text, offset 0x0",
            "referenced from a SHT_REL section",
        ],
    );
}

#[test]
fn livepatch_symbol_in_ordinary_section_is_rejected() {
    let mut s = Synth::new(Little, true, elf::EM_X86_64.0, 16, true, 0);
    let v = s.undefined(".klp.sym.vmlinux.jiffies,0", elf::STB_GLOBAL);
    s.builder.symbols.get_mut(v).st_shndx = elf::SymbolSection(SHN_LIVEPATCH);
    s.reloc(4, v, elf::R_X86_64_PC32.0, -4);
    convert_err(
        "stray",
        &s.write(),
        &[
            "section .rela.text, offset 0x4, symbol .klp.sym.vmlinux.jiffies,0",
            "livepatch symbol in an ordinary relocation section",
        ],
    );
}

#[test]
fn unknown_machine_is_rejected() {
    let mut s = Synth::new(Little, false, elf::EM_386.0, 16, true, 0);
    let v = s.undefined(".klp.sym.rela.vmlinux.vmlinux.jiffies,0", elf::STB_WEAK);
    s.reloc(4, v, elf::R_386_32.0, 0);
    convert_err(
        "i386",
        &s.write(),
        &["not supported for e_machine 3 (32-bit)"],
    );
}

#[test]
fn non_alloc_target_is_rejected() {
    let mut s = Synth::new(Little, true, elf::EM_X86_64.0, 16, true, 0);
    let text = s.builder.sections.get_mut(s.text);
    text.sh_flags = elf::SectionFlags(0);
    let v = s.undefined(".klp.sym.rela.vmlinux.vmlinux.jiffies,0", elf::STB_WEAK);
    s.reloc(4, v, elf::R_X86_64_64.0, 0);
    convert_err("nonalloc", &s.write(), &["non-allocated section .text"]);
}

#[test]
fn local_annotation_is_rejected() {
    let mut s = Synth::new(Little, true, elf::EM_X86_64.0, 16, true, 0);
    let v = s.undefined(".klp.sym.rela.vmlinux.vmlinux.jiffies,0", elf::STB_LOCAL);
    s.reloc(4, v, elf::R_X86_64_64.0, 0);
    convert_err("local", &s.write(), &["binding 0, expected WEAK or GLOBAL"]);
}

#[test]
fn unreferenced_annotation_is_converted() {
    let mut s = Synth::new(Little, true, elf::EM_X86_64.0, 16, true, 0);
    s.undefined(".klp.sym.rela.vmlinux.vmlinux.jiffies,0", elf::STB_WEAK);
    let out = convert_ok("unref", &s.write());
    let m = Module::parse(&out).unwrap();
    let sym = m
        .symbols
        .iter()
        .find(|s| s.name == b".klp.sym.vmlinux.jiffies,0")
        .unwrap();
    assert_eq!(sym.shndx, SHN_LIVEPATCH);
    // The empty .rela.text of the input is kept: only emptied ones go.
    assert!(section(&m, ".rela.text").is_some());
}

#[test]
fn library_api_dry_run() {
    let mut s = Synth::new(Little, true, elf::EM_X86_64.0, 16, true, 0);
    let v = s.undefined(".klp.sym.rela.vmlinux.vmlinux.jiffies,0", elf::STB_WEAK);
    s.reloc(4, v, elf::R_X86_64_PC32.0, -4);
    let data = s.write();
    let (_dir, path) = write("api", &data);
    let report = run(&Options {
        input: path.clone(),
        dry_run: true,
        ..Options::default()
    })
    .unwrap();
    assert_eq!(
        report.outcome,
        Outcome::Converted {
            symbols: 1,
            relocations: 1
        }
    );
    assert_eq!(fs::read(&path).unwrap(), data);
}

#[test]
fn garbage_never_panics() {
    // Flip bytes of a valid module one at a time: klp-convert must fail
    // cleanly or succeed, never panic.
    let mut s = Synth::new(Little, true, elf::EM_X86_64.0, 16, true, 0);
    let v = s.undefined(".klp.sym.rela.vmlinux.vmlinux.jiffies,0", elf::STB_WEAK);
    s.reloc(4, v, elf::R_X86_64_PC32.0, -4);
    let data = s.write();
    let dir = scratch("fuzz");
    let path = dir.join("f.ko");
    let step = 1;
    for i in (0..data.len()).step_by(step) {
        for val in [0xffu8, 0x80, 0x01] {
            let mut d = data.clone();
            d[i] ^= val;
            fs::write(&path, &d).unwrap();
            let _ = run(&Options {
                input: path.clone(),
                dry_run: true,
                ..Options::default()
            });
            let _ = run(&Options {
                input: path.clone(),
                list: true,
                ..Options::default()
            });
        }
    }
}

fn klp_section(s: &mut Synth, name: &str, sym: &str) -> object::build::elf::SymbolId {
    let v = s.undefined(sym, elf::STB_GLOBAL);
    s.builder.symbols.get_mut(v).st_shndx = elf::SymbolSection(SHN_LIVEPATCH);
    let symtab = s.symtab;
    let text = s.text;
    let klp = s.builder.sections.add();
    klp.name = name.as_bytes().to_vec().into();
    klp.sh_type = elf::SHT_RELA;
    klp.sh_flags = elf::SectionFlags(elf::SHF_ALLOC.0 | elf::SHF_INFO_LINK.0 | SHF_RELA_LIVEPATCH);
    klp.sh_link_section = Some(symtab);
    klp.sh_info_section = Some(text);
    klp.sh_addralign = 8;
    klp.sh_entsize = 24;
    klp.data = object::build::elf::SectionData::Relocation(vec![object::build::elf::Relocation {
        r_offset: 8,
        symbol: Some(v),
        r_type: elf::R_X86_64_64,
        r_addend: 0,
    }]);
    v
}

#[test]
fn appends_to_existing_livepatch_section() {
    // A module converted before (by kpatch, objtool or an older run) that
    // gained a new annotated reference.
    let mut s = Synth::new(Little, true, elf::EM_X86_64.0, 32, true, 0);
    klp_section(&mut s, ".klp.rela.vmlinux..text", ".klp.sym.vmlinux.old,0");
    let v = s.undefined(".klp.sym.rela.vmlinux.vmlinux.new,0", elf::STB_WEAK);
    s.reloc(16, v, elf::R_X86_64_PC32.0, -4);
    let out = convert_ok("append", &s.write());
    let m = Module::parse(&out).unwrap();
    let klp: Vec<_> = m.sections.iter().filter(|s| s.is_livepatch()).collect();
    assert_eq!(klp.len(), 1);
    assert_eq!(klp[0].relocs.len(), 2);
    assert_eq!(klp[0].relocs.get(0).unwrap().offset, 8);
    assert_eq!(klp[0].relocs.get(1).unwrap().offset, 16);
}

#[test]
fn existing_module_section_with_vmlinux_symbol_is_rejected() {
    let mut s = Synth::new(Little, true, elf::EM_X86_64.0, 32, true, 0);
    klp_section(&mut s, ".klp.rela.ext4..text", ".klp.sym.vmlinux.jiffies,0");
    convert_err(
        "modvml",
        &s.write(),
        &["vmlinux symbol in module-specific livepatch relocation section"],
    );
}

#[test]
fn malformed_existing_livepatch_names_are_rejected() {
    let mut s = Synth::new(Little, true, elf::EM_X86_64.0, 32, true, 0);
    klp_section(&mut s, ".klp.rela.vmlinux", ".klp.sym.vmlinux.jiffies");
    convert_err(
        "badklp",
        &s.write(),
        &[
            "malformed livepatch relocation section name",
            "livepatch symbol with a malformed name",
        ],
    );
}

#[test]
fn section_groups_are_renumbered() {
    // A group of .text and .rela.text: the conversion empties and removes
    // .rela.text, so the group keeps .text alone, under its new index.
    let mut s = Synth::new(Little, true, elf::EM_X86_64.0, 16, true, 0);
    let v = s.undefined(".klp.sym.rela.vmlinux.vmlinux.jiffies,0", elf::STB_WEAK);
    s.reloc(4, v, elf::R_X86_64_PC32.0, -4);
    let symtab = s.symtab;
    let g = s.builder.sections.add();
    g.name = b".group".to_vec().into();
    g.sh_type = elf::SHT_GROUP;
    g.sh_link_section = Some(symtab);
    g.sh_info = 2;
    g.sh_addralign = 4;
    g.sh_entsize = 4;
    // Sections are numbered in the order they were added.
    let members: Vec<u8> = [1u32, 2, 5].iter().flat_map(|w| w.to_le_bytes()).collect();
    g.data = object::build::elf::SectionData::Data(members.into());
    let data = s.write();
    let m = Module::parse(&data).unwrap();
    assert_eq!(section(&m, ".text").unwrap().index, 2);
    assert_eq!(section(&m, ".rela.text").unwrap().index, 5);
    let out = convert_ok("group", &data);
    let c = Module::parse(&out).unwrap();
    assert!(section(&c, ".rela.text").is_none());
    let text = section(&c, ".text").unwrap().index as u32;
    let group = section(&c, ".group").unwrap();
    let words: Vec<u32> = group
        .data
        .unwrap()
        .chunks(4)
        .map(|w| u32::from_le_bytes(w.try_into().unwrap()))
        .collect();
    assert_eq!(words, [1, text]);
}
