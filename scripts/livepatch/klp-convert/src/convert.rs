// SPDX-License-Identifier: GPL-2.0-only
//! Validation and conversion of annotated livepatch references.
//!
//! [`plan`] reads a [`Module`] and decides, without changing anything,
//! which symbols are renamed and which relocations move to which
//! `.klp.rela.` section, collecting every problem on the way.
//! [`rewrite`] then applies a plan with object::build::elf, which keeps
//! every other part of the file as it was.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use object::build::elf::{Builder, SectionData, SectionId, SymbolId};
use object::elf as oelf;

use crate::arch::{self, RelocSite};
use crate::elf::{Module, Reloc, Section, SHF_RELA_LIVEPATCH, SHN_LIVEPATCH};
use crate::error::{Error, Problem};
use crate::names::{self, Annotation};

/// Sections the kernel processes when the patch module loads, before any
/// module-specific livepatch relocation is applied: such relocations would
/// come too late for them.
const EARLY_SECTIONS: &[&str] = &[
    "__jump_table",
    ".static_call_sites",
    ".static_call.text",
    ".altinstructions",
    ".altinstr_replacement",
    ".altinstr_aux",
    ".parainstructions",
    ".smp_locks",
    "__ex_table",
    "__bug_table",
    "__mcount_loc",
    "__patchable_function_entries",
    ".retpoline_sites",
    ".return_sites",
    ".call_sites",
    ".cfi_sites",
    ".ibt_endbr_seal",
    "__ftr_fixup",
    "__mmu_ftr_fixup",
    "__fw_ftr_fixup",
    "__lwsync_fixup",
    ".alternative",
    "__ksymtab",
    "__ksymtab_gpl",
    "__kcrctab",
    "__kcrctab_gpl",
    "__param",
    ".gnu.linkonce.this_module",
];

/// Prefixes of such sections.
const EARLY_PREFIXES: &[&str] = &[".orc_unwind", ".init"];

/// Read-only data: livepatch relocations applied after the module is
/// write-protected failed on some architectures.
const RO_PREFIXES: &[&str] = &[".rodata", ".data..ro_after_init", ".data.rel.ro"];

fn matches_early(name: &str) -> bool {
    EARLY_SECTIONS.contains(&name) || EARLY_PREFIXES.iter().any(|p| name.starts_with(p))
}

fn is_read_only(section: &Section<'_>) -> bool {
    let name = String::from_utf8_lossy(section.name);
    RO_PREFIXES.iter().any(|p| name.starts_with(p))
        || section.flags & (oelf::SHF_WRITE.0 | oelf::SHF_EXECINSTR.0) == 0
}

/// One annotated symbol to rename.
#[derive(Debug, Clone)]
pub struct SymbolChange {
    /// Symbol table index.
    pub index: usize,
    /// Current name.
    pub old_name: String,
    /// Parsed annotation.
    pub annotation: Annotation,
}

impl SymbolChange {
    /// The name after conversion.
    pub fn new_name(&self) -> String {
        self.annotation.target.klp_symbol_name()
    }
}

/// One relocation to move into a livepatch relocation section.
#[derive(Debug, Clone)]
pub struct Move {
    /// Index of the relocation section that holds it now.
    pub from: usize,
    /// Entry number in that section.
    pub entry: usize,
    /// Index of the relocated section.
    pub target: usize,
    /// The entry.
    pub reloc: Reloc,
    /// Name of the `.klp.rela.` section it moves to.
    pub to: Vec<u8>,
}

/// What a conversion will do, and what is wrong with the input.
#[derive(Debug, Default)]
pub struct Plan {
    /// Symbols to rename.
    pub symbols: Vec<SymbolChange>,
    /// Relocations to move.
    pub moves: Vec<Move>,
    /// Errors and warnings.
    pub problems: Vec<Problem>,
}

impl Plan {
    /// True if there is nothing to change.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty() && self.moves.is_empty()
    }

    /// True if any problem is an error.
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(Problem::is_error)
    }

    /// One line per change, for --verbose and --dry-run.
    pub fn describe(&self, module: &Module<'_>) -> Vec<String> {
        let mut lines = Vec::new();
        for s in &self.symbols {
            lines.push(format!("symbol {} -> {}", s.old_name, s.new_name()));
        }
        for m in &self.moves {
            let from = module
                .section(m.from)
                .map(Section::display_name)
                .unwrap_or_default();
            let sym = module
                .symbol(m.reloc.sym)
                .map(|s| s.display_name())
                .unwrap_or_default();
            lines.push(format!(
                "relocation {}+0x{:x} {} {} -> {}",
                from,
                m.reloc.offset,
                arch::type_name(module.machine, m.reloc.r_type),
                sym,
                String::from_utf8_lossy(&m.to)
            ));
        }
        lines
    }
}

