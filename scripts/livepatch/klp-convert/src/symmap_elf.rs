// SPDX-License-Identifier: GPL-2.0-only
//! ELF symbol maps: a vmlinux and modules (.ko, .ko.xz, .ko.zst, .ko.gz).
//!
//! Both carry STT_FILE symbols, so the map knows the source file of every
//! local symbol (the linker keeps each input file's locals after its
//! STT_FILE symbol). A vmlinux is read through a cache, section by
//! section, so that its debug information is never read; its symbols are
//! filtered like scripts/kallsyms does and sorted by address. A module
//! keeps its symbol table order, and each symbol is marked as kept or not
//! after the module's init (kernel/module/kallsyms.c, is_core_symbol()).
//! Compressed modules are decompressed by running xz, zstd or gzip.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use object::elf;
use object::ReadRef;

use crate::elf::Module;

use crate::names::VMLINUX;
use crate::objsyms::{
    module_name_of, Compression, Entry, Kind, ObjectSymbols, Str, SymMapError, FLAG_CORE, FLAG_INIT,
};

/// Names scripts/kallsyms (or mksysmap) leaves out of kallsyms.
const NOT_IN_KALLSYMS: &[&str] = &[
    ".L",
    "$",
    "__crc_",
    "__kstrtab_",
    "__kstrtabns_",
    "__kcfi_typeid_",
];

struct Raw {
    strtab: Vec<u8>,
    entries: Vec<Entry>,
    modinfo_name: Option<String>,
}

/// The symbols of the ELF file `data` (a module in memory, or a vmlinux
/// through a cache), read with [`crate::elf`].
fn read_raw<'d, R: ReadRef<'d>>(path: &Path, data: R, module: bool) -> Result<Raw, SymMapError> {
    let elf = Module::parse_symbols(data)
        .map_err(|e| SymMapError::new(path, format!("cannot parse ELF: {e}")))?;
    if elf.symbols.len() <= 1 {
        let hint = if module {
            "a module without symbols"
        } else {
            "a stripped or BTF-only vmlinux cannot serve as a map; give its System.map or a \
             /proc/kallsyms dump of the kernel instead"
        };
        return Err(SymMapError::new(
            path,
            format!("no symbol table (.symtab): {hint}"),
        ));
    }
    let symtab = elf.section(elf.symtab);
    let strtab = symtab
        .and_then(|s| elf.section(s.link as usize))
        .and_then(|s| s.data)
        .unwrap_or_default()
        .to_vec();
    if u32::try_from(strtab.len()).is_err() {
        return Err(SymMapError::new(path, "string table larger than 4 GiB"));
    }
    let modinfo_name = if module {
        elf.modinfo()
            .find_map(|e| e.strip_prefix(b"name="))
            .map(|n| String::from_utf8_lossy(n).replace('-', "_"))
    } else {
        None
    };
    let shnum = elf.sections.len();
    // Locals come first; sh_info of .symtab is the first global.
    let first_global = symtab.map_or(0, |s| s.info as usize);

    let mut entries = Vec::with_capacity(elf.symbols.len());
    let mut file = Str::default();
    for (index, sym) in elf.symbols.iter().enumerate().skip(1) {
        let off = elf.symbol_name_offset(index).ok_or_else(|| {
            SymMapError::new(path, format!("symbol {index} lies outside .symtab"))
        })?;
        let name = Str {
            off,
            len: sym.name.len() as u32,
        };
        if sym.st_type == elf::STT_FILE.0 {
            file = name;
            continue;
        }
        if index >= first_global {
            file = Str::default();
        }
        if name.len == 0 || sym.shndx == elf::SHN_UNDEF.0 || sym.st_type == elf::STT_SECTION.0 {
            continue;
        }
        let section = elf
            .symbol_section(index)
            .and_then(|i| elf.section(i.get() as usize));
        if !module
            && NOT_IN_KALLSYMS
                .iter()
                .any(|p| sym.name.starts_with(p.as_bytes()))
        {
            continue;
        }
        let init = section.is_some_and(|s| s.name.starts_with(b".init"));
        let percpu = section.is_some_and(|s| s.name == b".data..percpu");
        let mut ty = match section {
            None => b'a',
            Some(s) if s.flags & elf::SHF_EXECINSTR.0 != 0 => b't',
            Some(s) if s.sh_type == elf::SHT_NOBITS.0 => b'b',
            Some(s) if s.flags & elf::SHF_WRITE.0 != 0 => b'd',
            Some(_) => b'r',
        };
        if sym.bind == elf::STB_WEAK.0 {
            ty = if ty == b't' { b'W' } else { b'V' };
        } else if sym.bind == elf::STB_GLOBAL.0 {
            ty = ty.to_ascii_uppercase();
        }
        let mut flags = 0;
        if init {
            flags |= FLAG_INIT;
        }
        // kernel/module/kallsyms.c: is_core_symbol() with KALLSYMS_ALL.
        let core = (sym.shndx as usize) < shnum
            && (percpu || section.is_some_and(|s| s.is_alloc() && !init));
        if core {
            flags |= FLAG_CORE;
        }
        // The symbols were read from this table: their values are there.
        let (addr, _) = elf.symbol_value_size(index).ok_or_else(|| {
            SymMapError::new(path, format!("symbol {index} lies outside .symtab"))
        })?;
        entries.push(Entry {
            name,
            file,
            addr,
            ty,
            flags,
        });
    }
    Ok(Raw {
        strtab,
        entries,
        modinfo_name,
    })
}

