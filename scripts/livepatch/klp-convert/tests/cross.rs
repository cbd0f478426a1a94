// SPDX-License-Identifier: GPL-2.0-only
//! Conversion of modules compiled during the test with Debian's cross
//! compilers (dev-harness/apt-packages-crate.txt). Without a compiler the test is
//! skipped with a notice, or fails when CI is set.

mod common;

use std::fs;

use common::*;
use object::elf;

const SOURCE: &str = r#"
static const char __modinfo_lp[] __attribute__((section(".modinfo"), used, aligned(1))) =
	"livepatch=Y";
extern char *saved_command_line KLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);
extern int target_var KLP_RELOC_SYMBOL_POS(target_mod, target_mod, target_var, 2);
extern int target_func(int) KLP_RELOC_SYMBOL(target_mod, target_mod, target_func);
void *ptrs[] = { &saved_command_line, &target_var };
int calls(int x)
{
	return target_func(x) + 1;
}
int loads(void)
{
	return printk("%s %d\n", saved_command_line, target_var);
}
"#;

/// Convert SOURCE for `tc`; return the converted bytes.
fn convert(tc: &Toolchain, name: &str, source: &str) -> Option<Vec<u8>> {
    if !require_tool(tc.gcc, tc.package) {
        return None;
    }
    let dir = scratch(name);
    let ko = build_module_with(tc, &dir, name, source, &[]);
    let out = dir.join("out.ko");
    let r = klp_convert(&["-v".as_ref(), ko.as_os_str(), out.as_os_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let data = fs::read(&out).unwrap();
    assert!(check_converted(&data) >= 4);
    let again = dir.join("again.ko");
    let r = klp_convert(&[out.as_os_str(), again.as_os_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(fs::read(&again).unwrap(), data, "not idempotent");
    Some(data)
}

#[test]
fn ppc64le() {
    let Some(data) = convert(&PPC64LE, "ppc64le", SOURCE) else {
        return;
    };
    let m = Module::parse(&data).unwrap();
    assert_eq!(m.machine, elf::EM_PPC64.0);
    // The call to target_func is a REL24 followed by a nop.
    let klp = section(&m, ".klp.rela.target_mod..text").expect("call relocation");
    let call = klp
        .relocs
        .iter()
        .find(|r| r.r_type == elf::R_PPC64_REL24.0)
        .expect("REL24");
    let text = section(&m, ".text").unwrap().data.unwrap();
    let at = call.offset as usize + 4;
    assert_eq!(
        u32::from_le_bytes(text[at..at + 4].try_into().unwrap()),
        0x6000_0000
    );
    // .TOC. is never converted.
    assert!(m.symbols.iter().any(|s| s.name == b".TOC." && s.shndx == 0));
}

#[test]
fn s390x() {
    let Some(data) = convert(&S390X, "s390x", SOURCE) else {
        return;
    };
    let m = Module::parse(&data).unwrap();
    assert!(m.big_endian);
    let types: Vec<u32> = m
        .sections
        .iter()
        .filter(|s| s.is_livepatch())
        .flat_map(|s| s.relocs.iter().map(|r| r.r_type))
        .collect();
    assert!(types.contains(&elf::R_390_GOTENT.0), "{types:?}");
    assert!(types.contains(&elf::R_390_PLT32DBL.0), "{types:?}");
}

#[test]
fn aarch64_calls_and_pointers() {
    let source = r#"
static const char __modinfo_lp[] __attribute__((section(".modinfo"), used, aligned(1))) =
	"livepatch=Y";
extern char *saved_command_line KLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);
extern int target_var KLP_RELOC_SYMBOL_POS(target_mod, target_mod, target_var, 2);
extern int target_func(int) KLP_RELOC_SYMBOL(target_mod, target_mod, target_func);
extern int vmlinux_func(int) KLP_RELOC_SYMBOL(vmlinux, vmlinux, vmlinux_func);
void *ptrs[] = { &saved_command_line, &target_var };
int calls(int x)
{
	return target_func(x) + vmlinux_func(x);
}
"#;
    let Some(data) = convert(&AARCH64, "aarch64", source) else {
        return;
    };
    let m = Module::parse(&data).unwrap();
    assert_eq!(m.machine, elf::EM_AARCH64.0);
    let calls = section(&m, ".klp.rela.vmlinux..text").unwrap();
    assert_eq!(calls.relocs.get(0).unwrap().r_type, elf::R_AARCH64_CALL26.0);
}

#[test]
fn aarch64_weak_data_through_the_got_becomes_direct() {
    // GCC reaches weak undefined data through the GOT on arm64, which the
    // arm64 module loader does not build: adrp (ADR_GOT_PAGE) + ldr
    // (LD64_GOT_LO12_NC) become adrp (ADR_PREL_PG_HI21) + add
    // (ADD_ABS_LO12_NC) of the same registers.
    if !require_tool(AARCH64.gcc, AARCH64.package) {
        return;
    }
    let dir = scratch("aarch64got");
    let ko = build_module_with(&AARCH64, &dir, "got", SOURCE, &[]);
    let before = fs::read(&ko).unwrap();
    let m0 = Module::parse(&before).unwrap();
    let text0 = section(&m0, ".text").unwrap().data.unwrap().to_vec();
    let got: Vec<(u64, u32)> = section(&m0, ".rela.text")
        .unwrap()
        .relocs
        .iter()
        .filter(|r| r.r_type == elf::R_AARCH64_LD64_GOT_LO12_NC.0)
        .map(|r| (r.offset, r.r_type))
        .collect();
    assert_eq!(got.len(), 2, "GCC no longer uses the GOT here");
    let Some(data) = convert(&AARCH64, "aarch64got", SOURCE) else {
        return;
    };
    let m = Module::parse(&data).unwrap();
    let text = section(&m, ".text").unwrap().data.unwrap();
    let mut types = Vec::new();
    for s in m.sections.iter().filter(|s| s.is_livepatch()) {
        for r in s.relocs.iter() {
            types.push(r.r_type);
        }
    }
    assert!(
        !types.contains(&elf::R_AARCH64_ADR_GOT_PAGE.0)
            && !types.contains(&elf::R_AARCH64_LD64_GOT_LO12_NC.0),
        "{types:?}"
    );
    assert!(
        types.contains(&elf::R_AARCH64_ADR_PREL_PG_HI21.0),
        "{types:?}"
    );
    assert!(
        types.contains(&elf::R_AARCH64_ADD_ABS_LO12_NC.0),
        "{types:?}"
    );
    let word =
        |b: &[u8], at: u64| u32::from_le_bytes(b[at as usize..at as usize + 4].try_into().unwrap());
    for (at, _) in got {
        let ldr = word(&text0, at);
        let add = word(text, at);
        assert_eq!(ldr & 0xffc0_0000, 0xf940_0000, "not an ldr: {ldr:08x}");
        assert_eq!(add, 0x9100_0000 | (ldr & 0x3ff), "not the add: {add:08x}");
    }
    // Only the rewritten instructions change.
    let changed = text0.iter().zip(text).filter(|(a, b)| a != b).count();
    assert!(changed > 0 && changed <= 8, "{changed} bytes changed");
}