/// Decide what to convert and check everything the kernel will check
/// later, and more.
pub fn plan(module: &Module<'_>) -> Plan {
    plan_with(module, &mut |name| match names::parse_annotation(name) {
        Ok(a) => (Some(a), Vec::new()),
        Err(e) => (None, vec![Problem::error(e.to_string())]),
    })
}

/// Turns an annotated symbol's name into the annotation to convert (None
/// if it cannot be), with the problems found; e.g. a check against the
/// target's symbols (crate::symmap_check).
pub type Resolve<'a> = dyn FnMut(&[u8]) -> (Option<Annotation>, Vec<Problem>) + 'a;

/// [`plan`], with annotated names resolved by `resolve`.
pub fn plan_with(module: &Module<'_>, resolve: &mut Resolve<'_>) -> Plan {
    let mut plan = Plan::default();
    let mut annotations: BTreeMap<usize, Annotation> = BTreeMap::new();

    // The annotated symbols themselves.
    for sym in &module.symbols {
        if !names::is_annotation(sym.name) {
            continue;
        }
        let name = sym.display_name();
        let (annotation, problems) = resolve(sym.name);
        for p in problems {
            let p = if p.symbol.is_none() {
                p.symbol(name.clone())
            } else {
                p
            };
            plan.problems.push(p);
        }
        let Some(annotation) = annotation else {
            continue;
        };
        if !sym.is_undefined() {
            let place = match sym.section.and_then(|i| module.section(i)) {
                Some(s) => format!("in section {}", s.display_name()),
                None => format!("with st_shndx 0x{:x}", sym.shndx),
            };
            plan.problems.push(
                Problem::error(format!(
                    "annotated symbol is defined {place}; it must be an undefined reference \
                     (declare it extern with KLP_RELOC_SYMBOL())"
                ))
                .symbol(name),
            );
            continue;
        }
        if sym.bind != oelf::STB_GLOBAL.0 && sym.bind != oelf::STB_WEAK.0 {
            plan.problems.push(
                Problem::error(format!(
                    "annotated symbol has binding {}, expected WEAK or GLOBAL",
                    sym.bind
                ))
                .symbol(name),
            );
            continue;
        }
        if annotation.target.name == ".TOC." {
            plan.problems.push(
                Problem::error(
                    ".TOC. is the module's own TOC base and is never a livepatch symbol",
                )
                .symbol(name),
            );
            continue;
        }
        if annotation.patched == names::VMLINUX && !annotation.target.is_vmlinux() {
            plan.problems.push(
                Problem::error(format!(
                    "code patched in vmlinux cannot reference a symbol of module {}: vmlinux \
                     relocations are applied when the patch loads, when the module may not \
                     be loaded; patch the module's code instead, or use an exported interface",
                    annotation.target.object
                ))
                .symbol(name),
            );
            continue;
        }
        annotations.insert(sym.index, annotation);
    }

    let arch = arch::for_machine(module.machine, module.is_64);
    if !annotations.is_empty() {
        if !module.is_livepatch() {
            let first = annotations
                .keys()
                .next()
                .and_then(|i| module.symbols.get(*i))
                .map(|s| s.display_name())
                .unwrap_or_default();
            plan.problems.push(
                Problem::error(format!(
                    "the module carries {} annotated livepatch symbol(s) but no livepatch=Y in \
                     .modinfo; add MODULE_INFO(livepatch, \"Y\")",
                    annotations.len()
                ))
                .symbol(first),
            );
        }
        if arch.is_none() {
            plan.problems.push(Problem::error(format!(
                "livepatch relocations are not supported for e_machine {} ({}-bit)",
                module.machine,
                if module.is_64 { 64 } else { 32 }
            )));
        }
        if module.e_type != oelf::ET_REL.0 {
            plan.problems.push(Problem::error(
                "not a relocatable object (ET_REL); kernel modules are",
            ));
        }
    }

    for section in &module.sections {
        if section.sh_type == oelf::SHT_CREL.0 && !annotations.is_empty() {
            plan.problems.push(
                Problem::error(
                    "SHT_CREL relocation sections are not supported; build without --crel",
                )
                .section(section.display_name()),
            );
        }
        if section.sh_type == oelf::SHT_GROUP.0 {
            if let Some(a) = module.symbol(section.info) {
                if annotations.contains_key(&a.index) {
                    plan.problems.push(
                        Problem::error("annotated symbol names a section group")
                            .section(section.display_name())
                            .symbol(a.display_name()),
                    );
                }
            }
        }
        if !section.is_reloc() {
            if section.is_livepatch() {
                plan.problems.push(
                    Problem::error("SHF_RELA_LIVEPATCH is set on a section that is not SHT_RELA")
                        .section(section.display_name()),
                );
            }
            continue;
        }
        check_reloc_section(module, section, &annotations, arch, &mut plan);
    }

    // Already converted symbols must be well formed.
    for sym in &module.symbols {
        if sym.shndx == SHN_LIVEPATCH || names::is_klp_symbol(sym.name) {
            if let Err(e) = names::parse_klp_symbol(sym.name) {
                plan.problems.push(
                    Problem::error(format!("livepatch symbol with a malformed name: {e}"))
                        .symbol(sym.display_name()),
                );
            } else if sym.shndx != SHN_LIVEPATCH {
                plan.problems.push(
                    Problem::error(format!(
                        "symbol has the livepatch prefix but st_shndx 0x{:x}, not SHN_LIVEPATCH",
                        sym.shndx
                    ))
                    .symbol(sym.display_name()),
                );
            }
        }
    }

    for (index, annotation) in annotations {
        let old_name = module
            .symbols
            .get(index)
            .map(|s| s.display_name())
            .unwrap_or_default();
        plan.symbols.push(SymbolChange {
            index,
            old_name,
            annotation,
        });
    }
    plan
}