fn read_any<'d, R: ReadRef<'d>>(path: &Path, data: R, module: bool) -> Result<Raw, SymMapError> {
    read_raw(path, data, module)
}

/// Read a vmlinux ELF file (only its section headers and symbol table).
pub fn read_vmlinux(path: &Path) -> Result<ObjectSymbols, SymMapError> {
    let (file, _) = crate::sys::open_regular(path, u64::MAX)
        .map_err(|e| SymMapError::new(path, e.to_string()))?;
    let cache = object::ReadCache::new(file);
    let mut raw = read_any(path, &cache, false)?;
    if !raw
        .entries
        .iter()
        .any(|e| matches!(e.ty, b't' | b'T' | b'W'))
    {
        return Err(SymMapError::new(
            path,
            format!(
                "no code symbols among its {} symbols: a BTF-only vmlinux (as in Debian's \
                 linux-headers) or a stripped one cannot serve as a map; give System.map or \
                 a /proc/kallsyms dump of the kernel instead",
                raw.entries.len()
            ),
        ));
    }
    raw.entries.sort_by_key(|e| e.addr);
    let mut bounds = [None; 4];
    for e in &raw.entries {
        let n = raw
            .strtab
            .get(e.name.off as usize..(e.name.off + e.name.len) as usize)
            .unwrap_or_default();
        let i = match n {
            b"_sinittext" => 0,
            b"_einittext" => 1,
            b"__init_begin" => 2,
            b"__init_end" => 3,
            _ => continue,
        };
        bounds[i] = Some(e.addr);
    }
    let mut init_ranges = Vec::new();
    for (lo, hi) in [(bounds[0], bounds[1]), (bounds[2], bounds[3])] {
        if let (Some(lo), Some(hi)) = (lo, hi) {
            if lo < hi {
                init_ranges.push((lo, hi));
            }
        }
    }
    Ok(ObjectSymbols {
        object: VMLINUX.to_string(),
        source: path.to_path_buf(),
        kind: Kind::Vmlinux,
        full_view: false,
        buf: Arc::new(raw.strtab),
        entries: raw.entries,
        init_ranges,
    })
}

/// The directories the decompressors are taken from, never PATH.
const TOOL_DIRS: &[&str] = &["/usr/bin", "/bin"];
/// A module decompresses to at most 32 times its compressed size (a .ko
/// compresses 3-6 times), with a floor of 64 MiB for small files and a
/// ceiling of 512 MiB, far above the largest module's symbol table.
const RATIO: u64 = 32;
const FLOOR: u64 = 64 << 20;
/// The ceiling of [`decompressed_limit`].
pub const MAX_DECOMPRESSED: u64 = 512 << 20;
/// What is kept of a decompressor's error output.
const STDERR_KEPT: u64 = 4096;

