// SPDX-License-Identifier: GPL-2.0-only
//! Mutation fuzzing: real converted and unconverted modules, corrupted in
//! deterministic ways, must never make klp-convert panic, hang, leave an
//! output behind on error, touch its input on error, or fail without
//! saying what is wrong.
//!
//! Seeds: the checked-in tests/golden/*.ko (x86_64, ppc64le, s390x,
//! arm64), x86_64 modules compiled here with gcc and ld -r, and their
//! conversions. Mutations: bit flips, byte runs, truncation, splices, and
//! targeted corruption of ELF header, section header, symbol and
//! relocation fields with boundary values (0, all ones, the file size,
//! SHN_XINDEX, SHN_LIVEPATCH, ...).
//!
//! Each input runs in-process through klp_convert::run (to a separate
//! output file, or in place) and through the parse, plan, list and dump
//! layers, under catch_unwind and a watchdog; one input in
//! `BINARY_EVERY` also runs through the real binary, to catch aborts and
//! signals.
//!
//! Symbol maps are fuzzed the same way (`mutated_maps_are_handled`): a
//! kallsyms dump, a System.map, a vmlinux, a target module (plain and
//! compressed) and a module tree with its modules.dep, mutated (bytes,
//! lines, duplicated names, control characters, ELF fields) and given with
//! --symbols to a livepatch module whose annotations need them.
//!
//! Every input runs under a counting allocator: the largest single
//! allocation must stay within 4 times the bytes of the input (module and
//! maps) plus 1 MiB, and the peak of live allocations within 4 times plus
//! 16 MiB (the fixed cost of a run: the writer's buffer, the stack of a
//! decompressor's reader thread); the worst ratios are printed.
//!
//! `cargo test --test fuzz` runs `DEFAULT_ITERATIONS` module inputs and
//! `DEFAULT_MAP_ITERATIONS` map inputs. The long mode, in release:
//!
//!     KLP_FUZZ_ITERATIONS=700000 KLP_FUZZ_MAP_ITERATIONS=300000 \
//!         nice -n 10 cargo test --release -j1 --test fuzz -- --nocapture --test-threads=1
//!
//! (`KLP_FUZZ_SEED` picks another sequence, `KLP_FUZZ_TIMEOUT_MS` the
//! per-input limit). Failing inputs are saved in the scratch directory.

mod common;

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use klp_convert::error::Error;
use klp_convert::{run, Options, Outcome};

/// Inputs per `cargo test` run (about 17 s in the debug build here).
const DEFAULT_ITERATIONS: u64 = 20_000;
/// Map inputs per `cargo test` run.
const DEFAULT_MAP_ITERATIONS: u64 = 1_500;

/// Counts the allocations of each thread, to bound what one input costs.
struct Counting;