fn check_reloc_section(
    module: &Module<'_>,
    section: &Section<'_>,
    annotations: &BTreeMap<usize, Annotation>,
    arch: Option<&arch::Arch>,
    plan: &mut Plan,
) {
    let sec_name = section.display_name();
    let uses_symtab = section.link as usize == module.symtab && module.symtab != 0;
    let is_klp_section = section.is_livepatch() || names::is_klp_rela(section.name);

    if is_klp_section {
        if let Err(e) = names::parse_klp_rela(section.name) {
            plan.problems.push(
                Problem::error(format!("malformed livepatch relocation section name: {e}"))
                    .section(sec_name.clone()),
            );
        }
        if !section.is_livepatch() {
            plan.problems.push(
                Problem::error("section has the .klp.rela. prefix but not SHF_RELA_LIVEPATCH")
                    .section(sec_name.clone()),
            );
        }
        if section.sh_type != oelf::SHT_RELA.0 {
            plan.problems.push(
                Problem::error("livepatch relocation section is not SHT_RELA")
                    .section(sec_name.clone()),
            );
        }
    }

    if !uses_symtab && !annotations.is_empty() && section.relocs.iter().any(|r| r.sym != 0) {
        plan.problems.push(
            Problem::error(format!(
                "relocation section is linked to section {} instead of .symtab; cannot tell \
                 which symbols it uses",
                section.link
            ))
            .section(sec_name.clone()),
        );
    }
    let target = module
        .section(section.info as usize)
        .filter(|_| section.info != 0);
    // Moved relocations go to .klp.rela.<obj>.<target name>, a name the
    // kernel must parse back; check the target's part once.
    let target_name_error = target
        .and_then(|t| names::parse_klp_rela(&names::klp_rela_name(names::VMLINUX, t.name)).err());
    for (entry, reloc) in section.relocs.iter().enumerate() {
        if reloc.sym == 0 || !uses_symtab {
            continue;
        }
        let here = || {
            Problem::error("")
                .section(sec_name.clone())
                .offset(reloc.offset)
        };
        let Some(sym) = module.symbol(reloc.sym) else {
            let mut p = here();
            p.message = format!("invalid symbol index {}", reloc.sym);
            plan.problems.push(p);
            continue;
        };
        // Names are decoded only for messages: most relocations have none.
        let problem = |msg: String| {
            let mut p = here().symbol(sym.display_name());
            p.message = msg;
            p
        };

        if is_klp_section {
            if sym.shndx != SHN_LIVEPATCH {
                plan.problems.push(problem(
                    "relocation in a livepatch relocation section against a symbol that is \
                     not a livepatch symbol (SHN_LIVEPATCH)"
                        .to_string(),
                ));
            } else if let (Ok((obj, _)), Ok(target)) = (
                names::parse_klp_rela(section.name),
                names::parse_klp_symbol(sym.name),
            ) {
                if obj != names::VMLINUX && target.is_vmlinux() {
                    plan.problems.push(problem(format!(
                        "vmlinux symbol in module-specific livepatch relocation section; the \
                         kernel (since v5.8) requires it in a .klp.rela.vmlinux. section, not \
                         .klp.rela.{obj}."
                    )));
                }
            }
            continue;
        }
        if sym.shndx == SHN_LIVEPATCH {
            plan.problems.push(problem(
                "relocation against a livepatch symbol in an ordinary relocation section; \
                 the module loader would apply it with a bogus value"
                    .to_string(),
            ));
            continue;
        }
        let Some(annotation) = annotations.get(&sym.index) else {
            continue;
        };
        if section.sh_type != oelf::SHT_RELA.0 {
            plan.problems.push(problem(
                "annotated symbol referenced from a SHT_REL section; livepatch relocations \
                 must be SHT_RELA"
                    .to_string(),
            ));
            continue;
        }
        let Some(target) = target else {
            plan.problems.push(problem(
                "relocation section does not name the section it relocates (sh_info)".to_string(),
            ));
            continue;
        };
        let target_name = target.display_name();
        if !target.is_alloc() {
            plan.problems.push(problem(format!(
                "annotated symbol referenced from non-allocated section {target_name}; the \
                 kernel applies livepatch relocations only to allocated sections"
            )));
            continue;
        }
        if let Some(e) = &target_name_error {
            plan.problems.push(problem(format!(
                "section {} (index {}), which the annotated symbol's relocation applies to, \
                 cannot be named in a .klp.rela.<obj>.<section> section: {e}",
                target_name, target.index
            )));
            continue;
        }
        let obj = annotation.rela_object();
        let late = obj != names::VMLINUX;
        if late && matches_early(&target_name) {
            plan.problems.push(problem(format!(
                "module-specific livepatch relocation in {target_name}, which the kernel \
                 processes when the patch module loads, before {obj} relocations are applied; \
                 move the reference out of that section (e.g. no jump labels, alternatives, \
                 exception table entries or __init code using it)"
            )));
            continue;
        }
        if late && is_read_only(target) {
            plan.problems.push(Problem {
                severity: crate::error::Severity::Warning,
                ..problem(format!(
                    "module-specific livepatch relocation in read-only section {target_name}; \
                     it is written after the module is write-protected, which fails on some \
                     architectures"
                ))
            });
        }
        if let Some(arch) = arch {
            let site = RelocSite {
                r_type: reloc.r_type,
                offset: reloc.offset,
                data: target.data,
                big_endian: module.big_endian,
            };
            if let Err(msg) = arch.check(&site) {
                plan.problems.push(problem(msg));
                continue;
            }
        }
        plan.moves.push(Move {
            from: section.index,
            entry,
            target: target.index,
            reloc,
            to: names::klp_rela_name(obj, target.name),
        });
    }
}

