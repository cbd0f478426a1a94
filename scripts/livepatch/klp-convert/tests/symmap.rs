// SPDX-License-Identifier: GPL-2.0-only
//! Symbol maps (--symbols) on small maps made by the test: a kallsyms
//! dump and a System.map written as text, a vmlinux linked by ld from two
//! C files (so that STT_FILE symbols tell the duplicates apart), target
//! modules compiled by gcc, plain and xz-compressed, alone and in a tree.
//! Every rule: correct annotations pass; a wrong object, a position out of
//! range, position 0 on a duplicate and a missing symbol fail with the fix
//! printed; KLP_SYMBOL()/KLP_SYMBOL_FILE() convert byte for byte like
//! their explicit twins; clones, __init and exported symbols warn.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The inference macros, as in include/linux/livepatch_reloc.h.
const INFER: &str = r#"
#define KLP_SYMBOL(p, s) asm("\".klp.sym.rela." #p ".*." #s ",*\"") __attribute__((weak))
#define KLP_SYMBOL_FILE(p, s, f) \
	asm("\".klp.sym.rela." #p ".*." #s ",*," f "\"") __attribute__((weak))
"#;

/// A kallsyms dump of a kernel with module tgt loaded: c_start three times
/// (the third in init text), saved_command_line once, printk exported,
/// a clone, and tgt's helper twice.
const KALLSYMS: &str = "\
0000000000000000 A fixed_percpu_data
ffffffff81000000 T _stext
ffffffff81000100 t c_start
ffffffff81000200 T printk
ffffffff81000300 t clone_fn.isra.0
ffffffff81000400 t c_start
ffffffff81800000 r __ksymtab_printk
ffffffff82000000 D saved_command_line
ffffffff83000000 T _sinittext
ffffffff83000010 t c_start
ffffffff83000020 t early_fn
ffffffff83000100 T _einittext
ffffffffc0001000 t helper\t[tgt]
ffffffffc0001010 t tgt_unique\t[tgt]
ffffffffc0001020 t helper\t[tgt]
";

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run a tool");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn cc(dir: &Path, name: &str, source: &str, extra: &[&str]) -> PathBuf {
    let c = dir.join(format!("{name}.c"));
    let o = dir.join(format!("{name}.o"));
    fs::write(&c, source).unwrap();
    run(Command::new("gcc")
        .args([
            "-c",
            "-O2",
            "-g0",
            "-fno-pic",
            "-fno-asynchronous-unwind-tables",
        ])
        .args(extra)
        .arg("-o")
        .arg(&o)
        .arg(&c)
        .current_dir(dir));
    o
}

/// A vmlinux linked from va.c and vb.c: c_start in both, the rest in va.c.
fn vmlinux(dir: &Path) -> PathBuf {
    let a = cc(
        dir,
        "va",
        r#"
static int __attribute__((used, noinline)) c_start(void) { return 1; }
int (*pa)(void) = c_start;
char *saved_command_line;
int printk(const char *f, ...) { return 0; }
const void *__ksymtab_printk = printk;
int clone_fn(void) asm("clone_fn.isra.0");
int clone_fn(void) { return 3; }
__attribute__((section(".init.text"))) int early_fn(void) { return 4; }
"#,
        &[],
    );
    let b = cc(
        dir,
        "vb",
        "static int __attribute__((used, noinline)) c_start(void) { return 2; }\n\
         int (*pb)(void) = c_start;\n",
        &[],
    );
    let out = dir.join("vmlinux");
    run(Command::new("ld")
        .args(["-e", "0", "-o"])
        .arg(&out)
        .arg(&a)
        .arg(&b));
    out
}