std::thread_local! {
    /// Bytes allocated and not freed by this thread (frees on another
    /// thread make it approximate, never larger).
    static LIVE: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
    /// Highest LIVE since the last reset.
    static PEAK: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
    /// Largest single allocation since the last reset.
    static LARGEST: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn note_alloc(size: usize) {
    let _ = LIVE.try_with(|l| {
        let live = l.get().saturating_add(size as isize);
        l.set(live);
        let _ = PEAK.try_with(|p| p.set(p.get().max(live)));
    });
    let _ = LARGEST.try_with(|m| m.set(m.get().max(size)));
}

fn note_free(size: usize) {
    let _ = LIVE.try_with(|l| l.set(l.get().saturating_sub(size as isize)));
}

// SAFETY: every call goes to the system allocator with the caller's
// arguments; the bookkeeping only touches const-initialised thread-locals
// that never allocate.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: as the caller's contract.
        let p = unsafe { std::alloc::System.alloc(layout) };
        if !p.is_null() {
            note_alloc(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: as the caller's contract.
        let p = unsafe { std::alloc::System.alloc_zeroed(layout) };
        if !p.is_null() {
            note_alloc(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: as the caller's contract.
        unsafe { std::alloc::System.dealloc(ptr, layout) };
        note_free(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        // SAFETY: as the caller's contract.
        let p = unsafe { std::alloc::System.realloc(ptr, layout, new) };
        if !p.is_null() {
            note_free(layout.size());
            note_alloc(new);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What one input cost: (peak live bytes, largest allocation) since
/// [`reset_alloc`].
fn alloc_cost() -> (usize, usize) {
    let live0 = BASE.with(|b| b.get());
    let peak = PEAK.with(|p| p.get()).saturating_sub(live0).max(0) as usize;
    (peak, LARGEST.with(|m| m.get()))
}

std::thread_local! {
    static BASE: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
}

fn reset_alloc() {
    let live = LIVE.with(|l| l.get());
    BASE.with(|b| b.set(live));
    PEAK.with(|p| p.set(live));
    LARGEST.with(|m| m.set(0));
}

/// The bounds of the module documentation: Err says which was passed.
fn check_alloc(input_bytes: usize, worst: &mut AllocWorst, iteration: u64) -> Result<(), String> {
    let (peak, largest) = alloc_cost();
    worst.note(input_bytes, peak, largest, iteration);
    let four = input_bytes.saturating_mul(4);
    if largest > four + (1 << 20) {
        return Err(format!(
            "an allocation of {largest} bytes for {input_bytes} bytes of input (over 4x + 1 MiB)"
        ));
    }
    if peak > four + (16 << 20) {
        return Err(format!(
            "{peak} bytes allocated at once for {input_bytes} bytes of input (over 4x + 16 MiB)"
        ));
    }
    Ok(())
}

/// The worst costs seen, for the summary.
#[derive(Default)]
struct AllocWorst {
    peak: (usize, usize, u64),
    largest: (usize, usize, u64),
}

impl AllocWorst {
    fn note(&mut self, input: usize, peak: usize, largest: usize, iteration: u64) {
        if peak > self.peak.0 {
            self.peak = (peak, input, iteration);
        }
        if largest > self.largest.0 {
            self.largest = (largest, input, iteration);
        }
    }

    fn summary(&self) -> String {
        format!(
            "fuzz: largest allocation {} bytes (input {} of {} bytes); peak live {} bytes \
             (input {} of {} bytes)\n",
            self.largest.0, self.largest.2, self.largest.1, self.peak.0, self.peak.2, self.peak.1
        )
    }
}
/// One input in this many also goes through the binary.
const BINARY_EVERY: u64 = 40;

/// splitmix64: small, fast, good enough, and ours.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.next() % one_in == 0
    }
}

/// Where the fields of a (valid) seed lie, found once per seed.
struct Layout {
    is_64: bool,
    big_endian: bool,
    /// File offset of each section header.
    headers: Vec<usize>,
    /// File offset of each symbol table entry.
    symbols: Vec<usize>,
    /// File offset of each RELA/REL entry, and whether it is RELA.
    relocs: Vec<(usize, bool)>,
    /// Symbol indices worth pointing relocations at (annotations and
    /// livepatch symbols).
    klp_symbols: Vec<u64>,
}

fn offset_in(data: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - data.as_ptr() as usize
}

fn layout(data: &[u8]) -> Layout {
    let m = Module::parse(data).expect("seed parses");
    let headers = (0..m.sections.len())
        .map(|i| m.shoff as usize + i * m.shentsize as usize)
        .collect();
    let sym_size = if m.is_64 { 24 } else { 16 };
    let mut symbols = Vec::new();
    if let Some(st) = m.sections.get(m.symtab).filter(|_| m.symtab != 0) {
        if let Some(d) = st.data {
            let base = offset_in(data, d);
            symbols = (0..d.len() / sym_size)
                .map(|i| base + i * sym_size)
                .collect();
        }
    }
    let mut relocs = Vec::new();
    for s in m.sections.iter().filter(|s| s.is_reloc()) {
        let rela = s.sh_type == object::elf::SHT_RELA.0;
        let size = match (m.is_64, rela) {
            (true, true) => 24,
            (true, false) => 16,
            (false, true) => 12,
            (false, false) => 8,
        };
        if let Some(d) = s.data {
            let base = offset_in(data, d);
            relocs.extend((0..d.len() / size).map(|i| (base + i * size, rela)));
        }
    }
    let klp_symbols = m
        .symbols
        .iter()
        .enumerate()
        .filter(|(_, s)| s.name.starts_with(b".klp.sym."))
        .map(|(i, _)| i as u64)
        .collect();
    Layout {
        is_64: m.is_64,
        big_endian: m.big_endian,
        headers,
        symbols,
        relocs,
        klp_symbols,
    }
}

fn put(data: &mut [u8], off: usize, width: usize, value: u64, big_endian: bool) {
    let Some(field) = data.get_mut(off..off.saturating_add(width)) else {
        return;
    };
    for (i, b) in field.iter_mut().enumerate() {
        let shift = if big_endian { width - 1 - i } else { i } * 8;
        *b = (value >> shift) as u8;
    }
}

/// Boundary values for a field of a file of `len` bytes.
fn interesting(rng: &mut Rng, len: usize) -> u64 {
    const FIXED: &[u64] = &[
        0,
        1,
        2,
        3,
        4,
        7,
        8,
        16,
        24,
        0x40,
        0x7f,
        0x80,
        0xff,
        0x100,
        0xfeff,
        0xff00,
        0xff1f,
        0xff20,
        0xfff1,
        0xfff2,
        0xffff,
        0x1_0000,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_fff0,
        0xffff_ffff,
        0x1_0000_0000,
        0x7fff_ffff_ffff_ffff,
        0x8000_0000_0000_0000,
        u64::MAX - 7,
        u64::MAX,
    ];
    let len = len as u64;
    match rng.below(4) {
        0 => [
            len,
            len.wrapping_sub(1),
            len + 1,
            len / 2,
            len.wrapping_sub(24),
        ][rng.below(5)],
        1 => rng.next() >> rng.below(64),
        _ => FIXED[rng.below(FIXED.len())],
    }
}

/// Section header fields: (offset, width) for ELF64 and ELF32.
const SHDR64: &[(usize, usize)] = &[
    (0, 4),  // sh_name
    (4, 4),  // sh_type
    (8, 8),  // sh_flags
    (24, 8), // sh_offset
    (32, 8), // sh_size
    (40, 4), // sh_link
    (44, 4), // sh_info
    (48, 8), // sh_addralign
    (56, 8), // sh_entsize
];
const SHDR32: &[(usize, usize)] = &[
    (0, 4),
    (4, 4),
    (8, 4),
    (16, 4),
    (20, 4),
    (24, 4),
    (28, 4),
    (32, 4),
    (36, 4),
];
/// ELF header: e_shoff, e_shentsize, e_shnum, e_shstrndx, e_type, e_machine.
const EHDR64: &[(usize, usize)] = &[(0x28, 8), (0x3a, 2), (0x3c, 2), (0x3e, 2), (16, 2), (18, 2)];
const EHDR32: &[(usize, usize)] = &[(0x20, 4), (0x2e, 2), (0x30, 2), (0x32, 2), (16, 2), (18, 2)];
const SHN_VALUES: &[u64] = &[0, 1, 0xff00, 0xff20, 0xfff1, 0xfff2, 0xffff, 0xfffe];

fn mutate(rng: &mut Rng, seed: &[u8], lay: &Layout) -> (Vec<u8>, Vec<&'static str>) {
    let mut d = seed.to_vec();
    let be = lay.big_endian;
    let mut what = Vec::new();
    let rounds = if rng.chance(2) { 1 } else { 2 + rng.below(2) };
    for _ in 0..rounds {
        let len = d.len();
        match rng.below(10) {
            0 => {
                what.push("bit flips");
                for _ in 0..1 + rng.below(8) {
                    let i = rng.below(len);
                    if let Some(b) = d.get_mut(i) {
                        *b ^= 1 << rng.below(8);
                    }
                }
            }
            1 => {
                what.push("byte run");
                let start = rng.below(len);
                let n = 1 + rng.below(64);
                let v = [0u8, 0xff, rng.next() as u8][rng.below(3)];
                let random = rng.chance(2);
                let end = (start + n).min(len);
                for b in d[start..end].iter_mut() {
                    *b = if random { rng.next() as u8 } else { v };
                }
            }
            2 => {
                what.push("truncation");
                d.truncate(rng.below(len));
            }
            3 => {
                what.push("splice");
                // Copy a chunk of the file over another place, or append.
                let from = rng.below(len);
                let n = (1 + rng.below(256)).min(len - from.min(len));
                let chunk = d[from..from + n].to_vec();
                if rng.chance(3) {
                    d.extend_from_slice(&chunk);
                } else {
                    let to = rng.below(len);
                    for (i, b) in chunk.iter().enumerate() {
                        if let Some(x) = d.get_mut(to + i) {
                            *x = *b;
                        }
                    }
                }
            }
            4 | 5 => {
                what.push("section header field");
                if lay.headers.is_empty() {
                    continue;
                }
                let h = lay.headers[rng.below(lay.headers.len())];
                let fields = if lay.is_64 { SHDR64 } else { SHDR32 };
                let (off, width) = fields[rng.below(fields.len())];
                let v = if rng.chance(3) {
                    rng.below(lay.headers.len() + 2) as u64
                } else {
                    interesting(rng, len)
                };
                put(&mut d, h + off, width, v, be);
            }
            6 => {
                what.push("ELF header field");
                let fields = if lay.is_64 { EHDR64 } else { EHDR32 };
                let (off, width) = fields[rng.below(fields.len())];
                let v = if rng.chance(2) {
                    rng.below(lay.headers.len() + 2) as u64
                } else {
                    interesting(rng, len)
                };
                put(&mut d, off, width, v, be);
            }
            7 => {
                what.push("symbol field");
                if lay.symbols.is_empty() {
                    continue;
                }
                let s = lay.symbols[rng.below(lay.symbols.len())];
                // (offset, width) of st_name, st_info, st_other, st_shndx,
                // st_value, st_size.
                let fields: &[(usize, usize)] = if lay.is_64 {
                    &[(0, 4), (4, 1), (5, 1), (6, 2), (8, 8), (16, 8)]
                } else {
                    &[(0, 4), (12, 1), (13, 1), (14, 2), (4, 4), (8, 4)]
                };
                let k = rng.below(fields.len());
                let (off, width) = fields[k];
                let v = match k {
                    3 if rng.chance(2) => SHN_VALUES[rng.below(SHN_VALUES.len())],
                    3 => rng.below(lay.headers.len() + 2) as u64,
                    1 => rng.next() & 0xff,
                    _ => interesting(rng, len),
                };
                put(&mut d, s + off, width, v, be);
            }
            _ => {
                what.push("relocation field");
                if lay.relocs.is_empty() {
                    continue;
                }
                let (r, rela) = lay.relocs[rng.below(lay.relocs.len())];
                let word = if lay.is_64 { 8 } else { 4 };
                match rng.below(4) {
                    0 => put(&mut d, r, word, interesting(rng, len), be),
                    1 if rela => put(&mut d, r + 2 * word, word, interesting(rng, len), be),
                    _ => {
                        let sym = match rng.below(3) {
                            0 if !lay.klp_symbols.is_empty() => {
                                lay.klp_symbols[rng.below(lay.klp_symbols.len())]
                            }
                            1 => interesting(rng, len),
                            _ => rng.below(lay.symbols.len() + 2) as u64,
                        };
                        let ty = if rng.chance(2) {
                            rng.below(64) as u64
                        } else {
                            interesting(rng, len)
                        };
                        let info = if lay.is_64 {
                            (sym << 32) | (ty & 0xffff_ffff)
                        } else {
                            (sym << 8) | (ty & 0xff)
                        };
                        put(&mut d, r + word, word, info, be);
                    }
                }
            }
        }
    }
    (d, what)
}

fn seeds(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut seeds = Vec::new();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut names: Vec<PathBuf> = fs::read_dir(&golden)
        .expect("read tests/golden")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ko"))
        .collect();
    names.sort();
    for p in names {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        seeds.push((name, fs::read(&p).expect("read golden module")));
    }
    if require_tool("gcc", "gcc") && require_tool("ld", "binutils") {
        let sources = [
            (
                "vmlinux_refs",
                format!(
                    "{MODINFO_LIVEPATCH}
extern char *saved_command_line KLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);
extern void vfunc(void) KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, vfunc, 3);
static int counter;
void *table[] = {{ &saved_command_line, vfunc, &counter }};
int patched(int x) {{ vfunc(); printk(\"%s\\n\", saved_command_line); return x + counter; }}
"
                ),
            ),
            (
                "module_refs",
                format!(
                    "{MODINFO_LIVEPATCH}
extern int target_var KLP_RELOC_SYMBOL_POS(target_mod, target_mod, target_var, 2);
extern int helper(int) KLP_RELOC_SYMBOL(target_mod, target_mod, helper);
extern void vhelper(void) KLP_RELOC_SYMBOL(target_mod, vmlinux, vhelper);
__attribute__((section(\".text.unlikely\"))) int cold(int x) {{ return helper(x); }}
int patched(int x) {{ vhelper(); return cold(x) + target_var; }}
"
                ),
            ),
            (
                "plain",
                "int plain(int x) { printk(\"%d\\n\", x); return x; }\n".to_string(),
            ),
        ];
        for (name, src) in &sources {
            let ko = build_module(dir, name, src);
            seeds.push((format!("{name}.ko"), fs::read(&ko).expect("read module")));
        }
    }
    // The converted form of every seed that converts.
    let mut converted = Vec::new();
    for (name, data) in &seeds {
        let input = dir.join(format!("seed-{name}"));
        let output = dir.join(format!("seed-{name}.out"));
        fs::write(&input, data).expect("write seed");
        let r = run(&Options {
            input,
            output: Some(output.clone()),
            ..Options::default()
        });
        if let Ok(report) = r {
            if matches!(report.outcome, Outcome::Converted { .. }) {
                let out = fs::read(&output).expect("read converted seed");
                converted.push((format!("{name} (converted)"), out));
            }
        }
    }
    assert!(
        !converted.is_empty(),
        "no seed converts: the fuzzer would only see unconverted modules"
    );
    seeds.extend(converted);
    seeds
}

/// How the inputs ended.
#[derive(Default)]
struct Tally {
    converted: u64,
    unchanged: u64,
    unparsable: u64,
    invalid: u64,
    other_errors: u64,
    /// The other errors by kind (message without numbers).
    kinds: std::collections::BTreeMap<String, u64>,
}

/// What the watchdog looks at: the input running and since when.
struct Current {
    started: Instant,
    iteration: u64,
    input: Vec<u8>,
}

fn no_temp_files(dir: &Path) -> Result<(), String> {
    for entry in fs::read_dir(dir).map_err(|e| e.to_string())? {
        let name = entry.map_err(|e| e.to_string())?.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".tmp") {
            return Err(format!("temporary file {name} left behind"));
        }
    }
    Ok(())
}

/// Run one input in-process; Err describes a violated property.
fn check_in_process(
    dir: &Path,
    data: &[u8],
    in_place: bool,
    tally: &mut Tally,
    worst: &mut AllocWorst,
    iteration: u64,
) -> Result<(), String> {
    let input = dir.join("input.ko");
    let output = dir.join("output.ko");
    let _ = fs::remove_file(&output);
    fs::write(&input, data).map_err(|e| format!("write input: {e}"))?;

    // The layers, on the bytes.
    let layers = catch_unwind(|| {
        if let Ok(m) = Module::parse(data) {
            let _ = klp_convert::list::list(&m);
            let _ = klp_convert::dump::dump(&m);
            let p = klp_convert::convert::plan(&m);
            let _ = p.describe(&m);
        }
    });
    if layers.is_err() {
        return Err("panic in parse/list/dump/plan".into());
    }

    let opts = Options {
        input: input.clone(),
        output: (!in_place).then(|| output.clone()),
        verbose: true,
        ..Options::default()
    };
    reset_alloc();
    let result = catch_unwind(AssertUnwindSafe(|| run(&opts)))
        .map_err(|_| "panic in klp_convert::run".to_string())?;
    check_alloc(data.len(), worst, iteration)?;
    match &result {
        Ok(r) if matches!(r.outcome, Outcome::Converted { .. }) => tally.converted += 1,
        Ok(_) => tally.unchanged += 1,
        Err(Error::Read(_)) => tally.unparsable += 1,
        Err(Error::Invalid(_)) => tally.invalid += 1,
        Err(e) => {
            tally.other_errors += 1;
            let msg = e.to_string();
            if msg.contains("internal error") && std::env::var_os("KLP_FUZZ_SHOW").is_some() {
                eprintln!("fuzz: {msg}");
            }
            let kind: String = msg.chars().take(60).collect();
            *tally.kinds.entry(kind).or_default() += 1;
        }
    }
    match result {
        Ok(report) => {
            let written = if in_place { &input } else { &output };
            match report.outcome {
                Outcome::Converted { .. } => {
                    let out = fs::read(written).map_err(|e| format!("read output: {e}"))?;
                    let m = Module::parse(&out)
                        .map_err(|e| format!("converted output does not parse: {e}"))?;
                    if !klp_convert::convert::plan(&m).is_empty() {
                        return Err("converted output still needs conversion".into());
                    }
                }
                Outcome::Unchanged => {
                    if fs::read(written).map_err(|e| format!("read output: {e}"))? != data {
                        return Err("unchanged module was not copied byte for byte".into());
                    }
                }
                Outcome::Listed => return Err("unexpected --list outcome".into()),
            }
        }
        Err(e) => {
            if fs::read(&input).map_err(|e| format!("read input: {e}"))? != data {
                return Err(format!("input modified on error ({e})"));
            }
            if output.exists() {
                return Err(format!("output written on error ({e})"));
            }
            let msg = e.to_string();
            if msg.trim().is_empty() {
                return Err("empty error message".into());
            }
            if let Error::Invalid(problems) = &e {
                if problems.is_empty() || !problems.iter().any(|p| p.is_error()) {
                    return Err("Invalid without an error".into());
                }
                if let Some(p) = problems.iter().find(|p| p.message.trim().is_empty()) {
                    return Err(format!("problem without a message: {p:?}"));
                }
            }
        }
    }
    no_temp_files(dir)
}

/// Run one input through the binary, with a time limit.
fn check_binary(dir: &Path, data: &[u8], limit: Duration) -> Result<(), String> {
    let input = dir.join("bin-input.ko");
    let output = dir.join("bin-output.ko");
    let _ = fs::remove_file(&output);
    fs::write(&input, data).map_err(|e| format!("write input: {e}"))?;
    let mut child = Command::new(env!("CARGO_BIN_EXE_klp-convert"))
        .arg(&input)
        .arg(&output)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("binary still running after {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    match status.code() {
        Some(0) => Ok(()),
        Some(1) => {
            if fs::read(&input).map_err(|e| e.to_string())? != data {
                return Err("binary modified its input on error".into());
            }
            if output.exists() {
                return Err("binary wrote an output on error".into());
            }
            let file = input.display().to_string();
            let first = stderr.lines().next().unwrap_or("");
            if !first.starts_with(&format!("klp-convert: {file}: ")) || !stderr.contains("error") {
                return Err(format!(
                    "error message does not name the file or the error: {stderr:?}"
                ));
            }
            no_temp_files(dir)
        }
        other => Err(format!(
            "binary exited with {other:?} (status {status}): {stderr}"
        )),
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

#[test]
fn mutated_modules_are_handled() {
    let iterations = env_u64("KLP_FUZZ_ITERATIONS", DEFAULT_ITERATIONS);
    let seed = env_u64("KLP_FUZZ_SEED", 0x6b6c_7063_6f6e_7631);
    let limit = Duration::from_millis(env_u64("KLP_FUZZ_TIMEOUT_MS", 10_000));
    let dir = scratch("fuzz");
    let seeds = seeds(&dir);
    let layouts: Vec<Layout> = seeds.iter().map(|(_, d)| layout(d)).collect();

    // The watchdog: an input that runs past the limit is saved and the
    // process aborts, since a hung call cannot be interrupted.
    let current: Arc<Mutex<Option<Current>>> = Arc::new(Mutex::new(None));
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let current = Arc::clone(&current);
        let done = Arc::clone(&done);
        let dir = dir.clone();
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                let guard = current.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(c) = guard.as_ref() {
                    if c.started.elapsed() > limit {
                        let path = dir.join(format!("hang-{}.ko", c.iteration));
                        let _ = fs::write(&path, &c.input);
                        eprintln!(
                            "fuzz: input {} still running after {limit:?}; saved as {}",
                            c.iteration,
                            path.display()
                        );
                        std::process::abort();
                    }
                }
            }
        })
    };

    // Panics are expected to be caught and reported, not printed.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));

    let mut rng = Rng(seed);
    let mut failures = Vec::new();
    let mut tally = Tally::default();
    let mut binary_runs = 0u64;
    let mut worst = AllocWorst::default();
    let mut slowest = (Duration::ZERO, 0u64, String::new());
    let start = Instant::now();
    let mut ran = 0u64;
    for iteration in 0..iterations {
        ran += 1;
        let k = rng.below(seeds.len());
        let (name, data) = &seeds[k];
        let (input, what) = mutate(&mut rng, data, &layouts[k]);
        let in_place = rng.chance(4);
        *current.lock().unwrap_or_else(|e| e.into_inner()) = Some(Current {
            started: Instant::now(),
            iteration,
            input: input.clone(),
        });
        let t = Instant::now();
        let mut result =
            check_in_process(&dir, &input, in_place, &mut tally, &mut worst, iteration);
        if result.is_ok() && iteration % BINARY_EVERY == 0 {
            binary_runs += 1;
            result = check_binary(&dir, &input, limit);
        }
        let took = t.elapsed();
        *current.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if took > slowest.0 {
            slowest = (took, iteration, format!("{name}: {}", what.join(", ")));
        }
        if let Err(msg) = result {
            let path = dir.join(format!("fail-{iteration}.ko"));
            fs::write(&path, &input).expect("save failing input");
            failures.push(format!(
                "input {iteration} ({name}: {}): {msg}; saved as {}",
                what.join(", "),
                path.display()
            ));
            if failures.len() >= 20 {
                break;
            }
        }
    }
    let elapsed = start.elapsed();
    std::panic::set_hook(hook);
    done.store(true, Ordering::Relaxed);
    let _ = watchdog.join();

    let mut summary = format!(
        "fuzz: {ran} mutated inputs from {} seeds (seed 0x{seed:x}) in {:.1} s: \
         {:.0} inputs/s; {} converted, {} unchanged, {} unparsable, {} refused by \
         validation, {} other errors; {binary_runs} also through the binary; slowest {:?} \
         (input {}, {})\n",
        seeds.len(),
        elapsed.as_secs_f64(),
        ran as f64 / elapsed.as_secs_f64(),
        tally.converted,
        tally.unchanged,
        tally.unparsable,
        tally.invalid,
        tally.other_errors,
        slowest.0,
        slowest.1,
        slowest.2
    );
    let mut kinds: Vec<(&String, &u64)> = tally.kinds.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1));
    for (kind, n) in kinds.iter().take(8) {
        summary.push_str(&format!("fuzz: {n:>6} x {kind}...\n"));
    }
    summary.push_str(&worst.summary());
    // Straight to the file descriptor: the test harness captures
    // eprintln!, and the figures are wanted on every run.
    {
        use std::io::Write;
        let _ = std::io::stderr().write_all(summary.as_bytes());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let _ = fs::remove_dir_all(&dir);
}

/// The checked-in x86_64 golden module, the index of its .text section and
/// the file offset of that section's header, for regression tests that
/// corrupt one field of it.
fn golden_with_text_header() -> (Vec<u8>, usize, usize) {
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/x86_64.ko");
    let seed = fs::read(golden).expect("read golden module");
    let text = Module::parse(&seed)
        .expect("golden module parses")
        .sections
        .iter()
        .position(|s| s.name == b".text")
        .expect(".text");
    let header = layout(&seed).headers[text];
    (seed, text, header)
}

/// Found by the fuzzer: a 4 GiB sh_addralign made the writer (then object's) pad
/// the output to 4 GiB (minutes and gigabytes, then likely an abort).
#[test]
fn huge_section_alignment_is_refused() {
    let dir = scratch("fuzz-align");
    let (seed, _, text_header) = golden_with_text_header();
    for align in [1u64 << 32, 1 << 20] {
        let mut data = seed.clone();
        put(&mut data, text_header + 48, 8, align, false);
        let input = dir.join("input.ko");
        let output = dir.join("output.ko");
        fs::write(&input, &data).unwrap();
        let start = Instant::now();
        let r = run(&Options {
            input: input.clone(),
            output: Some(output.clone()),
            ..Options::default()
        });
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "took {:?}",
            start.elapsed()
        );
        match r {
            Err(e) => assert_eq!(
                e.to_string(),
                format!("cannot rewrite ELF: section .text has an invalid alignment 0x{align:x}")
            ),
            Ok(r) => panic!("converted with alignment 0x{align:x}: {:?}", r.outcome),
        }
        assert_untouched(&dir, &input, &data, Some(&output));
    }
    // A page-sized alignment is fine.
    let mut data = seed.clone();
    put(&mut data, text_header + 48, 8, 4096, false);
    let input = dir.join("page.ko");
    fs::write(&input, &data).unwrap();
    let r = run(&Options {
        input,
        output: Some(dir.join("page.out")),
        ..Options::default()
    });
    assert!(
        matches!(r, Ok(ref r) if matches!(r.outcome, Outcome::Converted { .. })),
        "{r:?}"
    );
}

/// Found by the fuzzer: a relocated section with an empty (or non-UTF-8)
/// name was converted into a `.klp.rela.vmlinux.` section the converter's
/// own check then refused as an "internal error". It is the input's fault:
/// say so, and where.
#[test]
fn unnameable_target_section_is_an_input_error() {
    let dir = scratch("fuzz-name");
    let (seed, text, text_header) = golden_with_text_header();
    let mut data = seed.clone();
    // sh_name 0: the empty string at the start of .shstrtab.
    put(&mut data, text_header, 4, 0, false);
    let input = dir.join("input.ko");
    let output = dir.join("output.ko");
    fs::write(&input, &data).unwrap();
    let r = run(&Options {
        input: input.clone(),
        output: Some(output.clone()),
        ..Options::default()
    });
    let Err(Error::Invalid(problems)) = r else {
        panic!("expected a validation error, got {r:?}");
    };
    let want = format!(
        "section  (index {text}), which the annotated symbol's relocation applies to, cannot \
         be named in a .klp.rela.<obj>.<section> section: empty section name"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.message == want && p.section.as_deref() == Some(".rela.text")),
        "{problems:#?}"
    );
    assert_untouched(&dir, &input, &data, Some(&output));
}

/// A kallsyms dump of a small kernel with module tgt loaded.
const MAP_KALLSYMS: &str = "\
0000000000000000 A fixed_percpu_data
ffffffff81000000 T _stext
ffffffff81000100 t c_start
ffffffff81000200 T printk
ffffffff81000300 t vfunc.isra.0
ffffffff81000400 t c_start
ffffffff81000500 t vfunc
ffffffff81000600 t vfunc
ffffffff81000700 t vfunc
ffffffff81800000 r __ksymtab_printk
ffffffff82000000 D saved_command_line
ffffffff83000000 T _sinittext
ffffffff83000010 t c_start
ffffffff83000100 T _einittext
ffffffffc0001000 t helper\t[tgt]
ffffffffc0001010 t target_var\t[tgt]
ffffffffc0001020 t target_var\t[tgt]
ffffffffc0001030 t vhelper\t[tgt]
";

/// The maps to mutate: (file name, bytes, structured ELF mutations).
struct MapSeed {
    name: &'static str,
    data: Vec<u8>,
    layout: Option<Layout>,
}

fn map_seeds(dir: &Path) -> (Vec<MapSeed>, Vec<(String, Vec<u8>)>) {
    let mut maps = vec![
        MapSeed {
            name: "kallsyms",
            data: MAP_KALLSYMS.as_bytes().to_vec(),
            layout: None,
        },
        MapSeed {
            name: "System.map",
            data: MAP_KALLSYMS
                .lines()
                .filter(|l| !l.contains('\t'))
                .flat_map(|l| format!("{l}\n").into_bytes())
                .collect(),
            layout: None,
        },
    ];
    let mut patches = Vec::new();
    if !(require_tool("gcc", "gcc") && require_tool("ld", "binutils")) {
        return (maps, patches);
    }
    let tgt = build_module(
        dir,
        "tgt",
        "static int __attribute__((used, noinline)) target_var_fn(void) { return 1; }\n\
         int target_var = 3; int helper(int x) { return x + target_var_fn(); }\n\
         void vhelper(void) {}\n\
         static const char n[] __attribute__((section(\".modinfo\"), used)) = \"name=tgt\";\n",
    );
    let tgt = fs::read(&tgt).expect("read tgt");
    let layout = Module::parse(&tgt).ok().map(|_| layout(&tgt));
    for (name, tool) in [
        ("tgt.ko.xz", "xz"),
        ("tgt.ko.zst", "zstd"),
        ("tgt.ko.gz", "gzip"),
    ] {
        if !have_tool(tool) {
            continue;
        }
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("{tool} -c < \"$0\""))
            .arg(dir.join("tgt.ko"))
            .output()
            .expect("compress");
        if out.status.success() {
            maps.push(MapSeed {
                name,
                data: out.stdout,
                layout: None,
            });
        }
    }
    maps.push(MapSeed {
        name: "tgt.ko",
        data: tgt,
        layout,
    });
    // A vmlinux: an executable with the symbols of the dump.
    let src = dir.join("v.c");
    fs::write(
        &src,
        "static int __attribute__((used, noinline)) c_start(void) { return 1; }\n\
         int (*pa)(void) = c_start; char *saved_command_line;\n\
         int printk(const char *f, ...) { return 0; }\n\
         void vfunc(void) {}\n",
    )
    .expect("write v.c");
    let obj = dir.join("v.o");
    let vml = dir.join("vmlinux");
    let ok = Command::new("gcc")
        .args(["-c", "-O2", "-fno-pic", "-o"])
        .arg(&obj)
        .arg(&src)
        .status()
        .is_ok_and(|s| s.success())
        && Command::new("ld")
            .args(["-e", "0", "-o"])
            .arg(&vml)
            .arg(&obj)
            .status()
            .is_ok_and(|s| s.success());
    if ok {
        maps.push(MapSeed {
            name: "vmlinux",
            data: fs::read(&vml).expect("read vmlinux"),
            layout: None,
        });
    }
    maps.push(MapSeed {
        name: "modules.dep",
        data: b"kernel/drivers/tgt.ko: kernel/x.ko\nkernel/gone.ko:\n".to_vec(),
        layout: None,
    });
    let infer = "#define KLP_SYMBOL(p, s) asm(\"\\\".klp.sym.rela.\" #p \".*.\" #s \",*\\\"\") \
                 __attribute__((weak))\n\
                 #define KLP_SYMBOL_FILE(p, s, f) asm(\"\\\".klp.sym.rela.\" #p \".*.\" #s \",*,\" f \
                 \"\\\"\") __attribute__((weak))\n";
    for (name, decls) in [
        (
            "explicit",
            "extern char *saved_command_line KLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);\n\
             extern void vfunc(void) KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, vfunc, 3);\n\
             extern int helper(int) KLP_RELOC_SYMBOL(tgt, tgt, helper);\n\
             extern int target_var KLP_RELOC_SYMBOL_POS(tgt, tgt, target_var, 2);\n\
             void *table[] = { &saved_command_line, vfunc, helper, &target_var };\n",
        ),
        (
            "inferred",
            "extern char *saved_command_line KLP_SYMBOL(vmlinux, saved_command_line);\n\
             extern int printk2(void) KLP_SYMBOL(tgt, vhelper);\n\
             extern int helper(int) KLP_SYMBOL_FILE(tgt, helper, \"tgt.c\");\n\
             void *table[] = { &saved_command_line, printk2, helper };\n",
        ),
    ] {
        let ko = build_module(dir, name, &format!("{infer}{MODINFO_LIVEPATCH}{decls}"));
        patches.push((name.to_string(), fs::read(&ko).expect("read patch")));
    }
    (maps, patches)
}

/// Text mutations: lines duplicated, dropped, swapped, a name repeated
/// many times, control characters, long names, broken fields.
fn mutate_text(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = seed.split(|b| *b == b'\n').map(|l| l.to_vec()).collect();
    for _ in 0..1 + rng.below(3) {
        let n = lines.len().max(1);
        let i = rng.below(n);
        match rng.below(9) {
            0 => {
                let l = lines.get(i).cloned().unwrap_or_default();
                for _ in 0..1 + rng.below(2000) {
                    lines.insert(i.min(lines.len()), l.clone());
                }
            }
            1 => {
                if i < lines.len() {
                    lines.remove(i);
                }
            }
            2 => {
                let j = rng.below(n);
                if i < lines.len() && j < lines.len() {
                    lines.swap(i, j);
                }
            }
            3 => {
                if let Some(l) = lines.get_mut(i) {
                    let at = rng.below(l.len() + 1);
                    let b = [0x1b, 0x07, 0, b'\t', b'\r', 0x9b, 0xff, b' '][rng.below(8)];
                    l.insert(at, b);
                }
            }
            4 => {
                if let Some(l) = lines.get_mut(i) {
                    l.extend(std::iter::repeat_n(b'x', rng.below(5000)));
                }
            }
            5 => {
                if let Some(l) = lines.get_mut(i) {
                    let at = rng.below(l.len() + 1);
                    l.truncate(at);
                }
            }
            6 => {
                let tag = [&b"\t[tgt]"[..], b"\t[", b"\t[]", b"\t[a b]", b"\t[tgt"][rng.below(5)];
                if let Some(l) = lines.get_mut(i) {
                    l.extend_from_slice(tag);
                }
            }
            7 => {
                if let Some(l) = lines.get_mut(i) {
                    for b in l.iter_mut().take(16) {
                        if rng.chance(3) {
                            *b = b"0123456789abcdefgXZ "[rng.below(20)];
                        }
                    }
                }
            }
            _ => {
                if let Some(l) = lines.get_mut(i) {
                    let at = rng.below(l.len().max(1));
                    if let Some(b) = l.get_mut(at) {
                        *b = rng.next() as u8;
                    }
                }
            }
        }
    }
    lines.join(&b'\n')
}

/// Byte mutations for files without a structured mutator.
fn mutate_bytes(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut d = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        let len = d.len().max(1);
        let i = rng.below(len);
        match rng.below(4) {
            0 => d.truncate(i),
            1 => {
                if let Some(b) = d.get_mut(i) {
                    *b = rng.next() as u8;
                }
            }
            2 => d.insert(i.min(d.len()), rng.next() as u8),
            _ => {
                if let Some(b) = d.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
        }
    }
    d
}

#[test]
fn mutated_maps_are_handled() {
    let iterations = env_u64("KLP_FUZZ_MAP_ITERATIONS", DEFAULT_MAP_ITERATIONS);
    let seed = env_u64("KLP_FUZZ_SEED", 0x6b6c_7063_6f6e_7631) ^ 0x6d61_7073;
    let limit = Duration::from_millis(env_u64("KLP_FUZZ_TIMEOUT_MS", 10_000));
    let dir = scratch("fuzz-maps");
    let (maps, patches) = map_seeds(&dir);
    if patches.is_empty() {
        return;
    }
    let current: Arc<Mutex<Option<Current>>> = Arc::new(Mutex::new(None));
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let current = Arc::clone(&current);
        let done = Arc::clone(&done);
        let dir = dir.clone();
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                let guard = current.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(c) = guard.as_ref() {
                    if c.started.elapsed() > limit {
                        let path = dir.join(format!("hang-map-{}", c.iteration));
                        let _ = fs::write(&path, &c.input);
                        eprintln!(
                            "fuzz: map input {} still running after {limit:?}; saved as {}",
                            c.iteration,
                            path.display()
                        );
                        std::process::abort();
                    }
                }
            }
        })
    };
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));

    let mut rng = Rng(seed);
    let mut failures = Vec::new();
    let mut worst = AllocWorst::default();
    let (mut converted, mut refused, mut binary_runs) = (0u64, 0u64, 0u64);
    let tree = dir.join("tree");
    let tree_module = tree.join("kernel/drivers/tgt.ko");
    fs::create_dir_all(tree.join("kernel/drivers")).expect("tree");
    let start = Instant::now();
    let mut ran = 0u64;
    for iteration in 0..iterations {
        ran += 1;
        let m = &maps[rng.below(maps.len())];
        let mutated = match (&m.layout, m.name) {
            // Now and then the seed itself, for the paths that succeed.
            _ if rng.chance(8) => m.data.clone(),
            (Some(lay), _) if rng.chance(2) => mutate(&mut rng, &m.data, lay).0,
            (_, "kallsyms" | "System.map" | "modules.dep") if !rng.chance(4) => {
                mutate_text(&mut rng, &m.data)
            }
            _ => mutate_bytes(&mut rng, &m.data),
        };
        let (pname, patch) = &patches[rng.below(patches.len())];
        let input = dir.join("patch.ko");
        let output = dir.join("patch.out.ko");
        let _ = fs::remove_file(&output);
        fs::write(&input, patch).expect("write patch");
        // A map file, or the tree (modules.dep or its module mutated).
        let map_path = if m.name == "modules.dep" {
            fs::write(tree.join("modules.dep"), &mutated).expect("write modules.dep");
            if let Some(t) = maps.iter().find(|s| s.name == "tgt.ko") {
                fs::write(&tree_module, &t.data).expect("write tree module");
            }
            tree.clone()
        } else if m.name == "tgt.ko" && rng.chance(4) {
            let _ = fs::remove_file(tree.join("modules.dep"));
            fs::write(&tree_module, &mutated).expect("write tree module");
            tree.clone()
        } else {
            let p = dir.join(m.name);
            fs::write(&p, &mutated).expect("write map");
            p
        };
        let mut symbols = vec![map_path.clone()];
        if !rng.chance(3) {
            // With a good dump too, so that both objects are known.
            let k = dir.join("good-kallsyms");
            fs::write(&k, MAP_KALLSYMS).expect("write kallsyms");
            symbols.insert(0, k);
        }
        *current.lock().unwrap_or_else(|e| e.into_inner()) = Some(Current {
            started: Instant::now(),
            iteration,
            input: mutated.clone(),
        });
        let opts = Options {
            input: input.clone(),
            output: Some(output.clone()),
            verbose: true,
            dry_run: rng.chance(4),
            symbols: symbols.clone(),
            ..Options::default()
        };
        reset_alloc();
        let result = catch_unwind(AssertUnwindSafe(|| run(&opts)));
        let input_bytes = patch.len() + mutated.len() + MAP_KALLSYMS.len();
        let mut verdict = match &result {
            Err(_) => Err("panic in klp_convert::run".to_string()),
            Ok(_) => check_alloc(input_bytes, &mut worst, iteration),
        };
        if verdict.is_ok() {
            verdict = match result {
                Ok(Ok(_)) => {
                    converted += 1;
                    Ok(())
                }
                Ok(Err(e)) => {
                    refused += 1;
                    if e.to_string().trim().is_empty() {
                        Err("empty error message".to_string())
                    } else if output.exists() {
                        Err(format!("output written on error ({e})"))
                    } else if fs::read(&input).ok().as_deref() != Some(patch.as_slice()) {
                        Err(format!("input modified on error ({e})"))
                    } else {
                        Ok(())
                    }
                }
                Err(_) => Err("panic".to_string()),
            };
        }
        if verdict.is_ok() && iteration % BINARY_EVERY == 0 {
            binary_runs += 1;
            let mut args: Vec<std::ffi::OsString> = Vec::new();
            for s in &symbols {
                args.push("-s".into());
                args.push(s.clone().into());
            }
            args.push(input.clone().into());
            args.push(output.clone().into());
            let out = Command::new(env!("CARGO_BIN_EXE_klp-convert"))
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .output();
            verdict = match out {
                Ok(o) if matches!(o.status.code(), Some(0 | 1)) => {
                    let err = String::from_utf8_lossy(&o.stderr);
                    if err.contains('\x1b') {
                        Err("raw escape byte on standard error".to_string())
                    } else {
                        Ok(())
                    }
                }
                Ok(o) => Err(format!("binary exited with {}", o.status)),
                Err(e) => Err(format!("spawn: {e}")),
            };
        }
        *current.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if let Err(msg) = verdict {
            let path = dir.join(format!("fail-map-{iteration}-{}", m.name));
            fs::write(&path, &mutated).expect("save failing map");
            failures.push(format!(
                "map input {iteration} ({} with {pname}): {msg}; saved as {}",
                m.name,
                path.display()
            ));
            if failures.len() >= 20 {
                break;
            }
        }
    }
    let elapsed = start.elapsed();
    std::panic::set_hook(hook);
    done.store(true, Ordering::Relaxed);
    let _ = watchdog.join();
    let summary = format!(
        "fuzz: {ran} mutated maps from {} seeds with {} patches (seed 0x{seed:x}) in {:.1} s: \
         {:.0} inputs/s; {converted} converted, {refused} refused; {binary_runs} also through \
         the binary\n{}",
        maps.len(),
        patches.len(),
        elapsed.as_secs_f64(),
        ran as f64 / elapsed.as_secs_f64(),
        worst.summary()
    );
    {
        use std::io::Write;
        let _ = std::io::stderr().write_all(summary.as_bytes());
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let _ = fs::remove_dir_all(&dir);
}