/// Clear SHF_ALLOC in the header of section `index` of a copy of the file.
///
/// object::build::elf reads allocated relocation sections as dynamic
/// relocations, which may not reference .symtab; livepatch relocation
/// sections are allocated and do. The flag is restored after reading.
fn clear_alloc_flag(data: &mut [u8], module: &Module<'_>, index: usize) -> Result<(), Error> {
    let header = (index as u64)
        .checked_mul(module.shentsize)
        .and_then(|o| o.checked_add(module.shoff))
        .and_then(|o| o.checked_add(8))
        .ok_or_else(|| Error::Build("section header offset overflow".into()))?;
    // sh_flags follows sh_name and sh_type; its least significant byte
    // holds SHF_ALLOC.
    let lsb = if module.big_endian {
        header.checked_add(module.addr_size() - 1)
    } else {
        Some(header)
    };
    let byte = lsb
        .and_then(|lsb| usize::try_from(lsb).ok())
        .and_then(|i| data.get_mut(i))
        .ok_or_else(|| Error::Build("section header outside the file".into()))?;
    *byte &= !(oelf::SHF_ALLOC.0 as u8);
    Ok(())
}

/// Apply `plan` to the file `data` (parsed as `module`).
pub fn rewrite(data: &[u8], module: &Module<'_>, plan: &Plan) -> Result<Vec<u8>, Error> {
    // A copy of the file is needed only to clear flags in it.
    let mut copy = std::borrow::Cow::Borrowed(data);
    let mut realloc = Vec::new();
    for s in &module.sections {
        if s.is_reloc() && s.is_alloc() && s.link as usize == module.symtab {
            clear_alloc_flag(copy.to_mut(), module, s.index)?;
            realloc.push(s.index);
        }
    }
    // object::build::elf trusts sh_addralign when laying out the output,
    // padding the file to it. A linker places a section at an offset that
    // is a multiple of its alignment, so an alignment beyond the file size
    // (and the largest page size, 64 KiB) comes from a corrupt header and
    // would make the output gigabytes of padding.
    let max_align = (data.len() as u64).max(1 << 16);
    for s in &module.sections {
        if s.addralign > 1 && (!s.addralign.is_power_of_two() || s.addralign > max_align) {
            return Err(Error::Build(format!(
                "section {} has an invalid alignment 0x{:x}",
                s.display_name(),
                s.addralign
            )));
        }
    }
    // Each alignment may be fine and their sum not: the writer pads every
    // section with file contents to its alignment, so 200 sections aligned
    // to the size of an 11 MB file made a 2.1 GB output. A linker's output
    // holds that padding already; allow as much again, plus 1 MiB.
    let padding: u64 = module
        .sections
        .iter()
        .filter(|s| s.index != 0 && s.sh_type != oelf::SHT_NOBITS.0)
        .map(|s| s.addralign.saturating_sub(1))
        .fold(0u64, u64::saturating_add);
    let budget = (data.len() as u64).saturating_add(PADDING_MARGIN);
    if padding > budget {
        return Err(Error::Build(format!(
            "the section alignments add up to 0x{padding:x} bytes of possible padding, more \
             than the {budget} bytes (the input's size + 1 MiB) a module can need: corrupt \
             sh_addralign values"
        )));
    }
    // The writer is not expected to panic, but a module must never be
    // lost to a bug in it: turn a panic into an error.
    let result = std::panic::catch_unwind(|| rewrite_with_builder(&copy, module, plan, &realloc));
    let out = match result {
        Ok(r) => r?,
        Err(_) => {
            return Err(Error::Build(
                "internal error in the ELF writer (object::build::elf)".to_string(),
            ))
        }
    };
    let max = max_output(data.len() as u64);
    if out.len() as u64 > max {
        return Err(Error::Build(format!(
            "the output would be {} bytes, more than the {max} bytes (twice the input + 4 \
             MiB) a conversion may produce",
            out.len()
        )));
    }
    Ok(out)
}