/// Module tgt from ta.c and tb.c: helper in both, dup in an init section
/// in ta.c and in .text in tb.c, init_only in an init section.
fn target_module(dir: &Path) -> PathBuf {
    let a = cc(
        dir,
        "ta",
        r#"
static int __attribute__((used, noinline)) helper(void) { return 1; }
int (*ha)(void) = helper;
int tgt_unique(void) { return 0; }
static __attribute__((used, section(".init.text"))) int dup(void) { return 5; }
__attribute__((section(".init.text"))) int init_only(void) { return 6; }
static const char name[] __attribute__((section(".modinfo"), used)) = "name=tgt";
"#,
        &["-mcmodel=kernel"],
    );
    let b = cc(
        dir,
        "tb",
        "static int __attribute__((used, noinline)) helper(void) { return 2; }\n\
         int (*hb)(void) = helper;\n\
         static int __attribute__((used, noinline)) dup(void) { return 7; }\n",
        &["-mcmodel=kernel"],
    );
    let out = dir.join("tgt.ko");
    run(Command::new("ld")
        .args(["-r", "-o"])
        .arg(&out)
        .arg(&a)
        .arg(&b));
    out
}

/// A livepatch module made of `decls` (annotated externs) and a table of
/// their addresses.
fn patch(dir: &Path, name: &str, decls: &[(&str, &str)]) -> PathBuf {
    let mut src = format!("{INFER}{MODINFO_LIVEPATCH}");
    for (decl, _) in decls {
        src.push_str(decl);
        src.push('\n');
    }
    src.push_str("void *table[] = {");
    for (_, ident) in decls {
        src.push_str(&format!(" (void *)&{ident},"));
    }
    src.push_str(" 0 };\n");
    build_module(dir, name, &src)
}