/// How many bytes a module of `compressed` bytes may decompress to.
pub fn decompressed_limit(compressed: u64) -> u64 {
    compressed
        .saturating_mul(RATIO)
        .clamp(FLOOR, MAX_DECOMPRESSED)
}

fn find_tool(name: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    TOOL_DIRS.iter().map(|d| Path::new(d).join(name)).find(|p| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    })
}

/// Decompress a module with the tool for `c`: the file is opened here
/// (a regular file, at most [`crate::sys::MAX_FILE`]) and given to the
/// tool as its standard input, so that no path reaches its command line;
/// the output is read up to [`decompressed_limit`], and the tool is killed
/// past it.
fn decompress(path: &Path, c: Compression) -> Result<Vec<u8>, SymMapError> {
    let fail = |m: String| SymMapError::new(path, m);
    let (tool, package) = match c {
        Compression::None => {
            return crate::sys::read_regular(path, crate::sys::MAX_FILE)
                .map_err(|e| fail(e.to_string()))
        }
        Compression::Xz => ("xz", "xz-utils"),
        Compression::Zstd => ("zstd", "zstd"),
        Compression::Gzip => ("gzip", "gzip"),
    };
    let (file, len) =
        crate::sys::open_regular(path, crate::sys::MAX_FILE).map_err(|e| fail(e.to_string()))?;
    let Some(exe) = find_tool(tool) else {
        return Err(fail(format!(
            "cannot decompress it: no {tool} in {}; install {package} \
             (dev-harness/install-deps does)",
            TOOL_DIRS.join(" or ")
        )));
    };
    let mut child = Command::new(&exe)
        .arg("-dc")
        .env_clear()
        .env("LC_ALL", "C")
        .stdin(Stdio::from(file))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            fail(format!(
                "cannot run {} to decompress it ({e})",
                exe.display()
            ))
        })?;
    // Drain the error output on the side, keeping its start.
    let stderr = child.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let _ = (&mut e).take(STDERR_KEPT).read_to_end(&mut kept);
            let _ = std::io::copy(&mut e, &mut std::io::sink());
            kept
        })
    });
    let limit = decompressed_limit(len);
    let mut out = Vec::new();
    let read = match child.stdout.take() {
        Some(stdout) => stdout.take(limit.saturating_add(1)).read_to_end(&mut out),
        None => Ok(0),
    };
    let stop = |child: &mut std::process::Child| {
        let _ = child.kill();
        let _ = child.wait();
    };
    if let Err(e) = read {
        stop(&mut child);
        return Err(fail(format!("cannot read the output of {tool} -dc: {e}")));
    }
    if out.len() as u64 > limit {
        stop(&mut child);
        return Err(fail(format!(
            "decompresses to more than {} MiB ({RATIO} times its {len} bytes, at least {} \
             MiB, at most {} MiB): not a module; refused",
            limit >> 20,
            FLOOR >> 20,
            MAX_DECOMPRESSED >> 20
        )));
    }
    let status = child
        .wait()
        .map_err(|e| fail(format!("cannot wait for {tool}: {e}")))?;
    let msg = stderr
        .and_then(|h| h.join().ok())
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    if !status.success() {
        return Err(fail(format!("{tool} -dc failed ({status}): {msg}")));
    }
    Ok(out)
}

/// Read a module, decompressing it if needed.
pub fn read_module(path: &Path, c: Compression) -> Result<ObjectSymbols, SymMapError> {
    let data = decompress(path, c)?;
    let raw = read_any(path, data.as_slice(), true)?;
    let object = raw
        .modinfo_name
        .or_else(|| module_name_of(path))
        .ok_or_else(|| {
            SymMapError::new(
                path,
                "cannot tell the module's name: no name= in .modinfo and the file name \
                 does not end in .ko",
            )
        })?;
    Ok(ObjectSymbols {
        object,
        source: path.to_path_buf(),
        kind: Kind::Module(c),
        full_view: true,
        buf: Arc::new(raw.strtab),
        entries: raw.entries,
        init_ranges: Vec::new(),
    })
}
