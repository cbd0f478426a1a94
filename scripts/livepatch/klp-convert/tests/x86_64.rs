// SPDX-License-Identifier: GPL-2.0-only
//! End-to-end tests on x86_64 modules compiled from C during the test.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::*;

const BASIC: &str = r#"
extern char *saved_command_line KLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);
extern int target_var KLP_RELOC_SYMBOL_POS(target_mod, target_mod, target_var, 2);
extern int helper(int) KLP_RELOC_SYMBOL(target_mod, target_mod, helper);
/* Only livepatch relocations in .data: .rela.data must disappear. */
void *ptrs[] = { &saved_command_line, &target_var };
int patched(int x)
{
	printk("%s %d\n", saved_command_line, target_var);
	return helper(x) + 1;
}
"#;

fn basic(dir: &std::path::Path) -> std::path::PathBuf {
    build_module(dir, "basic", &format!("{MODINFO_LIVEPATCH}{BASIC}"))
}

#[test]
fn converts_basic_module() {
    let dir = scratch("basic");
    let ko = basic(&dir);
    let out = dir.join("out.ko");
    let r = klp_convert(&[ko.as_os_str(), out.as_os_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "");
    let data = fs::read(&out).unwrap();
    // 2 in .data, 3 in .text (two loads and the call).
    assert_eq!(check_converted(&data), 5);
    let m = Module::parse(&data).unwrap();
    let names: Vec<String> = m
        .sections
        .iter()
        .filter(|s| s.is_livepatch())
        .map(|s| s.display_name())
        .collect();
    assert_eq!(
        names,
        [
            ".klp.rela.target_mod..text",
            ".klp.rela.vmlinux..text",
            ".klp.rela.vmlinux..data",
            ".klp.rela.target_mod..data"
        ]
    );
    assert!(section(&m, ".rela.data").is_none(), "empty .rela.data kept");
    let rela_text = section(&m, ".rela.text").expect(".rela.text kept for printk");
    assert_eq!(
        rela_text.relocs.len(),
        2,
        "printk and the format string remain"
    );
    let syms: Vec<String> = m
        .symbols
        .iter()
        .filter(|s| s.shndx == SHN_LIVEPATCH)
        .map(|s| s.display_name())
        .collect();
    assert_eq!(syms.len(), 3, "three livepatch symbols: {syms:?}");
    assert!(syms.contains(&".klp.sym.vmlinux.saved_command_line,0".to_string()));
    assert!(syms.contains(&".klp.sym.target_mod.target_var,2".to_string()));
    assert!(syms.contains(&".klp.sym.target_mod.helper,0".to_string()));
    // Everything else is preserved: the code bytes are the same.
    let before = fs::read(&ko).unwrap();
    let mb = Module::parse(&before).unwrap();
    assert_eq!(
        section(&mb, ".text").unwrap().data,
        section(&m, ".text").unwrap().data
    );
    assert_eq!(
        section(&mb, ".modinfo").unwrap().data,
        section(&m, ".modinfo").unwrap().data
    );
}

#[test]
fn in_place_idempotent_and_deterministic() {
    let dir = scratch("idem");
    let ko = basic(&dir);
    let copy = dir.join("copy.ko");
    fs::copy(&ko, &copy).unwrap();
    let a = dir.join("a.ko");
    let b = dir.join("b.ko");
    assert_eq!(klp_convert(&[ko.as_os_str(), a.as_os_str()]).code, 0);
    assert_eq!(klp_convert(&[ko.as_os_str(), b.as_os_str()]).code, 0);
    let first = fs::read(&a).unwrap();
    assert_eq!(first, fs::read(&b).unwrap(), "output is not deterministic");

    // In place gives the same bytes.
    let r = klp_convert(&[copy.as_os_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(fs::read(&copy).unwrap(), first);

    // A second run changes nothing and says so.
    let r = klp_convert(&[copy.as_os_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("already converted"), "{}", r.stdout);
    assert_eq!(fs::read(&copy).unwrap(), first);
    let c = dir.join("c.ko");
    let r = klp_convert(&[copy.as_os_str(), c.as_os_str()]);
    assert_eq!(r.code, 0);
    assert_eq!(fs::read(&c).unwrap(), first, "pass-through copy differs");
}

#[test]
fn list_before_and_after() {
    let dir = scratch("list");
    let src = format!(
        "{MODINFO_LIVEPATCH}{}",
        r#"
extern char *saved_command_line KLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);
extern int target_var KLP_RELOC_SYMBOL_POS(target_mod, target_mod, target_var, 2);
void *ptrs[] = { &saved_command_line, &target_var };
"#
    );
    let ko = build_module(&dir, "list", &src);
    let r = klp_convert(&["--list".as_ref(), ko.as_os_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "# section\toffset\ttype\tobject\tsymbol\tpos\n\
         .rela.data\t0x0\tR_X86_64_64\tvmlinux\tsaved_command_line\t0\n\
         .rela.data\t0x8\tR_X86_64_64\ttarget_mod\ttarget_var\t2\n"
    );
    assert_eq!(klp_convert(&[ko.as_os_str()]).code, 0);
    let r = klp_convert(&["-l".as_ref(), ko.as_os_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "# section\toffset\ttype\tobject\tsymbol\tpos\n\
         .klp.rela.vmlinux..data\t0x0\tR_X86_64_64\tvmlinux\tsaved_command_line\t0\n\
         .klp.rela.target_mod..data\t0x8\tR_X86_64_64\ttarget_mod\ttarget_var\t2\n"
    );
}

#[test]
fn dry_run_and_verbose() {
    let dir = scratch("dry");
    let ko = basic(&dir);
    let before = fs::read(&ko).unwrap();
    let out = dir.join("out.ko");
    let r = klp_convert(&["-n".as_ref(), ko.as_os_str(), out.as_os_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_untouched(&dir, &ko, &before, Some(&out));
    assert!(r
        .stdout
        .contains("would convert symbol .klp.sym.rela.vmlinux.vmlinux.saved_command_line,0 -> .klp.sym.vmlinux.saved_command_line,0"),
        "{}", r.stdout);
    assert_eq!(
        r.stdout
            .lines()
            .filter(|l| l.starts_with("would convert relocation"))
            .count(),
        5
    );
    let r = klp_convert(&["--dry-run".as_ref(), ko.as_os_str()]);
    assert_eq!(r.code, 0);
    assert_untouched(&dir, &ko, &before, None);

    let r = klp_convert(&["-v".as_ref(), ko.as_os_str(), out.as_os_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout
            .lines()
            .filter(|l| l.starts_with("convert relocation"))
            .count(),
        5
    );
    assert_eq!(
        r.stdout
            .lines()
            .filter(|l| l.starts_with("convert symbol"))
            .count(),
        3
    );
    assert!(r.stdout.contains(
        "convert relocation .rela.data+0x0 R_X86_64_64 .klp.sym.rela.vmlinux.vmlinux.saved_command_line,0 -> .klp.rela.vmlinux..data"
    ), "{}", r.stdout);
    // Quiet by default.
    let out2 = dir.join("out2.ko");
    let r = klp_convert(&[ko.as_os_str(), out2.as_os_str()]);
    assert_eq!(r.stdout, "");
}

#[test]
fn keeps_permissions() {
    let dir = scratch("perm");
    let ko = basic(&dir);
    fs::set_permissions(&ko, fs::Permissions::from_mode(0o604)).unwrap();
    assert_eq!(klp_convert(&[ko.as_os_str()]).code, 0);
    assert_eq!(
        fs::metadata(&ko).unwrap().permissions().mode() & 0o7777,
        0o604
    );
}

/// Run a failing conversion and check the error and that nothing changed.
fn expect_error(name: &str, source: &str, extra: &[&str], expected: &[&str]) -> String {
    let dir = scratch(name);
    let ko = build_module_with(&X86_64, &dir, name, source, extra);
    let before = fs::read(&ko).unwrap();
    let out = dir.join("out.ko");
    let r = klp_convert(&[ko.as_os_str(), out.as_os_str()]);
    assert_eq!(r.code, 1, "stdout {} stderr {}", r.stdout, r.stderr);
    for e in expected {
        assert!(r.stderr.contains(e), "expected {e:?} in:\n{}", r.stderr);
    }
    assert!(
        r.stderr
            .starts_with(&format!("klp-convert: {}: error: ", ko.display())),
        "{}",
        r.stderr
    );
    assert_untouched(&dir, &ko, &before, Some(&out));
    // In place too.
    let r = klp_convert(&[ko.as_os_str()]);
    assert_eq!(r.code, 1);
    assert_untouched(&dir, &ko, &before, None);
    r.stderr
}

#[test]
fn error_missing_livepatch_modinfo() {
    expect_error(
        "nomodinfo",
        BASIC,
        &[],
        &[
            "no livepatch=Y in .modinfo",
            "MODULE_INFO(livepatch, \"Y\")",
        ],
    );
}

#[test]
fn not_livepatch_without_annotations_is_left_alone() {
    let dir = scratch("plain");
    let ko = build_module(&dir, "plain", "int f(void) { return printk(\"x\"); }\n");
    let before = fs::read(&ko).unwrap();
    let r = klp_convert(&[ko.as_os_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("not a livepatch module"), "{}", r.stdout);
    assert_eq!(fs::read(&ko).unwrap(), before);
    let out = dir.join("out.ko");
    assert_eq!(klp_convert(&[ko.as_os_str(), out.as_os_str()]).code, 0);
    assert_eq!(fs::read(&out).unwrap(), before);

    let ko = build_module(
        &dir,
        "lp",
        &format!("{MODINFO_LIVEPATCH}int f(void) {{ return printk(\"x\"); }}\n"),
    );
    let r = klp_convert(&[ko.as_os_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("no annotated symbols"), "{}", r.stdout);
}

fn one_ref(decl: &str) -> String {
    format!("{MODINFO_LIVEPATCH}{decl}\nint f(void) {{ return v; }}\n")
}

#[test]
fn error_malformed_names() {
    let cases: &[(&str, &str)] = &[
        (
            r#"extern int v asm("\".klp.sym.rela.vmlinux.vmlinux.v,x\"") __attribute__((weak));"#,
            "position \"x\" is not an unsigned decimal number",
        ),
        (
            r#"extern int v asm("\".klp.sym.rela.vmlinux.vmlinux.v,\"") __attribute__((weak));"#,
            "position \"\" is not an unsigned decimal number",
        ),
        (
            r#"extern int v asm("\".klp.sym.rela..vmlinux.v,0\"") __attribute__((weak));"#,
            "empty object name",
        ),
        (
            r#"extern int v asm("\".klp.sym.rela.vmlinux.vmlinux.,0\"") __attribute__((weak));"#,
            "empty symbol name",
        ),
        (
            r#"extern int v asm("\".klp.sym.rela.vmlinux.vmlinux.v,1,2\"") __attribute__((weak));"#,
            "symbol name contains ','",
        ),
        (
            r#"extern int v asm("\".klp.sym.rela.vmlinux.vmlinux.v\"") __attribute__((weak));"#,
            "malformed name",
        ),
        (
            r#"extern int v asm("\".klp.sym.rela.my-mod.my-mod.v,0\"") __attribute__((weak));"#,
            "object name contains '-'",
        ),
    ];
    for (i, (decl, msg)) in cases.iter().enumerate() {
        expect_error(
            &format!("name{i}"),
            &one_ref(decl),
            &[],
            &[msg, "symbol .klp.sym.rela."],
        );
    }
    let long_obj = "o".repeat(56);
    expect_error(
        "longobj",
        &one_ref(&format!(
            "extern int v KLP_RELOC_SYMBOL({long_obj}, {long_obj}, v);"
        )),
        &[],
        &["object name is 56 bytes long, the kernel accepts at most 55"],
    );
    let long_sym = "s".repeat(512);
    expect_error(
        "longsym",
        &one_ref(&format!(
            "extern int v asm(\"\\\".klp.sym.rela.vmlinux.vmlinux.{long_sym},0\\\"\") __attribute__((weak));"
        )),
        &[],
        &["symbol name is 512 bytes long, the kernel accepts at most 511"],
    );
}

#[test]
fn error_defined_annotation() {
    expect_error(
        "defined",
        &format!(
            "{MODINFO_LIVEPATCH}int v KLP_RELOC_SYMBOL(vmlinux, vmlinux, v) = 1;\n\
             int f(void) {{ return v; }}\n"
        ),
        &[],
        &["annotated symbol is defined in section .data"],
    );
}

#[test]
fn error_vmlinux_patch_referencing_module() {
    expect_error(
        "vmlmod",
        &one_ref("extern int v KLP_RELOC_SYMBOL(vmlinux, ext4, v);"),
        &[],
        &["code patched in vmlinux cannot reference a symbol of module ext4"],
    );
}

#[test]
fn error_unsupported_relocation_type() {
    // The x86_64 module loader does not apply R_X86_64_16.
    let stderr = expect_error(
        "r16",
        &format!(
            "{MODINFO_LIVEPATCH}asm(\".weak \\\".klp.sym.rela.vmlinux.vmlinux.v,0\\\"\\n\"\n\
             \".pushsection .data.w,\\\"aw\\\"\\n\"\n\
             \".word \\\".klp.sym.rela.vmlinux.vmlinux.v,0\\\"\\n\"\n\
             \".popsection\\n\");\n"
        ),
        &[],
        &[
            "section .rela.data.w, offset 0x0, symbol .klp.sym.rela.vmlinux.vmlinux.v,0",
            "relocation type R_X86_64_16 is not supported in livepatch relocations on x86_64",
        ],
    );
    assert!(!stderr.contains("panicked"));
}

#[test]
fn error_module_relocation_in_early_sections() {
    for (i, section) in [
        "__jump_table",
        ".altinstructions",
        "__ex_table",
        ".smp_locks",
        "__bug_table",
    ]
    .iter()
    .enumerate()
    {
        expect_error(
            &format!("early{i}"),
            &format!(
                "{MODINFO_LIVEPATCH}extern int v KLP_RELOC_SYMBOL(target_mod, target_mod, v);\n\
                 static void *p __attribute__((section(\"{section}\"), used)) = &v;\n"
            ),
            &[],
            &[
                &format!("module-specific livepatch relocation in {section}"),
                &format!("section .rela{section}, offset 0x0, symbol .klp.sym.rela.target_mod.target_mod.v,0"),
            ],
        );
    }
    expect_error(
        "init",
        &format!(
            "{MODINFO_LIVEPATCH}extern int v KLP_RELOC_SYMBOL(target_mod, target_mod, v);\n\
             __attribute__((section(\".init.text\"))) int init(void) {{ return v; }}\n"
        ),
        &[],
        &["module-specific livepatch relocation in .init.text"],
    );
}

#[test]
fn vmlinux_relocation_in_early_section_is_fine() {
    let dir = scratch("earlyvmlinux");
    let ko = build_module(
        &dir,
        "ev",
        &format!(
            "{MODINFO_LIVEPATCH}extern int v KLP_RELOC_SYMBOL(target_mod, vmlinux, v);\n\
             static void *p __attribute__((section(\"__jump_table\"), used)) = &v;\n"
        ),
    );
    let r = klp_convert(&[ko.as_os_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let data = fs::read(&ko).unwrap();
    assert_eq!(check_converted(&data), 1);
    let m = Module::parse(&data).unwrap();
    assert!(section(&m, ".klp.rela.vmlinux.__jump_table").is_some());
}

#[test]
fn warning_read_only_target() {
    let dir = scratch("rodata");
    let ko = build_module(
        &dir,
        "ro",
        &format!(
            "{MODINFO_LIVEPATCH}extern int v KLP_RELOC_SYMBOL(target_mod, target_mod, v);\n\
             int *const p __attribute__((section(\".rodata.p\"))) = &v;\n"
        ),
    );
    let before = fs::read(&ko).unwrap();
    let out = dir.join("out.ko");
    let r = klp_convert(&["-W".as_ref(), ko.as_os_str(), out.as_os_str()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("warning: section .rela.rodata.p, offset 0x0"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("warning(s) treated as errors"),
        "{}",
        r.stderr
    );
    assert_untouched(&dir, &ko, &before, Some(&out));
    let r = klp_convert(&[ko.as_os_str(), out.as_os_str()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("read-only section .rodata.p"),
        "{}",
        r.stderr
    );
    assert_eq!(check_converted(&fs::read(&out).unwrap()), 1);
}

#[test]
fn error_nonzero_target_bytes() {
    let dir = scratch("nonzero");
    let ko = build_module(
        &dir,
        "nz",
        &format!(
            "{MODINFO_LIVEPATCH}extern int v KLP_RELOC_SYMBOL(vmlinux, vmlinux, v);\n\
             void *p = &v;\n"
        ),
    );
    // Poke a non-zero byte where the relocation will write.
    let mut data = fs::read(&ko).unwrap();
    let m = Module::parse(&data).unwrap();
    let d = section(&m, ".data").unwrap().data.unwrap();
    let off = d.as_ptr() as usize - data.as_ptr() as usize;
    drop(m);
    data[off + 3] = 0x5a;
    fs::write(&ko, &data).unwrap();
    let out = dir.join("out.ko");
    let r = klp_convert(&[ko.as_os_str(), out.as_os_str()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("bytes to relocate are not zero"),
        "{}",
        r.stderr
    );
    assert_untouched(&dir, &ko, &data, Some(&out));
}

#[test]
fn usage_errors() {
    let r = klp_convert::<&str>(&[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("missing input file"), "{}", r.stderr);
    let r = klp_convert(&["a", "b", "c"]);
    assert_eq!(r.code, 2);
    let r = klp_convert(&["--bogus", "a"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("bogus"), "{}", r.stderr);
    let r = klp_convert(&["-l", "a", "b"]);
    assert_eq!(r.code, 2);
    let r = klp_convert(&["-s", "a"]);
    assert_eq!(r.code, 2, "--symbols is reserved, not implemented");
    let r = klp_convert(&["--help"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("Usage: klp-convert [options] IN [OUT]"));
    assert!(r
        .stdout
        .contains("section  offset  type  object  symbol  pos"));
    let r = klp_convert(&["-V"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("klp-convert "));
}

#[test]
fn bad_input_files() {
    let dir = scratch("badinput");
    let missing = dir.join("missing.ko");
    let r = klp_convert(&[missing.as_os_str()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("cannot read"), "{}", r.stderr);
    let junk = dir.join("junk.ko");
    fs::write(&junk, b"this is not an ELF file at all").unwrap();
    let r = klp_convert(&[junk.as_os_str()]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("not an ELF file"), "{}", r.stderr);
    assert_eq!(fs::read(&junk).unwrap(), b"this is not an ELF file at all");
    // Truncated ELF.
    let ko = basic(&dir);
    let data = fs::read(&ko).unwrap();
    for len in [16, 64, data.len() / 2, data.len() - 1] {
        fs::write(&junk, &data[..len]).unwrap();
        let r = klp_convert(&[junk.as_os_str()]);
        assert_eq!(r.code, 1, "truncated to {len}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    }
}

#[test]
fn unwritable_destination_leaves_input() {
    let dir = scratch("unwritable");
    let ko = basic(&dir);
    let before = fs::read(&ko).unwrap();
    let out = dir.join("no/such/dir/out.ko");
    let r = klp_convert(&[ko.as_os_str(), out.as_os_str()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("cannot create temporary file"),
        "{}",
        r.stderr
    );
    assert_untouched(&dir, &ko, &before, Some(&out));
}