/// The name of the one annotated symbol of a module.
fn annotation(ko: &Path) -> String {
    let data = fs::read(ko).unwrap();
    let m = Module::parse(&data).unwrap();
    let names: Vec<String> = m
        .symbols
        .iter()
        .filter(|s| s.name.starts_with(b".klp.sym.rela."))
        .map(|s| s.display_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    names[0].clone()
}

fn write_kallsyms(dir: &Path) -> PathBuf {
    let p = dir.join("kallsyms");
    fs::write(&p, KALLSYMS).unwrap();
    p
}

fn convert(ko: &Path, out: &Path, maps: &[&Path], extra: &[&str]) -> Run {
    let mut args: Vec<std::ffi::OsString> = extra.iter().map(|s| s.into()).collect();
    for m in maps {
        args.push("--symbols".into());
        args.push(m.as_os_str().into());
    }
    args.push(ko.as_os_str().into());
    args.push(out.as_os_str().into());
    klp_convert(&args)
}

fn converted_names(path: &Path) -> Vec<String> {
    let data = fs::read(path).unwrap();
    let m = Module::parse(&data).unwrap();
    let mut v: Vec<String> = m
        .symbols
        .iter()
        .filter(|s| s.shndx == SHN_LIVEPATCH)
        .map(|s| s.display_name())
        .collect();
    v.sort();
    v
}

#[test]
fn correct_annotations_pass() {
    let dir = scratch("symmap-ok");
    let ks = write_kallsyms(&dir);
    let ko = patch(
        &dir,
        "ok",
        &[
            (
                "extern char *saved_command_line KLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);",
                "saved_command_line",
            ),
            (
                "extern int c2(void) KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, c_start, 2);",
                "c2",
            ),
            (
                "extern int h2(void) KLP_RELOC_SYMBOL_POS(tgt, tgt, helper, 2);",
                "h2",
            ),
            (
                "extern int tu(void) KLP_RELOC_SYMBOL(tgt, tgt, tgt_unique);",
                "tu",
            ),
        ],
    );
    let out = dir.join("out.ko");
    let r = convert(&ko, &out, &[&ks], &["-v"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "");
    assert!(r.stdout.contains("symbol map "), "{}", r.stdout);
    assert!(
        r.stdout.contains("read in "),
        "load time printed: {}",
        r.stdout
    );
    assert_eq!(
        converted_names(&out),
        [
            ".klp.sym.tgt.helper,2",
            ".klp.sym.tgt.tgt_unique,0",
            ".klp.sym.vmlinux.c_start,2",
            ".klp.sym.vmlinux.saved_command_line,0"
        ]
    );
}

/// Each wrong annotation alone: exit 1, input untouched, the message and
/// the fix in the output.
#[test]
fn wrong_annotations_fail_with_the_fix() {
    let dir = scratch("symmap-wrong");
    let ks = write_kallsyms(&dir);
    let cases: &[(&str, &[&str])] = &[
        (
            "extern int x(void) KLP_RELOC_SYMBOL(vmlinux, vmlinux, c_start);",
            &[
                "position 0 needs a unique name, but vmlinux",
                "has 3 symbols named c_start",
                "KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, c_start, 1)\t/* t ffffffff81000100",
                "KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, c_start, 2)\t/* t ffffffff81000400",
                "KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, c_start, 3)\t/* t ffffffff83000010 \
                 (source file unknown), __init */",
            ],
        ),
        (
            "extern int x(void) KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, c_start, 4);",
            &[
                "position 4 is out of range: vmlinux",
                "has 3 symbol(s) named c_start",
                "KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, c_start, 3)",
            ],
        ),
        (
            "extern int x(void) KLP_RELOC_SYMBOL(vmlinux, vmlinux, no_such_symbol);",
            &["no_such_symbol not found in vmlinux (kallsyms dump"],
        ),
        (
            "extern int x(void) KLP_RELOC_SYMBOL(vmlinux, vmlinux, clone_fn);",
            &[
                "clone_fn not found",
                "compiler clones of that name: clone_fn.isra.0",
            ],
        ),
        (
            // Wrong object: tgt_unique is tgt's, not vmlinux's.
            "extern int x(void) KLP_RELOC_SYMBOL(tgt, vmlinux, tgt_unique);",
            &[
                "tgt_unique not found in vmlinux",
                "tgt_unique exists in tgt (kallsyms dump",
                "KLP_RELOC_SYMBOL(tgt, tgt, tgt_unique)\t/* t ffffffffc0001010",
            ],
        ),
        (
            // Wrong object: saved_command_line is vmlinux's.
            "extern int x(void) KLP_RELOC_SYMBOL(tgt, tgt, saved_command_line);",
            &[
                "saved_command_line not found in tgt",
                "KLP_RELOC_SYMBOL(tgt, vmlinux, saved_command_line)",
            ],
        ),
        (
            "extern int x(void) KLP_RELOC_SYMBOL(tgt, tgt, helper);",
            &[
                "has 2 symbols named helper",
                "KLP_RELOC_SYMBOL_POS(tgt, tgt, helper, 1)",
                "KLP_RELOC_SYMBOL_POS(tgt, tgt, helper, 2)",
            ],
        ),
        (
            "extern int x(void) KLP_SYMBOL(vmlinux, c_start);",
            &[
                "cannot infer the position: vmlinux",
                "KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, c_start, 2)",
            ],
        ),
        (
            "extern int x(void) KLP_SYMBOL_FILE(vmlinux, c_start, \"vb.c\");",
            &[
                "has no source file names (only an ELF vmlinux or .ko has)",
                "KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, c_start, 1)",
            ],
        ),
    ];
    for (i, (decl, expect)) in cases.iter().enumerate() {
        let ko = patch(&dir, &format!("w{i}"), &[(decl, "x")]);
        let before = fs::read(&ko).unwrap();
        let out = dir.join(format!("w{i}.out.ko"));
        let r = convert(&ko, &out, &[&ks], &[]);
        assert_eq!(r.code, 1, "{decl}: {}", r.stderr);
        for e in *expect {
            assert!(
                r.stderr.contains(e),
                "{decl}: missing {e:?} in\n{}",
                r.stderr
            );
        }
        assert!(r.stderr.contains("nothing written"), "{}", r.stderr);
        assert_untouched(&dir, &ko, &before, Some(&out));
    }
}

#[test]
fn inference_without_a_map_says_which_map_to_give() {
    let dir = scratch("symmap-nomap");
    let ko = patch(
        &dir,
        "nomap",
        &[("extern int x(void) KLP_SYMBOL(vmlinux, c_start);", "x")],
    );
    let r = klp_convert(&[ko.as_os_str()]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("needs the target kernel's symbols"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--symbols"), "{}", r.stderr);
    // A module map alone does not know vmlinux.
    let tree = dir.join("tree");
    fs::create_dir_all(&tree).unwrap();
    let r = convert(&ko, &dir.join("o.ko"), &[&tree], &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("cannot infer the object of c_start: no symbol map given"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("System.map or its vmlinux"),
        "{}",
        r.stderr
    );
}

/// Inferred annotations give the same bytes as their explicit twins,
/// with every kind of map.
#[test]
fn inferred_annotations_equal_their_explicit_twins() {
    let dir = scratch("symmap-twins");
    let ks = write_kallsyms(&dir);
    let vml = vmlinux(&dir);
    let tgt = target_module(&dir);
    let sysmap = dir.join("System.map");
    // System.map: the vmlinux part of the dump.
    fs::write(
        &sysmap,
        KALLSYMS
            .lines()
            .filter(|l| !l.contains('['))
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    )
    .unwrap();

    // (inferred, explicit, maps)
    let vmlinux_maps: [&Path; 3] = [&ks, &sysmap, &vml];
    let pairs: Vec<(&str, &str, Vec<&Path>)> = vec![
        (
            "extern char *saved_command_line KLP_SYMBOL(vmlinux, saved_command_line);",
            "extern char *saved_command_line KLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);",
            vmlinux_maps.to_vec(),
        ),
        (
            "extern int x(void) KLP_SYMBOL_FILE(vmlinux, c_start, \"vb.c\");",
            "extern int x(void) KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, c_start, 2);",
            vec![&vml],
        ),
        (
            "extern int x(void) KLP_SYMBOL_FILE(vmlinux, saved_command_line, \"va.c\");",
            "extern int x(void) KLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);",
            vec![&vml],
        ),
        (
            "extern int x(void) KLP_SYMBOL(tgt, tgt_unique);",
            "extern int x(void) KLP_RELOC_SYMBOL(tgt, tgt, tgt_unique);",
            vec![&ks, &tgt],
        ),
        (
            "extern int x(void) KLP_SYMBOL_FILE(tgt, helper, \"tb.c\");",
            "extern int x(void) KLP_RELOC_SYMBOL_POS(tgt, tgt, helper, 2);",
            vec![&tgt],
        ),
    ];
    for (i, (inferred, explicit, maps)) in pairs.iter().enumerate() {
        let ident = if inferred.contains("saved_command_line KLP") {
            "saved_command_line"
        } else {
            "x"
        };
        // Same file name (STT_FILE) for both, in two directories.
        let (da, db) = (dir.join(format!("inf{i}")), dir.join(format!("exp{i}")));
        fs::create_dir_all(&da).unwrap();
        fs::create_dir_all(&db).unwrap();
        let a = patch(&da, "twin", &[(inferred, ident)]);
        let compiled = patch(&db, "twin", &[(explicit, ident)]);
        // The compiler may order the symbols differently for other names:
        // the byte-for-byte twin is `a` with the annotation renamed, the
        // compiled twin must list the same livepatch relocations.
        let b = dir.join(format!("exp{i}.ko"));
        run(Command::new("objcopy")
            .arg(format!(
                "--redefine-sym={}={}",
                annotation(&a),
                annotation(&compiled)
            ))
            .arg(&a)
            .arg(&b));
        for (j, map) in maps.iter().enumerate() {
            // The vmlinux map is first, the module map (if any) last.
            let both: Vec<&Path> = if map.ends_with("tgt.ko") {
                vec![&ks, map]
            } else {
                vec![map]
            };
            let oa = dir.join(format!("inf{i}-{j}.out.ko"));
            let ob = dir.join(format!("exp{i}-{j}.out.ko"));
            let ra = convert(&a, &oa, &both, &[]);
            assert_eq!(ra.code, 0, "{inferred} with {map:?}: {}", ra.stderr);
            let rb = convert(&b, &ob, &both, &[]);
            assert_eq!(rb.code, 0, "{explicit} with {map:?}: {}", rb.stderr);
            assert_ne!(fs::read(&a).unwrap(), fs::read(&b).unwrap());
            assert!(
                fs::read(&oa).unwrap() == fs::read(&ob).unwrap(),
                "{inferred} differs from {explicit} with {map:?}"
            );
            let oc = dir.join(format!("cmp{i}-{j}.out.ko"));
            let rc = convert(&compiled, &oc, &both, &[]);
            assert_eq!(rc.code, 0, "{explicit} with {map:?}: {}", rc.stderr);
            let la = klp_convert(&["-l", oa.to_str().unwrap()]);
            let lc = klp_convert(&["-l", oc.to_str().unwrap()]);
            assert_eq!(la.code, 0);
            assert!(la.stdout.lines().count() > 1, "{}", la.stdout);
            assert_eq!(la.stdout, lc.stdout);
        }
    }
}

#[test]
fn vmlinux_elf_map_knows_files_and_sections() {
    let dir = scratch("symmap-vmlinux");
    let vml = vmlinux(&dir);
    let ko = patch(
        &dir,
        "f",
        &[(
            "extern int x(void) KLP_SYMBOL_FILE(vmlinux, c_start, \"nofile.c\");",
            "x",
        )],
    );
    let r = convert(&ko, &dir.join("o.ko"), &[&vml], &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("none of the 2 symbol(s) named c_start in vmlinux (vmlinux ELF"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains(" va.c */"), "{}", r.stderr);
    assert!(
        r.stderr
            .contains("or KLP_SYMBOL_FILE(vmlinux, c_start, \"vb.c\")"),
        "{}",
        r.stderr
    );
    // __init by section in the ELF map.
    let ko = patch(
        &dir,
        "init",
        &[("extern int x(void) KLP_SYMBOL(vmlinux, early_fn);", "x")],
    );
    let r = convert(&ko, &dir.join("o2.ko"), &[&vml], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("early_fn in vmlinux (vmlinux ELF"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("is __init"), "{}", r.stderr);
}

#[test]
fn risky_targets_warn() {
    let dir = scratch("symmap-warn");
    let ks = write_kallsyms(&dir);
    let ko = patch(
        &dir,
        "warn",
        &[
            (
                "extern int a(void) KLP_RELOC_SYMBOL(vmlinux, vmlinux, clone_fn.isra.0);",
                "a",
            ),
            ("extern int b(void) KLP_SYMBOL(vmlinux, early_fn);", "b"),
            (
                "extern int c(const char *, ...) KLP_SYMBOL(vmlinux, printk);",
                "c",
            ),
        ],
    );
    let r = convert(&ko, &dir.join("o.ko"), &[&ks], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for w in [
        "warning: symbol .klp.sym.rela.vmlinux.vmlinux.clone_fn.isra.0,0: clone_fn.isra.0 is a \
         compiler-made clone",
        "warning: symbol .klp.sym.rela.vmlinux.*.early_fn,*: early_fn in vmlinux (kallsyms \
         dump",
        "is __init (between _sinittext/_einittext",
        "warning: symbol .klp.sym.rela.vmlinux.*.printk,*: vmlinux exports printk",
    ] {
        assert!(r.stderr.contains(w), "missing {w:?} in\n{}", r.stderr);
    }
    let r = convert(&ko, &dir.join("o2.ko"), &[&ks], &["-W"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("3 warning(s) treated as errors"),
        "{}",
        r.stderr
    );
}

/// Module maps from a .ko: symbol table order, and the two views the
/// kernel has of a module (whole table while it loads, core symbols after
/// its init).
#[test]
fn module_maps_count_in_symtab_order() {
    let dir = scratch("symmap-module");
    let tgt = target_module(&dir);
    let ks = write_kallsyms(&dir);
    let ok = patch(
        &dir,
        "m1",
        &[
            (
                "extern int a(void) KLP_RELOC_SYMBOL_POS(tgt, tgt, helper, 1);",
                "a",
            ),
            (
                "extern int b(void) KLP_SYMBOL_FILE(tgt, helper, \"ta.c\");",
                "b",
            ),
        ],
    );
    let out = dir.join("m1.out.ko");
    let r = convert(&ok, &out, &[&ks, &tgt], &["-v"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("-> .klp.sym.tgt.helper,1"),
        "{}",
        r.stdout
    );
    assert_eq!(
        converted_names(&out),
        [".klp.sym.tgt.helper,1", ".klp.sym.tgt.helper,1"]
    );

    // dup: #1 in .init.text (ta.c), #2 in .text (tb.c).
    let ko = patch(
        &dir,
        "m2",
        &[(
            "extern int a(void) KLP_RELOC_SYMBOL_POS(tgt, tgt, dup, 2);",
            "a",
        )],
    );
    let r = convert(&ko, &dir.join("m2.out.ko"), &[&tgt], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("position 2 of dup depends on the load order"),
        "{}",
        r.stderr
    );

    let ko = patch(
        &dir,
        "m3",
        &[("extern int a(void) KLP_SYMBOL(tgt, init_only);", "a")],
    );
    let r = convert(&ko, &dir.join("m3.out.ko"), &[&ks, &tgt], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("init_only in tgt (module") && r.stderr.contains("is not kept after"),
        "{}",
        r.stderr
    );

    // vmlinux and tgt both define the name: the object cannot be inferred.
    let both = patch(
        &dir,
        "m4",
        &[("extern int a(void) KLP_SYMBOL(tgt, c_start);", "a")],
    );
    let tgt_with_c_start = dir.join("kallsyms2");
    fs::write(
        &tgt_with_c_start,
        format!("{KALLSYMS}ffffffffc0001030 t c_start\t[tgt]\n"),
    )
    .unwrap();
    let r = convert(&both, &dir.join("m4.out.ko"), &[&tgt_with_c_start], &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("vmlinux and tgt define it")
            && r.stderr.contains("KLP_RELOC_SYMBOL(tgt, tgt, c_start)"),
        "{}",
        r.stderr
    );
}

/// A tree: only the module named is read (a broken one next to it does
/// not matter), compressed modules are decompressed.
#[test]
fn module_tree_reads_only_the_modules_named() {
    let dir = scratch("symmap-tree");
    let tgt = target_module(&dir);
    let ks = write_kallsyms(&dir);
    let tree = dir.join("lib/modules/6.99/kernel/drivers");
    fs::create_dir_all(&tree).unwrap();
    fs::write(tree.join("broken.ko"), b"not an ELF file").unwrap();
    let packed = require_tool("xz", "xz-utils");
    if packed {
        run(Command::new("xz")
            .args(["-k", "-c"])
            .arg(&tgt)
            .stdout(fs::File::create(tree.join("tgt.ko.xz")).unwrap()));
    } else {
        fs::copy(&tgt, tree.join("tgt.ko")).unwrap();
    }
    let ko = patch(
        &dir,
        "t",
        &[(
            "extern int a(void) KLP_SYMBOL_FILE(tgt, helper, \"tb.c\");",
            "a",
        )],
    );
    let root = dir.join("lib/modules/6.99");
    let out = dir.join("t.out.ko");
    let r = convert(&ko, &out, &[&ks, &root], &["-v"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("modules indexed in"), "{}", r.stdout);
    assert!(r.stdout.contains("module tgt: "), "{}", r.stdout);
    assert_eq!(converted_names(&out), [".klp.sym.tgt.helper,2"]);
    // Naming the broken module reads it, and fails with its path.
    let ko = patch(
        &dir,
        "b",
        &[(
            "extern int a(void) KLP_RELOC_SYMBOL(broken, broken, x);",
            "a",
        )],
    );
    let r = convert(&ko, &dir.join("b.out.ko"), &[&root], &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("broken.ko"), "{}", r.stderr);
}

#[test]
fn bad_maps_are_errors_naming_file_and_line() {
    let dir = scratch("symmap-bad");
    let ko = patch(
        &dir,
        "bad",
        &[("extern int a(void) KLP_SYMBOL(vmlinux, c_start);", "a")],
    );
    let bad = dir.join("System.map");
    fs::write(&bad, "ffffffff81000000 T _stext\nffffffff81000001 T\n").unwrap();
    let r = convert(&ko, &dir.join("o.ko"), &[&bad], &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(&format!(
            "symbol map {}, line 2: cannot parse",
            bad.display()
        )),
        "{}",
        r.stderr
    );
    // Read only when an annotation needs it: a module without any does
    // not notice the broken line.
    let plain = patch(&dir, "plain", &[]);
    let r = convert(&plain, &dir.join("p.ko"), &[&bad], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = convert(&ko, &dir.join("o.ko"), &[&dir.join("missing.map")], &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("missing.map: No such file"),
        "{}",
        r.stderr
    );
    let text = dir.join("notes.txt");
    fs::write(&text, "hello world\n").unwrap();
    let r = convert(&ko, &dir.join("o.ko"), &[&text], &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("line 1: not a symbol map"),
        "{}",
        r.stderr
    );
    // A vmlinux without code symbols (BTF-only, as in Debian's headers).
    let data = cc(&dir, "btf", "int btf_only = 1;\n", &[]);
    let btf = dir.join("vmlinux");
    run(Command::new("ld")
        .args(["-e", "0", "-o"])
        .arg(&btf)
        .arg(&data));
    let r = convert(&ko, &dir.join("o.ko"), &[&btf], &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("no code symbols among its"),
        "{}",
        r.stderr
    );
    let r = klp_convert(&["-l", "-s", "x", ko.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

/// Mutated maps (text and ELF) give errors or answers, never a panic.
#[test]
fn mutated_maps_never_panic() {
    use klp_convert::symmap::SymbolMap;
    use klp_convert::symmap_check::Resolver;

    let dir = scratch("symmap-mutate");
    let tgt = fs::read(target_module(&dir)).unwrap();
    let vml = fs::read(vmlinux(&dir)).unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let inputs: [(&str, Vec<u8>); 3] = [
        ("kallsyms", KALLSYMS.as_bytes().to_vec()),
        ("tgt.ko", tgt),
        ("vmlinux", vml),
    ];
    let names: &[&[u8]] = &[
        b".klp.sym.rela.vmlinux.*.c_start,*",
        b".klp.sym.rela.tgt.*.helper,*,tb.c",
        b".klp.sym.rela.tgt.tgt.helper,2",
        b".klp.sym.rela.vmlinux.vmlinux.c_start,99999999999",
    ];
    for round in 0..300 {
        for (name, data) in &inputs {
            let mut d = data.clone();
            for _ in 0..1 + next() % 8 {
                let len = d.len().max(1) as u64;
                let i = (next() % len) as usize;
                match next() % 4 {
                    0 => d.truncate(i),
                    1 => {
                        if let Some(b) = d.get_mut(i) {
                            *b = next() as u8;
                        }
                    }
                    2 => d.insert(i.min(d.len()), next() as u8),
                    _ => {
                        if let Some(b) = d.get_mut(i) {
                            *b ^= 1 << (next() % 8);
                        }
                    }
                }
            }
            let path = dir.join(format!("{round}-{name}"));
            fs::write(&path, &d).unwrap();
            if let Ok(mut map) = SymbolMap::new(std::slice::from_ref(&path)) {
                let mut r = Resolver::new(&mut map);
                for n in names {
                    let _ = r.resolve(klp_convert::names::Wanted::Name(n));
                }
            }
            let _ = fs::remove_file(&path);
        }
    }
}

/// Issue 13: plain references (no annotation) get object and position
/// from the maps when Module.symvers says nothing exports them.
#[test]
fn plain_references_resolve_from_maps() {
    let dir = scratch("symmap-plain");
    let ks = write_kallsyms(&dir);
    let symvers = dir.join("Module.symvers");
    fs::write(&symvers, "0x12345678\tprintk\tvmlinux\tEXPORT_SYMBOL\t\n").unwrap();
    let sv = format!("--symvers={}", symvers.display());
    let ko = patch(
        &dir,
        "plain",
        &[
            ("extern char *saved_command_line;", "saved_command_line"),
            ("extern int tgt_unique(void);", "tgt_unique"),
            ("extern int printk(const char *, ...);", "printk"),
            (
                "extern int h2(void) KLP_RELOC_SYMBOL_POS(tgt, tgt, helper, 2);",
                "h2",
            ),
        ],
    );
    let out = dir.join("plain.out.ko");
    let r = convert(&ko, &out, &[&ks], &[&sv, "-v"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("undefined tgt_unique -> .klp.sym.tgt.tgt_unique,0"),
        "{}",
        r.stdout
    );
    assert_eq!(
        converted_names(&out),
        [
            ".klp.sym.tgt.helper,2",
            ".klp.sym.tgt.tgt_unique,0",
            ".klp.sym.vmlinux.saved_command_line,0"
        ]
    );
    // The module symbol's relocations go with the module, the exported
    // printk stays an ordinary undefined symbol.
    let data = fs::read(&out).unwrap();
    let m = Module::parse(&data).unwrap();
    assert!(m.section_by_name(b".klp.rela.tgt..data").is_some());
    assert!(m.section_by_name(b".klp.rela.vmlinux..data").is_some());
    assert!(m
        .symbols
        .iter()
        .any(|s| s.name == b"printk" && s.is_undefined()));

    // Without Module.symvers nothing plain is touched.
    let r = convert(&ko, &dir.join("plain.nosv.ko"), &[&ks], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        converted_names(&dir.join("plain.nosv.ko")),
        [".klp.sym.tgt.helper,2"]
    );

    // Without maps: an error that says how to give them.
    let before = fs::read(&ko).unwrap();
    let r = convert(&ko, &dir.join("plain.nomap.ko"), &[], &[&sv]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("undefined symbol saved_command_line is neither exported nor annotated")
            && r.stderr.contains("KLP_SYMBOLS="),
        "{}",
        r.stderr
    );
    assert_untouched(&dir, &ko, &before, Some(&dir.join("plain.nomap.ko")));

    // Ambiguous or missing: the candidates and the annotations to write.
    for (decl, ident, want) in [
        (
            "extern int c_start(void);",
            "c_start",
            "KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, c_start, 2)",
        ),
        (
            "extern int helper(void);",
            "helper",
            "KLP_RELOC_SYMBOL_POS(tgt, tgt, helper, 1)",
        ),
        (
            "extern int nowhere(void);",
            "nowhere",
            "nowhere not found in vmlinux",
        ),
    ] {
        let ko = patch(&dir, ident, &[(decl, ident)]);
        let r = convert(&ko, &dir.join(format!("{ident}.out.ko")), &[&ks], &[&sv]);
        assert_eq!(r.code, 1, "{ident}");
        assert!(r.stderr.contains(want), "{ident}: {}", r.stderr);
    }
}

/// Issue 13: the v7 series' KLP_MODULE_RELOC() tables.
#[test]
fn module_reloc_tables_name_plain_references() {
    const STRUCT: &str =
        "struct klp_module_reloc { void *sym; unsigned int sympos; } __attribute__((packed));";
    let dir = scratch("symmap-tables");
    let ks = write_kallsyms(&dir);
    let table = |obj: &str, entries: &str| {
        format!(
            "struct klp_module_reloc relocs_{obj}[] \
             __attribute__((section(\".klp.module_relocs.{obj}\"), aligned(4))) = {{ {entries} }};"
        )
    };
    let ko = patch(
        &dir,
        "v7",
        &[
            (STRUCT, "helper"),
            ("extern int helper(void);", "helper"),
            ("extern char *saved_command_line;", "saved_command_line"),
            (&table("tgt", "{ (void *)&helper, 2 },"), "helper"),
            (
                &table("vmlinux", "{ (void *)&saved_command_line, 0 },"),
                "helper",
            ),
        ],
    );
    // No map needed: the table says everything.
    let out = dir.join("v7.out.ko");
    let r = convert(&ko, &out, &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        converted_names(&out),
        [
            ".klp.sym.tgt.helper,2",
            ".klp.sym.vmlinux.saved_command_line,0"
        ]
    );
    let data = fs::read(&out).unwrap();
    let m = Module::parse(&data).unwrap();
    assert!(m.section_by_name(b".klp.rela.tgt..data").is_some());
    assert!(m
        .section_by_name(b".klp.rela.tgt..klp.module_relocs.tgt")
        .is_some());
    // With a map the entries are checked like annotations.
    let bad = patch(
        &dir,
        "v7bad",
        &[
            (STRUCT, "helper"),
            ("extern int helper(void);", "helper"),
            (&table("tgt", "{ (void *)&helper, 3 },"), "helper"),
        ],
    );
    let r = convert(&bad, &dir.join("v7bad.out.ko"), &[&ks], &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("position 3 is out of range"),
        "{}",
        r.stderr
    );
    // An entry that is not a symbol's address names file, section, offset.
    let odd = patch(
        &dir,
        "v7odd",
        &[
            (STRUCT, "helper"),
            ("extern int helper(void);", "helper"),
            (&table("tgt", "{ (void *)&helper, 1 }, { 0, 1 },"), "helper"),
        ],
    );
    let r = convert(&odd, &dir.join("v7odd.out.ko"), &[], &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(".klp.module_relocs.tgt") && r.stderr.contains("entry 1 names no symbol"),
        "{}",
        r.stderr
    );
}
