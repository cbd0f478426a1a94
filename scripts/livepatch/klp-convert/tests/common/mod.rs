// SPDX-License-Identifier: GPL-2.0-only
//! Helpers shared by the integration tests: scratch directories, running
//! the binary, compiling C into a module-like relocatable object, and
//! building synthetic ELF files with object's writer.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use object::build::elf::{Builder, SectionData, SectionId, SymbolId};
use object::elf;
use object::Endianness;

pub use klp_convert::elf::{Module, SHF_RELA_LIVEPATCH, SHN_LIVEPATCH};

/// Annotation macro as in include/linux/livepatch_reloc.h, for tests that
/// compile without a kernel tree.
pub const PRELUDE: &str = r#"
#define KLP_RELOC_SYMBOL_POS(p, o, s, pos) \
	asm("\".klp.sym.rela." #p "." #o "." #s "," #pos "\"") __attribute__((weak))
#define KLP_RELOC_SYMBOL(p, o, s) KLP_RELOC_SYMBOL_POS(p, o, s, 0)
extern int printk(const char *, ...);
"#;

/// A .modinfo entry marking a livepatch module.
pub const MODINFO_LIVEPATCH: &str = "static const char __modinfo_lp[] \
    __attribute__((section(\".modinfo\"), used, aligned(1))) = \"livepatch=Y\";\n";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh, empty scratch directory.
pub fn scratch(name: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!(
        "klp-convert-test-{}-{}-{n}",
        std::process::id(),
        name
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create scratch directory");
    dir
}

/// The result of running klp-convert.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Run the klp-convert binary with `args`.
pub fn klp_convert<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    Command::new(env!("CARGO_BIN_EXE_klp-convert"))
        .args(args)
        .output()
        .expect("run klp-convert")
        .into()
}

/// True if `tool` can be run.
pub fn have_tool(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Skip (return false) or, under CI, fail when `tool` is missing.
pub fn require_tool(tool: &str, package: &str) -> bool {
    if have_tool(tool) {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{tool} is missing (apt package {package}); see dev-harness/apt-packages-crate.txt");
    }
    eprintln!("SKIP: {tool} not found (install {package}); test skipped");
    false
}

/// A C toolchain for one target.
#[derive(Clone, Copy)]
pub struct Toolchain {
    pub gcc: &'static str,
    pub ld: &'static str,
    pub package: &'static str,
    pub cflags: &'static [&'static str],
}

pub const X86_64: Toolchain = Toolchain {
    gcc: "gcc",
    ld: "ld",
    package: "gcc",
    cflags: &[
        "-mcmodel=kernel",
        "-fno-pic",
        "-mno-red-zone",
        "-fno-asynchronous-unwind-tables",
        "-fno-stack-protector",
    ],
};

pub const PPC64LE: Toolchain = Toolchain {
    gcc: "powerpc64le-linux-gnu-gcc",
    ld: "powerpc64le-linux-gnu-ld",
    package: "gcc-powerpc64le-linux-gnu",
    cflags: &[
        "-mcmodel=medium",
        "-mno-pointers-to-nested-functions",
        "-fno-asynchronous-unwind-tables",
        "-fno-stack-protector",
    ],
};

pub const S390X: Toolchain = Toolchain {
    gcc: "s390x-linux-gnu-gcc",
    ld: "s390x-linux-gnu-ld",
    package: "gcc-s390x-linux-gnu",
    cflags: &[
        "-fPIC",
        "-fno-asynchronous-unwind-tables",
        "-fno-stack-protector",
    ],
};

pub const AARCH64: Toolchain = Toolchain {
    gcc: "aarch64-linux-gnu-gcc",
    ld: "aarch64-linux-gnu-ld",
    package: "gcc-aarch64-linux-gnu",
    cflags: &[
        "-fno-pic",
        "-mgeneral-regs-only",
        "-fno-asynchronous-unwind-tables",
        "-fno-stack-protector",
    ],
};

/// Compile `source` (C) with `tc` and link it with `ld -r` into
/// `dir/name.ko`. Panics with the compiler's output on failure.
pub fn build_module_with(
    tc: &Toolchain,
    dir: &Path,
    name: &str,
    source: &str,
    extra: &[&str],
) -> PathBuf {
    let c = dir.join(format!("{name}.c"));
    let o = dir.join(format!("{name}.o"));
    let ko = dir.join(format!("{name}.ko"));
    fs::write(&c, format!("{PRELUDE}{source}")).expect("write C source");
    let out = Command::new(tc.gcc)
        .args(["-c", "-O2", "-g0", "-ffreestanding", "-fno-common"])
        .args(tc.cflags)
        .args(extra)
        .arg("-o")
        .arg(&o)
        .arg(&c)
        .output()
        .expect("run the C compiler");
    assert!(
        out.status.success(),
        "{} failed:\n{}",
        tc.gcc,
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(tc.ld)
        .arg("-r")
        .arg("-o")
        .arg(&ko)
        .arg(&o)
        .output()
        .expect("run the linker");
    assert!(
        out.status.success(),
        "{} failed:\n{}",
        tc.ld,
        String::from_utf8_lossy(&out.stderr)
    );
    ko
}

/// Compile for x86_64 with the host gcc.
pub fn build_module(dir: &Path, name: &str, source: &str) -> PathBuf {
    build_module_with(&X86_64, dir, name, source, &[])
}

/// Assert that a failed run left `input` as `before` and created no `out`
/// and no stray temporary files in `dir`.
pub fn assert_untouched(dir: &Path, input: &Path, before: &[u8], out: Option<&Path>) {
    assert_eq!(
        fs::read(input).expect("read input"),
        before,
        "input was modified"
    );
    if let Some(out) = out {
        assert!(!out.exists(), "output {} was created", out.display());
    }
    for entry in fs::read_dir(dir).expect("read scratch dir") {
        let name = entry.expect("dir entry").file_name();
        let name = name.to_string_lossy();
        assert!(!name.ends_with(".tmp"), "temporary file {name} left behind");
    }
}

/// Section of `module` called `name`.
pub fn section<'a>(
    module: &'a Module<'a>,
    name: &str,
) -> Option<&'a klp_convert::elf::Section<'a>> {
    module.sections.iter().find(|s| s.name == name.as_bytes())
}

/// Check the structural invariants of a converted module and return the
/// number of livepatch relocations.
pub fn check_converted(data: &[u8]) -> usize {
    let m = Module::parse(data).expect("converted output parses");
    // No annotation symbols are left.
    for s in &m.symbols {
        assert!(
            !s.name.starts_with(b".klp.sym.rela."),
            "annotation {} left",
            s.display_name()
        );
    }
    // Locals first, sh_info of .symtab = first non-local.
    let symtab = &m.sections[m.symtab];
    let first_global = m
        .symbols
        .iter()
        .position(|s| s.bind != 0)
        .unwrap_or(m.symbols.len());
    assert_eq!(symtab.info as usize, first_global, ".symtab sh_info");
    assert!(
        m.symbols[first_global..].iter().all(|s| s.bind != 0),
        "a local symbol follows a global one"
    );
    let mut count = 0;
    for s in &m.sections {
        if !s.is_reloc() {
            continue;
        }
        let klp = s.is_livepatch();
        if klp {
            assert!(s.name.starts_with(b".klp.rela."), "{}", s.display_name());
            assert_eq!(s.sh_type, elf::SHT_RELA.0);
            assert_eq!(
                s.flags,
                elf::SHF_ALLOC.0 | elf::SHF_INFO_LINK.0 | SHF_RELA_LIVEPATCH,
                "flags of {}",
                s.display_name()
            );
            assert_eq!(s.link as usize, m.symtab);
            assert_eq!(s.entsize, if m.is_64 { 24 } else { 12 });
            assert_eq!(s.addralign, if m.is_64 { 8 } else { 4 });
            let target = &m.sections[s.info as usize];
            assert!(target.is_alloc());
            let (_, secname) =
                klp_convert::names::parse_klp_rela(s.name).expect("klp section name parses");
            assert_eq!(secname.as_bytes(), target.name);
            assert!(!s.relocs.is_empty(), "empty {}", s.display_name());
        }
        for r in &s.relocs {
            let sym = &m.symbols[r.sym as usize];
            if klp {
                assert_eq!(sym.shndx, SHN_LIVEPATCH, "{}", sym.display_name());
                assert_eq!(sym.bind, elf::STB_GLOBAL.0);
                assert_eq!(m.symbol_value_size(r.sym as usize), Some((0, 0)));
                let parsed = klp_convert::names::parse_klp_symbol(sym.name).expect("klp symbol");
                let (obj, _) = klp_convert::names::parse_klp_rela(s.name).unwrap();
                if parsed.object == "vmlinux" {
                    assert_eq!(obj, "vmlinux", "vmlinux symbol in module-specific section");
                }
                count += 1;
            } else {
                assert_ne!(
                    sym.shndx,
                    SHN_LIVEPATCH,
                    "livepatch symbol in ordinary section {}",
                    s.display_name()
                );
            }
        }
    }
    count
}

/// A synthetic relocatable object, built with object's ELF writer, for
/// cases a compiler cannot produce.
pub struct Synth {
    pub builder: Builder<'static>,
    pub text: SectionId,
    pub rela_text: SectionId,
    pub symtab: SectionId,
}

impl Synth {
    /// A module with .text (`text_len` zero bytes), .modinfo (livepatch=Y
    /// if `livepatch`), an empty .rela.text, .symtab, .strtab and
    /// .shstrtab, and `filler` extra empty sections before .text (to push
    /// its index past SHN_LORESERVE).
    pub fn new(
        endian: Endianness,
        is_64: bool,
        machine: u16,
        text_len: usize,
        livepatch: bool,
        filler: usize,
    ) -> Self {
        let mut b = Builder::new(endian, is_64);
        b.header.e_type = elf::ET_REL;
        b.header.e_machine = elf::Machine(machine);

        let modinfo = b.sections.add();
        modinfo.name = b".modinfo".to_vec().into();
        modinfo.sh_type = elf::SHT_PROGBITS;
        modinfo.sh_flags = elf::SHF_ALLOC;
        modinfo.sh_addralign = 1;
        let info: &[u8] = if livepatch {
            b"license=GPL\0livepatch=Y\0"
        } else {
            b"license=GPL\0"
        };
        modinfo.data = SectionData::Data(info.to_vec().into());

        for i in 0..filler {
            let s = b.sections.add();
            s.name = format!(".filler.{i}").into_bytes().into();
            s.sh_type = elf::SHT_PROGBITS;
            s.sh_addralign = 1;
            s.data = SectionData::Data(Vec::new().into());
        }

        let text = b.sections.add();
        text.name = b".text".to_vec().into();
        text.sh_type = elf::SHT_PROGBITS;
        text.sh_flags = elf::SectionFlags(elf::SHF_ALLOC.0 | elf::SHF_EXECINSTR.0);
        text.sh_addralign = 4;
        text.data = SectionData::Data(vec![0u8; text_len].into());
        let text = text.id();

        let symtab = b.sections.add();
        symtab.name = b".symtab".to_vec().into();
        symtab.sh_type = elf::SHT_SYMTAB;
        symtab.data = SectionData::Symbol;
        let symtab = symtab.id();
        if filler > 0 {
            let shndx = b.sections.add();
            shndx.name = b".symtab_shndx".to_vec().into();
            shndx.sh_type = elf::SHT_SYMTAB_SHNDX;
            shndx.data = SectionData::SymbolSectionIndex;
        }
        let strtab = b.sections.add();
        strtab.name = b".strtab".to_vec().into();
        strtab.sh_type = elf::SHT_STRTAB;
        strtab.data = SectionData::String;

        let rela = b.sections.add();
        rela.name = b".rela.text".to_vec().into();
        rela.sh_type = elf::SHT_RELA;
        rela.sh_flags = elf::SHF_INFO_LINK;
        rela.sh_link_section = Some(symtab);
        rela.sh_info_section = Some(text);
        rela.sh_addralign = if is_64 { 8 } else { 4 };
        rela.sh_entsize = if is_64 { 24 } else { 12 };
        rela.data = SectionData::Relocation(Vec::new());
        let rela_text = rela.id();

        let shstrtab = b.sections.add();
        shstrtab.name = b".shstrtab".to_vec().into();
        shstrtab.sh_type = elf::SHT_STRTAB;
        shstrtab.data = SectionData::SectionString;

        // A local section symbol and a global function in .text.
        let s = b.symbols.add();
        s.section = Some(text);
        s.set_st_info(elf::STB_LOCAL, elf::STT_SECTION);
        let f = b.symbols.add();
        f.name = b"patched_func".to_vec().into();
        f.section = Some(text);
        f.set_st_info(elf::STB_GLOBAL, elf::STT_FUNC);
        f.st_size = text_len as u64;

        Synth {
            builder: b,
            text,
            rela_text,
            symtab,
        }
    }

    /// Add an undefined symbol with binding `bind`.
    pub fn undefined(&mut self, name: &str, bind: elf::SymbolBind) -> SymbolId {
        let s = self.builder.symbols.add();
        s.name = name.as_bytes().to_vec().into();
        s.set_st_info(bind, elf::STT_NOTYPE);
        s.id()
    }

    /// Add a relocation to .rela.text.
    pub fn reloc(&mut self, offset: u64, sym: SymbolId, r_type: u32, addend: i64) {
        let rela = self.builder.sections.get_mut(self.rela_text);
        if let SectionData::Relocation(r) = &mut rela.data {
            r.push(object::build::elf::Relocation {
                r_offset: offset,
                symbol: Some(sym),
                r_type: elf::RelocationType(r_type),
                r_addend: addend,
            });
        }
    }

    /// Write the file.
    pub fn write(self) -> Vec<u8> {
        let mut out = Vec::new();
        self.builder.write(&mut out).expect("write synthetic ELF");
        out
    }
}