/// Alignment padding allowed beyond the input's size.
const PADDING_MARGIN: u64 = 1 << 20;

/// The largest output for an input of `input` bytes: twice its size plus
/// 4 MiB (a conversion moves relocations and renames symbols; the output
/// is about the input's size).
pub fn max_output(input: u64) -> u64 {
    input.saturating_mul(2).saturating_add(4 << 20)
}

fn rewrite_with_builder(
    copy: &[u8],
    module: &Module<'_>,
    plan: &Plan,
    realloc: &[usize],
) -> Result<Vec<u8>, Error> {
    let mut builder = Builder::read(copy)
        .map_err(|e| Error::Build(format!("object::build::elf cannot read the file: {e}")))?;
    for s in builder.sections.iter_mut() {
        if s.sh_addralign == 0 {
            s.sh_addralign = 1;
        }
    }

    let section_ids: Vec<SectionId> = builder.sections.iter().map(|s| s.id()).collect();
    let symbol_ids: Vec<SymbolId> = builder.symbols.iter().map(|s| s.id()).collect();
    let section_id = |index: usize| -> Result<SectionId, Error> {
        index
            .checked_sub(1)
            .and_then(|i| section_ids.get(i))
            .copied()
            .ok_or_else(|| Error::Build(format!("no section with index {index}")))
    };
    let symbol_id = |index: usize| -> Result<SymbolId, Error> {
        index
            .checked_sub(1)
            .and_then(|i| symbol_ids.get(i))
            .copied()
            .ok_or_else(|| Error::Build(format!("no symbol with index {index}")))
    };

    for &index in realloc {
        let s = builder.sections.get_mut(section_id(index)?);
        s.sh_flags = oelf::SectionFlags(s.sh_flags.0 | oelf::SHF_ALLOC.0);
    }
    // Keep sh_info of relocation sections right when section indices change,
    // even where SHF_INFO_LINK is missing.
    for s in &module.sections {
        if s.is_reloc() && s.info != 0 {
            let id = section_id(s.info as usize)?;
            let section = builder.sections.get_mut(section_id(s.index)?);
            if section.sh_info_section.is_none() {
                section.sh_info_section = Some(id);
            }
        }
    }

    for change in &plan.symbols {
        let sym = builder.symbols.get_mut(symbol_id(change.index)?);
        sym.name = change.new_name().into_bytes().into();
        sym.section = None;
        sym.st_shndx = oelf::SymbolSection(SHN_LIVEPATCH);
        sym.set_st_info(oelf::STB_GLOBAL, oelf::STT_NOTYPE);
        sym.st_value = 0;
        sym.st_size = 0;
    }

    // Take the moved entries out of their sections.
    let mut by_section: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for m in &plan.moves {
        by_section.entry(m.from).or_default().insert(m.entry);
    }
    let mut moved: BTreeMap<(usize, usize), object::build::elf::Relocation> = BTreeMap::new();
    for (from, entries) in &by_section {
        let expected = module.section(*from).map(|s| s.relocs.len()).unwrap_or(0);
        let section = builder.sections.get_mut(section_id(*from)?);
        let SectionData::Relocation(relocs) = &mut section.data else {
            return Err(Error::Build(format!(
                "section {} is not a relocation section against .symtab",
                section.name
            )));
        };
        if relocs.len() != expected {
            return Err(Error::Build(format!(
                "section {}: {} relocations read, {} expected",
                section.name,
                relocs.len(),
                expected
            )));
        }
        let old = std::mem::take(relocs);
        for (i, r) in old.into_iter().enumerate() {
            if entries.contains(&i) {
                moved.insert((*from, i), r);
            } else {
                relocs.push(r);
            }
        }
        if relocs.is_empty() {
            section.delete = true;
        }
    }

    // Put them into livepatch relocation sections, existing or new, in
    // the order of the input.
    let symtab = section_id(module.symtab)?;
    // Group the moves by destination in one pass (a module may have
    // thousands of sections and 100k relocations: no nested scans), in
    // the order of first appearance.
    let mut order: Vec<(&[u8], usize)> = Vec::new();
    let mut groups: HashMap<(&[u8], usize), Vec<object::build::elf::Relocation>> = HashMap::new();
    for m in &plan.moves {
        let key = (m.to.as_slice(), m.target);
        let group = groups.entry(key).or_insert_with(|| {
            order.push(key);
            Vec::new()
        });
        if let Some(r) = moved.remove(&(m.from, m.entry)) {
            group.push(r);
        }
    }
    let mut livepatch_sections: HashMap<(&[u8], usize), usize> = HashMap::new();
    for s in module.sections.iter().filter(|s| s.is_livepatch()) {
        livepatch_sections
            .entry((s.name, s.info as usize))
            .or_insert(s.index);
    }
    for key in order {
        let (name, target) = key;
        let relocs = groups.remove(&key).unwrap_or_default();
        let existing = livepatch_sections.get(&key).copied();
        if let Some(index) = existing {
            let section = builder.sections.get_mut(section_id(index)?);
            if let SectionData::Relocation(old) = &mut section.data {
                old.extend(relocs);
                continue;
            }
            return Err(Error::Build(format!(
                "cannot append to livepatch relocation section {}",
                section.name
            )));
        }
        let target_id = section_id(target)?;
        let entsize = module.rela_entsize();
        let align = module.addr_size();
        let section = builder.sections.add();
        section.name = name.to_vec().into();
        section.sh_type = oelf::SHT_RELA;
        section.sh_flags =
            oelf::SectionFlags(oelf::SHF_ALLOC.0 | oelf::SHF_INFO_LINK.0 | SHF_RELA_LIVEPATCH);
        section.sh_link_section = Some(symtab);
        section.sh_info_section = Some(target_id);
        section.sh_addralign = align;
        section.sh_entsize = entsize;
        section.data = SectionData::Relocation(relocs);
    }

    // The writer reserves the exact size; a capacity given here would
    // make that reserve double it.
    let mut out = Vec::new();
    builder
        .write(&mut out)
        .map_err(|e| Error::Build(format!("object::build::elf cannot write the file: {e}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_and_read_only_sections() {
        assert!(matches_early("__jump_table"));
        assert!(matches_early(".init.text"));
        assert!(matches_early(".orc_unwind_ip"));
        assert!(matches_early("__patchable_function_entries"));
        assert!(!matches_early(".text"));
        assert!(!matches_early(".data"));
    }

    use crate::testutil::object;

    const ANN: &str = ".klp.sym.rela.vmlinux.vmlinux.x,0";

    fn plan_for(
        modinfo: &[u8],
        undefined: &[&str],
        relocs: &[crate::testutil::TestReloc<'_>],
    ) -> Plan {
        let data = object(modinfo, undefined, relocs);
        plan(&Module::parse(&data).unwrap())
    }

    fn messages(p: &Plan) -> Vec<String> {
        p.problems.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn plans_moves() {
        let p = plan_for(
            b"livepatch=Y\0",
            &[ANN],
            &[(4, ANN, 2, -4), (12, ANN, 1, 0)],
        );
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.symbols.len(), 1);
        assert_eq!(p.symbols[0].new_name(), ".klp.sym.vmlinux.x,0");
        assert_eq!(p.moves.len(), 2);
        assert_eq!(p.moves[1].entry, 1);
        assert_eq!(p.moves[0].to, b".klp.rela.vmlinux..text");
    }

    #[test]
    fn never_converts_toc() {
        let toc = ".klp.sym.rela.vmlinux.vmlinux..TOC.,0";
        let p = plan_for(b"livepatch=Y\0", &[toc], &[(4, toc, 1, 0)]);
        let m = messages(&p);
        assert!(m[0].contains(".TOC. is the module's own TOC base"), "{m:?}");
        assert!(p.symbols.is_empty());
    }

    #[test]
    fn needs_livepatch_modinfo() {
        let p = plan_for(b"license=GPL\0", &[ANN], &[(4, ANN, 2, -4)]);
        let m = messages(&p);
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("no livepatch=Y in .modinfo"), "{m:?}");
        assert!(
            m[0].contains("symbol .klp.sym.rela.vmlinux.vmlinux.x,0"),
            "{m:?}"
        );
    }

    #[test]
    fn nothing_to_do_without_annotations() {
        let p = plan_for(b"", &["printk"], &[(4, "printk", 4, -4)]);
        assert!(p.is_empty() && p.problems.is_empty());
    }

    #[test]
    fn rejects_stray_livepatch_symbol() {
        let p = plan_for(
            b"livepatch=Y\0",
            &[".klp.sym.vmlinux.x,0"],
            &[(4, ".klp.sym.vmlinux.x,0", 2, -4)],
        );
        let m = messages(&p);
        assert!(
            m[0].contains("section .rela.text, offset 0x4, symbol .klp.sym.vmlinux.x,0"),
            "{m:?}"
        );
        assert!(m[0].contains("ordinary relocation section"), "{m:?}");
    }

    #[test]
    fn rejects_unsupported_type_with_location() {
        let p = plan_for(b"livepatch=Y\0", &[ANN], &[(8, ANN, 9, -4)]);
        let m = messages(&p);
        assert_eq!(
            m,
            ["error: section .rela.text, offset 0x8, symbol .klp.sym.rela.vmlinux.vmlinux.x,0: \
              relocation type R_X86_64_GOTPCREL is not supported in livepatch relocations on x86_64"]
        );
        assert!(p.has_errors());
    }

    #[test]
    fn read_only_is_a_warning() {
        let data = object(b"", &[], &[]);
        let m = Module::parse(&data).unwrap();
        let text = m.section_by_name(b".text").unwrap();
        assert!(!is_read_only(text));
        let info = m.section_by_name(b".modinfo").unwrap();
        assert!(is_read_only(info));
    }

    #[test]
    fn empty_plan_rewrite_keeps_content() {
        let data = object(b"livepatch=Y\0", &["printk"], &[(4, "printk", 4, -4)]);
        let m = Module::parse(&data).unwrap();
        let out = rewrite(&data, &m, &Plan::default()).unwrap();
        let again = Module::parse(&out).unwrap();
        assert_eq!(crate::dump::dump(&m), crate::dump::dump(&again));
    }
}
