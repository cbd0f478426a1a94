// SPDX-License-Identifier: GPL-2.0-only
//! Validation and conversion of annotated livepatch references.
//!
//! [`plan`] reads a [`Module`] and decides, without changing anything,
//! which symbols are renamed and which relocations move to which
//! `.klp.rela.` section, collecting every problem on the way.
//! [`layout`] then lays the converted file out (crate::write): what the
//! plan changes is made anew, everything else is written from the input's
//! bytes; [`Output::check`] verifies that nothing annotated is left and
//! [`Output::emit`] writes the file in one pass.
//!
//! The state kept per relocation is a 12-byte [`Move`] for each one that
//! moves, and per symbol a byte of flags: names are parsed once per
//! symbol and per section, and nothing is allocated per relocation.

use std::collections::HashMap;

use object::elf as oelf;

use crate::arch::{self, RelocSite};
use crate::elf::{Module, Section, Symbol, SHN_LIVEPATCH};
use crate::error::{Error, Problem};
use crate::names::{self, Annotation, Fields, Prefix, Request, Wanted};
use crate::write::Layout;

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

fn matches_early(name: &[u8]) -> bool {
    EARLY_SECTIONS.iter().any(|s| s.as_bytes() == name)
        || EARLY_PREFIXES
            .iter()
            .any(|p| name.starts_with(p.as_bytes()))
}

fn is_read_only(section: &Section<'_>) -> bool {
    RO_PREFIXES
        .iter()
        .any(|p| section.name.starts_with(p.as_bytes()))
        || section.flags & (oelf::SHF_WRITE.0 | oelf::SHF_EXECINSTR.0) == 0
}

/// One annotated symbol to rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolChange {
    /// Symbol table index.
    pub index: usize,
    /// The object of the `.klp.rela.<obj>.` sections its relocations go
    /// to: an index into [`Plan::objects`].
    object: u32,
    /// Where its new name lies after [`names::SYMBOL_PREFIX`].
    name: NameAt,
}

/// Where the bytes of a new name that follow [`names::SYMBOL_PREFIX`]
/// lie: most annotations end with them already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameAt {
    /// In [`Plan::names`], from `.0` to `.1`.
    Names(u32, u32),
    /// At the end of the symbol's old name, from byte `.0`.
    Old(u32),
}

/// One relocation to move into a livepatch relocation section: 12 bytes,
/// the only state kept per relocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Move {
    /// Index of the relocation section that holds it now.
    pub from: u32,
    /// Entry number in that section.
    pub entry: u32,
    /// The destination: an index into [`Plan::dests`].
    pub dest: u32,
}

/// A moved relocation the architecture rewrites into a form its module
/// loader applies ([`arch::Rewrite`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewritten {
    /// The relocation, as in [`Move`].
    pub from: u32,
    /// Its entry number.
    pub entry: u32,
    /// The relocated section.
    pub target: usize,
    /// The relocated offset in it.
    pub offset: u64,
    /// What changes.
    pub rewrite: arch::Rewrite,
}

/// A livepatch relocation section that receives moved relocations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dest {
    /// The `<obj>` of its name, `.klp.rela.<obj>.<section>`: an index into
    /// [`Plan::objects`] ([`Plan::dest_name`] makes the name).
    pub object: u32,
    /// Index of the relocated section.
    pub target: usize,
    /// An existing livepatch relocation section of that name and target,
    /// which is extended; None: a new section.
    pub existing: Option<usize>,
}

/// What a conversion will do, and what is wrong with the input.
#[derive(Debug, Default)]
pub struct Plan {
    /// Symbols to rename, in symbol table order.
    pub symbols: Vec<SymbolChange>,
    /// Relocations to move, in the order of the file (by section, then
    /// entry).
    pub moves: Vec<Move>,
    /// Where they go, in order of first use.
    pub dests: Vec<Dest>,
    /// The moves that are rewritten, in the order of `moves`.
    pub rewrites: Vec<Rewritten>,
    /// The new names of the symbols, one after the other.
    pub names: Vec<u8>,
    /// The objects of the destinations.
    pub objects: Vec<String>,
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

    /// The name of a renamed symbol of `module` after conversion, its
    /// [`names::SYMBOL_PREFIX`] left out: the bytes that follow it.
    pub fn new_name_tail<'a>(&'a self, module: &'a Module<'_>, change: &SymbolChange) -> &'a [u8] {
        match change.name {
            NameAt::Names(start, end) => self.names.get(start as usize..end as usize),
            NameAt::Old(at) => module
                .symbols
                .get(change.index)
                .and_then(|s| s.name.get(at as usize..)),
        }
        .unwrap_or_default()
    }

    /// The name of a renamed symbol of `module` after conversion.
    pub fn new_name(&self, module: &Module<'_>, change: &SymbolChange) -> Vec<u8> {
        [
            names::SYMBOL_PREFIX.as_bytes(),
            self.new_name_tail(module, change),
        ]
        .concat()
    }

    /// The object of a destination.
    pub fn object(&self, dest: &Dest) -> &str {
        self.objects
            .get(dest.object as usize)
            .map_or(names::VMLINUX, String::as_str)
    }

    /// Append the name of a destination, `.klp.rela.<obj>.<section>`, to
    /// `out`.
    pub fn push_dest_name(&self, module: &Module<'_>, dest: &Dest, out: &mut Vec<u8>) {
        let section = module.section(dest.target).map_or(&[][..], |s| s.name);
        names::push_klp_rela_name(out, self.object(dest), section);
    }

    /// The name of a destination.
    pub fn dest_name(&self, module: &Module<'_>, dest: &Dest) -> Vec<u8> {
        let mut name = Vec::new();
        self.push_dest_name(module, dest, &mut name);
        name
    }

    /// One line per change, for --verbose and --dry-run.
    pub fn describe(&self, module: &Module<'_>) -> Vec<String> {
        let mut lines = Vec::new();
        for s in &self.symbols {
            let old = module
                .symbols
                .get(s.index)
                .map(|s| s.display_name())
                .unwrap_or_default();
            let new = String::from_utf8_lossy(&self.new_name(module, s)).into_owned();
            lines.push(format!("symbol {old} -> {new}"));
        }
        for m in &self.moves {
            let from = module.section(m.from as usize);
            let Some(reloc) = from.and_then(|s| s.relocs.get(m.entry as usize)) else {
                continue;
            };
            let sym = module
                .symbol(reloc.sym)
                .map(|s| s.display_name())
                .unwrap_or_default();
            let to = self
                .dests
                .get(m.dest as usize)
                .map(|d| String::from_utf8_lossy(&self.dest_name(module, d)).into_owned())
                .unwrap_or_default();
            lines.push(format!(
                "relocation {}+0x{:x} {} {} -> {}",
                from.map(Section::display_name).unwrap_or_default(),
                reloc.offset,
                arch::type_name(module.machine, reloc.r_type),
                sym,
                to
            ));
        }
        lines
    }
}

/// The annotated symbols a plan converts, found once per symbol.
#[derive(Default)]
struct Annotated {
    /// Per symbol table index: the id of the object of the
    /// `.klp.rela.<obj>.` sections its relocations go to, or [`NONE`] if
    /// it is not converted.
    of: Vec<u32>,
    /// How many are (the plan's symbols, in symbol order).
    count: usize,
    /// Those objects.
    objects: Vec<String>,
}

const NONE: u32 = u32::MAX;

impl Annotated {
    fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The object id of an annotated symbol.
    fn get(&self, sym: usize) -> Option<u32> {
        self.of.get(sym).copied().filter(|id| *id != NONE)
    }

    /// The id of object `obj`, made on its first use.
    fn object_id(&mut self, obj: &[u8]) -> u32 {
        match self.objects.iter().position(|o| o.as_bytes() == obj) {
            Some(id) => id as u32,
            None => {
                self.objects.push(String::from_utf8_lossy(obj).into_owned());
                (self.objects.len() - 1) as u32
            }
        }
    }

    /// Append `parts`, each annotated on its own (its `of` unused) from
    /// symbols after the one before's, with their plans (symbols, names
    /// and problems), to this and `plan`, as if they had been annotated
    /// here. The symbols move to their places side by side.
    fn join(&mut self, plan: &mut Plan, parts: Vec<(Annotated, Plan)>) {
        let mut ids = Vec::with_capacity(parts.len());
        let mut bases = Vec::with_capacity(parts.len());
        let mut symbols = Vec::with_capacity(parts.len() + 1);
        symbols.push(std::mem::take(&mut plan.symbols));
        for (part, part_plan) in parts {
            let part_ids: Vec<u32> = part
                .objects
                .iter()
                .map(|o| self.object_id(o.as_bytes()))
                .collect();
            ids.push(part_ids);
            bases.push(u32::try_from(plan.names.len()).unwrap_or(u32::MAX));
            plan.names.extend_from_slice(&part_plan.names);
            plan.problems.extend(part_plan.problems);
            symbols.push(part_plan.symbols);
        }
        // Part k + 1 of `symbols` is parts[k]'s; the first, the plan's own.
        plan.symbols = crate::par::concat(true, symbols, |k, mut change| {
            let Some(k) = k.checked_sub(1) else {
                return change;
            };
            if let Some(id) = ids.get(k).and_then(|ids| ids.get(change.object as usize)) {
                change.object = *id;
            }
            if let NameAt::Names(start, end) = change.name {
                let base = bases.get(k).copied().unwrap_or(0);
                change.name = NameAt::Names(start.saturating_add(base), end.saturating_add(base));
            }
            change
        });
        for change in &plan.symbols {
            if let Some(slot) = self.of.get_mut(change.index) {
                *slot = change.object;
            }
        }
        self.count = plan.symbols.len();
    }

    /// Add symbol `sym`, converted as `annotation` says, to the plan's
    /// symbols.
    fn add(&mut self, plan: &mut Plan, sym: usize, old: &[u8], annotation: &Fields<'_>) {
        let object = self.object_id(annotation.rela_object());
        if let Some(slot) = self.of.get_mut(sym) {
            *slot = object;
        }
        self.count += 1;
        if let Some(at) = names::new_name_in(old, annotation) {
            plan.symbols.push(SymbolChange {
                index: sym,
                object,
                name: NameAt::Old(at),
            });
            return;
        }
        let start = plan.names.len();
        annotation.push_klp_symbol_name(&mut plan.names);
        // Where the annotation ends with the new name's bytes after the
        // prefix, they are written from there: the plan keeps none.
        let start = start + names::SYMBOL_PREFIX.len();
        let made = plan.names.get(start..).unwrap_or_default();
        let name = match old.len().checked_sub(made.len()) {
            Some(at) if old.get(at..) == Some(made) && u32::try_from(at).is_ok() => {
                plan.names.truncate(start - names::SYMBOL_PREFIX.len());
                NameAt::Old(at as u32)
            }
            _ => NameAt::Names(start as u32, plan.names.len() as u32),
        };
        plan.symbols.push(SymbolChange {
            index: sym,
            object,
            name,
        });
    }
}

/// The destinations of a plan, created once per object and target.
#[derive(Default)]
struct Dests<'data> {
    /// Per target section: 1 + the last destination made for it, 0 for
    /// none. Zeroed memory, touched only where a section has one.
    first: Vec<u32>,
    /// Per destination: 1 + the one made before it for the same target,
    /// 0 for none. A section has a destination per object at most.
    next: Vec<u32>,
    /// Existing livepatch relocation sections by name and target.
    existing: Option<HashMap<(&'data [u8], usize), usize>>,
}

impl<'data> Dests<'data> {
    fn get(
        &mut self,
        module: &Module<'data>,
        plan: &mut Plan,
        annotated: &Annotated,
        obj: u32,
        target: &Section<'data>,
    ) -> u32 {
        if let Some(d) = self.find(plan, obj, target.index) {
            return d;
        }
        let existing = self.existing.get_or_insert_with(|| {
            let mut m = HashMap::new();
            for s in module.sections.iter().filter(|s| s.is_livepatch()) {
                m.entry((s.name, s.info as usize)).or_insert(s.index);
            }
            m
        });
        let existing = if existing.is_empty() {
            None
        } else {
            let object = annotated
                .objects
                .get(obj as usize)
                .map_or(names::VMLINUX, String::as_str);
            let name = names::klp_rela_name(object, target.name);
            existing.get(&(name.as_slice(), target.index)).copied()
        };
        let d = plan.dests.len() as u32;
        plan.dests.push(Dest {
            object: obj,
            target: target.index,
            existing,
        });
        self.record(module, target.index, d);
        d
    }

    /// The destination of object `obj` for section `target` in `plan`.
    fn find(&self, plan: &Plan, obj: u32, target: usize) -> Option<u32> {
        let mut d = self.first.get(target).copied().unwrap_or(0);
        while let Some(i) = d.checked_sub(1) {
            if plan.dests.get(i as usize)?.object == obj {
                return Some(i);
            }
            d = self.next.get(i as usize).copied().unwrap_or(0);
        }
        None
    }

    /// Destination `d`, the last of the plan's, is for section `target`.
    fn record(&mut self, module: &Module<'data>, target: usize, d: u32) {
        if self.first.is_empty() {
            self.first = vec![0; module.sections.len()];
        }
        let Some(first) = self.first.get_mut(target) else {
            return;
        };
        self.next.push(*first);
        *first = d + 1;
    }

    /// Append `part`, planned with destinations of its own from the
    /// sections after this plan's, to `plan`: the destinations both have
    /// become one, the new ones come after this plan's, as if one plan
    /// had seen all the sections in order. Its moves are not in `part`:
    /// the result maps their destinations to the plan's.
    fn join(&mut self, module: &Module<'data>, plan: &mut Plan, part: Plan) -> Vec<u32> {
        let mut map = Vec::with_capacity(part.dests.len());
        for dest in part.dests {
            let d = self
                .find(plan, dest.object, dest.target)
                .unwrap_or_else(|| {
                    let d = plan.dests.len() as u32;
                    let target = dest.target;
                    plan.dests.push(dest);
                    self.record(module, target, d);
                    d
                });
            map.push(d);
        }
        plan.rewrites.extend(part.rewrites);
        plan.problems.extend(part.problems);
        map
    }
}

/// Decide what to convert and check everything the kernel will check
/// later, and more.
pub fn plan(module: &Module<'_>) -> Plan {
    plan_without_map(module, &[])
}

/// The annotation without a symbol map: the name must say everything.
pub fn resolve_without_map(wanted: Wanted<'_>) -> (Option<Annotation<'_>>, Vec<Problem>) {
    match wanted {
        Wanted::Name(name) => match names::parse_annotation(name) {
            Ok(a) => (Some(a), Vec::new()),
            Err(e) => (None, vec![Problem::error(e.to_string())]),
        },
        Wanted::Request(req) => match req.explicit() {
            Some(a) => (Some(a), Vec::new()),
            None => (
                None,
                vec![Problem::error(format!(
                    "undefined symbol {} is neither exported nor annotated: give the target's \
                     symbols (KLP_SYMBOLS=, klp-convert --symbols: a /proc/kallsyms dump, \
                     System.map, vmlinux, the module's .ko) to resolve it, or annotate it with \
                     KLP_RELOC_SYMBOL()",
                    req.name
                ))],
            ),
        },
    }
}

/// Turns a symbol to convert into the annotation to convert it with (None
/// if it cannot be), with the problems found; e.g. a check against the
/// target's symbols (crate::symmap_check).
pub type Resolve<'a> = dyn FnMut(Wanted<'_>) -> (Option<Annotation<'_>>, Vec<Problem>) + 'a;

/// [`plan`], with annotated names resolved by `resolve`, and `extra`
/// symbols, whose names are plain, converted as their requests say.
pub fn plan_with(
    module: &Module<'_>,
    resolve: &mut Resolve<'_>,
    extra: &[(usize, Request<'_>)],
) -> Plan {
    plan_split(module, Some(resolve), extra, crate::par::MIN_SPLIT)
}

/// [`plan_with`] [`resolve_without_map`].
pub fn plan_without_map(module: &Module<'_>, extra: &[(usize, Request<'_>)]) -> Plan {
    plan_split(module, None, extra, crate::par::MIN_SPLIT)
}

/// [`plan_with`], by `resolve` or, if None, [`resolve_without_map`], with
/// the relocation sections planned in two halves when each has
/// `min_split` relocations or more.
fn plan_split(
    module: &Module<'_>,
    resolve: Option<&mut Resolve<'_>>,
    extra: &[(usize, Request<'_>)],
    min_split: usize,
) -> Plan {
    let mut plan = Plan::default();
    let mut annotations = Annotated {
        of: vec![NONE; module.symbols.len()],
        ..Annotated::default()
    };
    // One look at every symbol and its name; the loops below visit the
    // few that matter.
    let mut kinds = symbol_kinds(module, min_split);
    // Counted first: tens of thousands of annotated symbols would
    // otherwise be copied as the list grows.
    let count = |bits: u8| kinds.iter().filter(|k| *k & bits != 0).count();
    let mut annotated = Vec::with_capacity(count(KIND_ANNOTATION_NAME));
    let mut klp = Vec::with_capacity(count(KIND_LIVEPATCH | KIND_KLP_NAME));
    for (i, k) in kinds.iter().enumerate() {
        if k & KIND_ANNOTATION_NAME != 0 {
            annotated.push((i, None));
        }
        if k & (KIND_LIVEPATCH | KIND_KLP_NAME) != 0 {
            klp.push(i);
        }
    }
    if !extra.is_empty() {
        // The plan's symbols go in symbol order.
        annotated.extend(extra.iter().map(|(i, r)| (*i, Some(r))));
        annotated.sort_by_key(|(i, _)| *i);
        annotated.dedup_by_key(|(i, _)| *i);
    }

    // The annotated symbols themselves: without a map or requests, in
    // parts side by side, joined in order.
    let parts = crate::par::parts(annotated.len(), min_split / 8);
    if resolve.is_none() && extra.is_empty() && parts > 1 {
        let size = annotated.len().div_ceil(parts);
        let done = crate::par::each(true, annotated.chunks(size).collect(), |items| {
            let (mut part, mut part_plan) = (Annotated::default(), Plan::default());
            part_plan.symbols.reserve_exact(items.len());
            annotate(module, None, items, &mut part, &mut part_plan);
            (part, part_plan)
        });
        annotations.join(&mut plan, done);
    } else {
        // Sized exactly: a module may have tens of thousands.
        plan.symbols.reserve_exact(annotated.len());
        annotate(module, resolve, &annotated, &mut annotations, &mut plan);
    }
    for change in &plan.symbols {
        if let Some(kind) = kinds.get_mut(change.index) {
            *kind |= KIND_ANNOTATED;
        }
    }

    let arch = arch::for_machine(module.machine, module.is_64);
    if !annotations.is_empty() {
        if !module.is_livepatch() {
            let first = plan
                .symbols
                .first()
                .and_then(|c| module.symbols.get(c.index))
                .map(|s| s.display_name())
                .unwrap_or_default();
            plan.problems.push(
                Problem::error(format!(
                    "the module carries {} annotated livepatch symbol(s) but no livepatch=Y in \
                     .modinfo; add MODULE_INFO(livepatch, \"Y\")",
                    annotations.count
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

    let klp_vmlinux = KlpSymbols::new(module, &klp);
    let ctx = Context {
        module,
        kinds,
        annotations: &annotations,
        klp_vmlinux: &klp_vmlinux,
        arch,
    };
    // The sections in parts of about as many relocations each, planned
    // on their own and joined in order.
    let total: usize = module.sections.iter().map(|s| s.relocs.len()).sum();
    let parts = crate::par::parts(total, min_split);
    if parts < 2 {
        let mut moves = Vec::new();
        plan_sections(
            &ctx,
            &module.sections,
            &mut Dests::default(),
            &mut plan,
            &mut moves,
        );
        plan.moves = moves;
    } else {
        let mut cuts = Vec::with_capacity(parts);
        let (mut seen, mut from) = (0usize, 0usize);
        for (i, s) in module.sections.iter().enumerate() {
            seen += s.relocs.len();
            if cuts.len() + 1 < parts && seen * parts >= total * (cuts.len() + 1) {
                cuts.push(module.sections.get(from..=i).unwrap_or_default());
                from = i + 1;
            }
        }
        cuts.push(module.sections.get(from..).unwrap_or_default());
        plan_parts(&ctx, &cuts, &mut plan);
    }
    plan.objects = std::mem::take(&mut annotations.objects);

    // Already converted symbols must be well formed.
    for sym in klp.iter().filter_map(|i| module.symbols.get(*i)) {
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

    plan
}

/// Check the annotated symbols `items` (in symbol order) and add those to
/// convert to `annotations` and `plan`, with the problems found; by
/// `resolve`, or without a symbol map if None.
fn annotate(
    module: &Module<'_>,
    mut resolve: Option<&mut Resolve<'_>>,
    items: &[(usize, Option<&Request<'_>>)],
    annotations: &mut Annotated,
    plan: &mut Plan,
) {
    for (index, sym, req) in items
        .iter()
        .filter_map(|(i, r)| module.symbols.get(*i).map(|s| (*i, s, *r)))
    {
        // Decoded for messages only.
        let name = || sym.display_name();
        // Without a map, an annotation as a compiler emits it is read in
        // place; anything else is resolved, and explained if it fails.
        let fast = match (&resolve, req) {
            (None, None) => names::parse_fields(sym.name),
            _ => None,
        };
        let resolved: Annotation<'_>;
        let annotation = match fast {
            Some(fields) => fields,
            None => {
                let wanted = match req {
                    Some(r) => Wanted::Request(r),
                    None => Wanted::Name(sym.name),
                };
                let (annotation, problems) = match resolve.as_mut() {
                    Some(resolve) => resolve(wanted),
                    None => resolve_without_map(wanted),
                };
                for p in problems {
                    let p = if p.symbol.is_none() {
                        p.symbol(name())
                    } else {
                        p
                    };
                    plan.problems.push(p);
                }
                let Some(annotation) = annotation else {
                    continue;
                };
                resolved = annotation;
                resolved.fields()
            }
        };
        if !sym.is_undefined() {
            let place = match module
                .symbol_section(index)
                .and_then(|i| module.section(i.get() as usize))
            {
                Some(s) => format!("in section {}", s.display_name()),
                None => format!("with st_shndx 0x{:x}", sym.shndx),
            };
            plan.problems.push(
                Problem::error(format!(
                    "annotated symbol is defined {place}; it must be an undefined reference \
                     (declare it extern with KLP_RELOC_SYMBOL())"
                ))
                .symbol(name()),
            );
            continue;
        }
        if sym.bind != oelf::STB_GLOBAL.0 && sym.bind != oelf::STB_WEAK.0 {
            plan.problems.push(
                Problem::error(format!(
                    "annotated symbol has binding {}, expected WEAK or GLOBAL",
                    sym.bind
                ))
                .symbol(name()),
            );
            continue;
        }
        if annotation.name == b".TOC." {
            plan.problems.push(
                Problem::error(
                    ".TOC. is the module's own TOC base and is never a livepatch symbol",
                )
                .symbol(name()),
            );
            continue;
        }
        if annotation.patched == names::VMLINUX.as_bytes() && !annotation.is_vmlinux() {
            plan.problems.push(
                Problem::error(format!(
                    "code patched in vmlinux cannot reference a symbol of module {}: vmlinux \
                     relocations are applied when the patch loads, when the module may not \
                     be loaded; patch the module's code instead, or use an exported interface",
                    String::from_utf8_lossy(annotation.object)
                ))
                .symbol(name()),
            );
            continue;
        }
        annotations.add(plan, index, sym.name, &annotation);
    }
}

/// Plan the relocations of each of `parts`, consecutive runs of sections,
/// on its own and on two threads, into `plan`, joined in order. The
/// moves go straight into the plan's one vector: each part fills a piece
/// of it as long as its relocations that may move (counted first, on two
/// threads too: a pass over their r_info), and the pieces are closed up
/// by moving later parts down (par::fill). No vector of each part's to
/// copy in afterwards, which would be fresh memory twice over, a page
/// fault for every page of each; no vector sized for every relocation of
/// the module (half of them, at most, move).
fn plan_parts(ctx: &Context<'_, '_>, parts: &[&[Section<'_>]], plan: &mut Plan) {
    let bounds = crate::par::each(true, parts.to_vec(), |sections| {
        (sections, moves_bound(ctx, sections))
    });
    let (mut moves, planned) = crate::par::fill(true, bounds, |sections, slots| {
        let (mut dests, mut part) = (Dests::default(), Plan::default());
        plan_sections(ctx, sections, &mut dests, &mut part, slots);
        (dests, part, slots.len())
    });
    let made: usize = planned.iter().map(|(_, part, _)| part.dests.len()).sum();
    let mut dests: Option<Dests<'_>> = None;
    // Each part's moves, and where its destinations are in the plan (the
    // first part's are the plan's already).
    let mut remaps = Vec::with_capacity(planned.len());
    let mut rest = moves.as_mut_slice();
    for (d, part, n) in planned {
        let n = n.min(rest.len());
        let (own, after) = std::mem::take(&mut rest).split_at_mut(n);
        rest = after;
        match dests.as_mut() {
            Some(dests) => remaps.push((own, dests.join(ctx.module, plan, part))),
            None => {
                plan.dests = part.dests;
                plan.dests.reserve_exact(made - plan.dests.len());
                plan.rewrites = part.rewrites;
                plan.problems.extend(part.problems);
                dests = Some(d);
            }
        }
    }
    crate::par::each(true, remaps, |(own, map)| {
        for m in own {
            if let Some(d) = map.get(m.dest as usize) {
                m.dest = *d;
            }
        }
    });
    plan.moves = moves;
}

/// How many relocations of `sections` may move, at most: those in
/// ordinary relocation sections of the symbol table against an annotated
/// symbol. [`check_reloc_section`] moves no others.
fn moves_bound(ctx: &Context<'_, '_>, sections: &[Section<'_>]) -> usize {
    let mut n = 0;
    for s in sections
        .iter()
        .filter(|s| s.is_reloc() && uses_symtab(ctx.module, s) && !is_klp_section(s))
    {
        s.relocs.for_each_sym(|_, sym| {
            let annotated = ctx
                .kinds
                .get(sym as usize)
                .is_some_and(|k| k & KIND_ANNOTATED != 0);
            n += usize::from(sym != 0 && annotated);
        });
    }
    n
}

/// Whether the relocations of `section` reference the symbol table.
fn uses_symtab(module: &Module<'_>, section: &Section<'_>) -> bool {
    section.link as usize == module.symtab && module.symtab != 0
}

/// Whether `section` is a livepatch relocation section, by its flag or
/// its name.
fn is_klp_section(section: &Section<'_>) -> bool {
    section.is_livepatch() || names::is_klp_rela(section.name)
}

/// Where the moves of [`plan_sections`] go: a vector, or a part's piece
/// of one ([`crate::par::fill`]).
trait Moves {
    /// Add `m`; false if there is no room for it.
    fn put(&mut self, m: Move) -> bool;
}

impl Moves for Vec<Move> {
    fn put(&mut self, m: Move) -> bool {
        self.push(m);
        true
    }
}

impl Moves for crate::par::Slots<'_, Move> {
    #[inline]
    fn put(&mut self, m: Move) -> bool {
        self.push(m)
    }
}

/// Plan the relocations of `sections`, in order, into `plan` and `moves`.
fn plan_sections<'data>(
    ctx: &Context<'_, 'data>,
    sections: &[Section<'data>],
    dests: &mut Dests<'data>,
    plan: &mut Plan,
    moves: &mut impl Moves,
) {
    let (module, annotations) = (ctx.module, ctx.annotations);
    let mut scratch = Scratch::default();
    for section in sections {
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
                if annotations.get(section.info as usize).is_some() {
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
        check_reloc_section(ctx, section, dests, &mut scratch, plan, moves);
    }
}

/// The KIND_* bits of every symbol, but KIND_ANNOTATED: in parts side
/// by side if there are twice `min_split` symbols or more.
fn symbol_kinds(module: &Module<'_>, min_split: usize) -> Vec<u8> {
    let symbols = &module.symbols;
    let parts = crate::par::parts(symbols.len(), min_split);
    let kinds = crate::par::map(true, symbols, parts, |_, part, kinds| {
        for s in part {
            kinds.push(symbol_kind(s));
        }
        Ok::<(), ()>(())
    });
    match kinds {
        Ok(Some(kinds)) => kinds,
        // Not reached: every part pushes a kind for each symbol.
        _ => symbols.iter().map(symbol_kind).collect(),
    }
}

/// The KIND_* bits of a symbol, but KIND_ANNOTATED.
fn symbol_kind(s: &Symbol<'_>) -> u8 {
    let mut k = 0;
    if s.shndx == SHN_LIVEPATCH {
        k |= KIND_LIVEPATCH;
    }
    k | match s.prefix {
        Prefix::Annotation => KIND_ANNOTATION_NAME,
        Prefix::KlpSymbol => KIND_KLP_NAME,
        Prefix::None => 0,
    }
}

/// For each symbol: is it a well-formed livepatch symbol of vmlinux?
/// Parsed once per symbol, when the module has livepatch symbols.
struct KlpSymbols(Vec<bool>);

impl KlpSymbols {
    /// `klp`: the symbols with SHN_LIVEPATCH or the prefix.
    fn new(module: &Module<'_>, klp: &[usize]) -> Self {
        let mut v = Vec::new();
        for (i, s) in klp
            .iter()
            .filter_map(|i| module.symbols.get(*i).map(|s| (*i, s)))
        {
            if s.shndx == SHN_LIVEPATCH
                && names::parse_klp_symbol(s.name).is_ok_and(|t| t.is_vmlinux())
            {
                if v.is_empty() {
                    v = vec![false; module.symbols.len()];
                }
                if let Some(b) = v.get_mut(i) {
                    *b = true;
                }
            }
        }
        KlpSymbols(v)
    }

    fn is_vmlinux(&self, sym: usize) -> bool {
        self.0.get(sym).copied().unwrap_or(false)
    }
}

/// A livepatch symbol (SHN_LIVEPATCH).
const KIND_LIVEPATCH: u8 = 1;
/// A name with the annotation prefix.
const KIND_ANNOTATION_NAME: u8 = 2;
/// A name with the livepatch symbol prefix.
const KIND_KLP_NAME: u8 = 4;
/// An annotated symbol the plan converts.
const KIND_ANNOTATED: u8 = 8;

/// What every relocation section's check needs.
struct Context<'a, 'data> {
    module: &'a Module<'data>,
    /// Per symbol, KIND_* bits.
    kinds: Vec<u8>,
    annotations: &'a Annotated,
    klp_vmlinux: &'a KlpSymbols,
    arch: Option<&'static arch::Arch>,
}

/// Buffers reused from one relocation section to the next.
#[derive(Default)]
struct Scratch {
    /// The entries of a section that reference a symbol that matters.
    entries: Vec<usize>,
    /// The last relocation type seen, and whether the loader applies it.
    types: (Option<u32>, bool),
}

fn check_reloc_section<'data>(
    ctx: &Context<'_, 'data>,
    section: &Section<'data>,
    dests: &mut Dests<'data>,
    scratch: &mut Scratch,
    plan: &mut Plan,
    moves: &mut impl Moves,
) {
    let module = ctx.module;
    let annotations = ctx.annotations;
    let arch = ctx.arch;
    // Decoded for messages only.
    let sec_name = || section.display_name();
    let uses_symtab = uses_symtab(module, section);
    let is_klp_section = is_klp_section(section);

    // The object of a livepatch relocation section, parsed once.
    let mut klp_object = None;
    if is_klp_section {
        match names::parse_klp_rela(section.name) {
            Ok((obj, _)) => klp_object = Some(obj),
            Err(e) => plan.problems.push(
                Problem::error(format!("malformed livepatch relocation section name: {e}"))
                    .section(sec_name()),
            ),
        }
        if !section.is_livepatch() {
            plan.problems.push(
                Problem::error("section has the .klp.rela. prefix but not SHF_RELA_LIVEPATCH")
                    .section(sec_name()),
            );
        }
        if section.sh_type != oelf::SHT_RELA.0 {
            plan.problems.push(
                Problem::error("livepatch relocation section is not SHT_RELA").section(sec_name()),
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
            .section(sec_name()),
        );
    }
    let target = module
        .section(section.info as usize)
        .filter(|_| section.info != 0);
    // What the target's name tells, found at the first annotated
    // relocation: its name for messages, whether the kernel processes it
    // early, whether it is read-only, and whether it can be named in the
    // .klp.rela.<obj>.<target name> the kernel must parse back.
    let mut facts: Option<(bool, bool, Option<names::NameError>)> = None;
    // The destination of each object's relocations in this section.
    let mut local_dests: Vec<(u32, u32)> = Vec::new();
    // Most entries reference a plain symbol: look at their symbol only.
    let entries = &mut scratch.entries;
    entries.clear();
    if uses_symtab {
        section.relocs.for_each_sym(|i, sym| {
            let interesting = ctx
                .kinds
                .get(sym as usize)
                .is_none_or(|k| k & (KIND_LIVEPATCH | KIND_ANNOTATED) != 0);
            if sym != 0 && (interesting || is_klp_section) {
                entries.push(i);
            }
        });
    }
    for &entry in entries.iter() {
        let Some(reloc) = section.relocs.get(entry) else {
            continue;
        };
        let here = || Problem::error("").section(sec_name()).offset(reloc.offset);
        // What the relocation loop needs of a symbol, from a flat vector:
        // a module has up to hundreds of thousands of symbols.
        let Some(&kind) = ctx.kinds.get(reloc.sym as usize) else {
            let mut p = here();
            p.message = format!("invalid symbol index {}", reloc.sym);
            plan.problems.push(p);
            continue;
        };
        // Names are decoded only for messages: most relocations have none.
        let problem = |msg: String| {
            let name = module
                .symbol(reloc.sym)
                .map(|s| s.display_name())
                .unwrap_or_default();
            let mut p = here().symbol(name);
            p.message = msg;
            p
        };

        if is_klp_section {
            if kind & KIND_LIVEPATCH == 0 {
                plan.problems.push(problem(
                    "relocation in a livepatch relocation section against a symbol that is \
                     not a livepatch symbol (SHN_LIVEPATCH)"
                        .to_string(),
                ));
            } else if let Some(obj) = &klp_object {
                if obj != names::VMLINUX && ctx.klp_vmlinux.is_vmlinux(reloc.sym as usize) {
                    plan.problems.push(problem(format!(
                        "vmlinux symbol in module-specific livepatch relocation section; the \
                         kernel (since v5.8) requires it in a .klp.rela.vmlinux. section, not \
                         .klp.rela.{obj}."
                    )));
                }
            }
            continue;
        }
        if kind & KIND_LIVEPATCH != 0 {
            plan.problems.push(problem(
                "relocation against a livepatch symbol in an ordinary relocation section; \
                 the module loader would apply it with a bogus value"
                    .to_string(),
            ));
            continue;
        }
        let Some(obj_id) = annotations.get(reloc.sym as usize) else {
            continue;
        };
        let obj = annotations
            .objects
            .get(obj_id as usize)
            .map_or(names::VMLINUX, String::as_str);
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
        let (early, read_only, target_name_error) = facts.get_or_insert_with(|| {
            let error = names::klp_rela_section_error(target.name);
            (matches_early(target.name), is_read_only(target), error)
        });
        // Decoded for messages only.
        let target_name = || target.display_name();
        if !target.is_alloc() {
            plan.problems.push(problem(format!(
                "annotated symbol referenced from non-allocated section {}; the \
                 kernel applies livepatch relocations only to allocated sections",
                target_name()
            )));
            continue;
        }
        if let Some(e) = target_name_error {
            plan.problems.push(problem(format!(
                "section {} (index {}), which the annotated symbol's relocation applies to, \
                 cannot be named in a .klp.rela.<obj>.<section> section: {e}",
                target_name(),
                target.index
            )));
            continue;
        }
        let late = obj != names::VMLINUX;
        if late && *early {
            plan.problems.push(problem(format!(
                "module-specific livepatch relocation in {}, which the kernel \
                 processes when the patch module loads, before {obj} relocations are applied; \
                 move the reference out of that section (e.g. no jump labels, alternatives, \
                 exception table entries or __init code using it)",
                target_name()
            )));
            continue;
        }
        if late && *read_only {
            plan.problems.push(Problem {
                severity: crate::error::Severity::Warning,
                ..problem(format!(
                    "module-specific livepatch relocation in read-only section {}; \
                     it is written after the module is write-protected, which fails on some \
                     architectures",
                    target_name()
                ))
            });
        }
        let mut rewrite = None;
        if let Some(arch) = arch {
            let site = RelocSite {
                r_type: reloc.r_type,
                offset: reloc.offset,
                data: target.data,
                big_endian: module.big_endian,
            };
            let t = reloc.r_type;
            if scratch.types.0 != Some(t) {
                scratch.types = (Some(t), arch.supports(t));
            }
            match arch.livepatch_form_of(&site, scratch.types.1) {
                Ok(r) => rewrite = r,
                Err(msg) => {
                    plan.problems.push(problem(msg));
                    continue;
                }
            }
        }
        let dest = match local_dests.iter().find(|(o, _)| *o == obj_id) {
            Some((_, d)) => *d,
            None => {
                let d = dests.get(module, plan, annotations, obj_id, target);
                local_dests.push((obj_id, d));
                d
            }
        };
        // Sections and entries are counted in u32 by ELF itself (e_shnum
        // extended through sh_size, r_sym): a module has fewer.
        let (Ok(from), Ok(entry)) = (u32::try_from(section.index), u32::try_from(entry)) else {
            plan.problems
                .push(problem("too many sections or relocations".to_string()));
            continue;
        };
        if !moves.put(Move { from, entry, dest }) {
            plan.problems.push(problem(
                "internal error: more relocations move than were counted".to_string(),
            ));
            continue;
        }
        if let Some(rewrite) = rewrite {
            plan.rewrites.push(Rewritten {
                from,
                entry,
                target: target.index,
                offset: reloc.offset,
                rewrite,
            });
        }
    }
}

/// Check that `module` can be laid out at all: alignments a linker could
/// have made.
fn check_alignments(data: &[u8], module: &Module<'_>) -> Result<(), Error> {
    // The writer places each section at a multiple of its sh_addralign.
    // A linker places a section at an offset that is a multiple of its
    // alignment, so an alignment beyond the file size (and the largest page
    // size, 64 KiB) comes from a corrupt header and would make the output
    // gigabytes of padding.
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
    // Each alignment may be fine and their sum not: 200 sections aligned
    // to the size of an 11 MB file would make a 2.1 GB output. A linker's
    // output holds that padding already; allow as much again, plus 1 MiB.
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
    Ok(())
}

/// Lay out the conversion of the file `data` (parsed as `module`) by
/// `plan`: checked, bounded in size, ready to be written with
/// [`Output::emit`].
pub fn layout<'a, 'data>(
    data: &'data [u8],
    module: &'a Module<'data>,
    plan: &'a Plan,
) -> Result<Output<'a, 'data>, Error> {
    check_alignments(data, module)?;
    let layout = Layout::new(data, module, plan)?;
    let max = max_output(data.len() as u64);
    if layout.size() > max {
        return Err(Error::Build(format!(
            "the output would be {} bytes, more than the {max} bytes (twice the input + 4 \
             MiB) a conversion may produce",
            layout.size()
        )));
    }
    Ok(Output(layout))
}

/// A conversion laid out by [`layout`].
pub struct Output<'a, 'data>(pub(crate) Layout<'a, 'data>);

impl Output<'_, '_> {
    /// The size of the file in bytes.
    pub fn size(&self) -> u64 {
        self.0.size()
    }

    /// The self-check alone: the output made and thrown away, checked as
    /// [`Output::emit`] checks it.
    pub fn check(&self) -> Result<(), Error> {
        self.0
            .emit(&mut std::io::sink())
            .map_err(|e| written(&e, "check"))
    }

    /// Write the file to `w` in one pass, checking that nothing annotated
    /// is left; [`written`] tells a failed check from a failed write.
    pub fn emit(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.0.emit(w)
    }

    /// [`Output::emit`] to a new, empty file: a large output in two parts
    /// written side by side.
    pub fn emit_file(&self, file: &std::fs::File) -> std::io::Result<()> {
        self.0.emit_file(file)
    }
}

/// The error of [`Output::emit`] as this crate's: the self-check's
/// failure, or the write's (`what` failed).
pub fn written(e: &std::io::Error, what: &str) -> Error {
    match crate::write::invalid_message(e) {
        Some(msg) => Error::Build(msg.to_string()),
        None => Error::Build(format!("cannot {what} the output: {e}")),
    }
}

/// True if `e`, from [`Output::emit`], is the self-check's failure.
pub fn is_invalid(e: &std::io::Error) -> bool {
    crate::write::invalid_message(e).is_some()
}

/// Apply `plan` to the file `data` (parsed as `module`), in memory.
pub fn rewrite(data: &[u8], module: &Module<'_>, plan: &Plan) -> Result<Vec<u8>, Error> {
    let out = layout(data, module, plan)?;
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(usize::try_from(out.size()).unwrap_or(usize::MAX))
        .map_err(|e| Error::Build(format!("cannot allocate the output: {e}")))?;
    out.emit(&mut bytes).map_err(|e| written(&e, "write"))?;
    Ok(bytes)
}

/// Alignment padding allowed beyond the input's size.
const PADDING_MARGIN: u64 = 1 << 20;

/// The largest output for an input of `input` bytes: twice its size plus
/// 4 MiB (a conversion moves relocations and renames symbols; the output
/// is about the input's size).
pub fn max_output(input: u64) -> u64 {
    input.saturating_mul(2).saturating_add(4 << 20)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Symbols annotated and relocation sections planned in parts give
    /// the plan of one pass: objects in order of first use, destinations
    /// shared by parts (two relocation sections for one .text), problems,
    /// new names and moves in file order.
    #[test]
    fn halves_join_into_one_plan() {
        const VM: &str = ".klp.sym.rela.vmlinux.vmlinux.a,0";
        const MOD: &str = ".klp.sym.rela.m.m.b,1";
        const LP: &str = ".klp.sym.vmlinux.c,0";
        // Another object, first used before m; an annotation refused; one
        // whose new name is made (its position is not in canonical form).
        const N: &str = ".klp.sym.rela.n.n.d,0";
        const BAD: &str = ".klp.sym.rela.vmlinux.m.e,0";
        const MADE: &str = ".klp.sym.rela.n.n.f,01";
        // .text, .text.x, .text again, .data: 4 relocation sections of
        // 3000 entries; the third sees .text's destinations again and has
        // a relocation against a livepatch symbol.
        let relas: Vec<(usize, Vec<crate::testutil::TestReloc<'_>>)> = [0, 1, 0, 2]
            .into_iter()
            .enumerate()
            .map(|(k, target)| {
                let entries = (0..3000u64)
                    .map(|i| {
                        let sym = if k == 2 && i == 7 {
                            LP
                        } else {
                            [VM, MOD, "plain"][((i + k as u64) % 3) as usize]
                        };
                        (i % 512 * 8, sym, oelf::R_X86_64_64.0, 0)
                    })
                    .collect();
                (target, entries)
            })
            .collect();
        let relas: Vec<_> = relas.iter().map(|(t, e)| (*t, e.as_slice())).collect();
        let data = crate::testutil::object_with(
            b"livepatch=Y\0",
            &[VM, N, MOD, BAD, MADE, LP, "plain"],
            &[(".text", 4096), (".text.x", 4096), (".data", 4096)],
            &relas,
        );
        let module = Module::parse(&data).unwrap();
        let whole = plan_split(&module, None, &[], usize::MAX);
        let halves = plan_split(&module, None, &[], 1);
        assert!(whole.moves.len() > 6000, "{}", whole.moves.len());
        assert_eq!(whole.dests.len(), 6, "{:?}", whole.dests);
        assert_eq!(whole.objects, ["vmlinux", "n", "m"]);
        assert_eq!(whole.symbols.len(), 4);
        assert!(!whole.names.is_empty());
        assert!(messages(&whole).iter().any(|m| m.contains("of module m")));
        assert_eq!(halves.moves, whole.moves);
        assert_eq!(halves.dests, whole.dests);
        assert_eq!(halves.rewrites, whole.rewrites);
        assert_eq!(halves.objects, whole.objects);
        assert_eq!(halves.symbols, whole.symbols);
        assert_eq!(halves.names, whole.names);
        assert_eq!(messages(&halves), messages(&whole));
    }

    #[test]
    fn early_and_read_only_sections() {
        assert!(matches_early(b"__jump_table"));
        assert!(matches_early(b".init.text"));
        assert!(matches_early(b".orc_unwind_ip"));
        assert!(matches_early(b"__patchable_function_entries"));
        assert!(!matches_early(b".text"));
        assert!(!matches_early(b".data"));
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
        let data = object(
            b"livepatch=Y\0",
            &[ANN],
            &[(4, ANN, 2, -4), (12, ANN, 1, 0)],
        );
        let m = Module::parse(&data).unwrap();
        let p = plan(&m);
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        assert_eq!(p.symbols.len(), 1);
        assert_eq!(p.new_name(&m, &p.symbols[0]), b".klp.sym.vmlinux.x,0");
        assert_eq!(p.moves.len(), 2);
        assert_eq!(p.moves[1].entry, 1);
        assert_eq!(
            p.dest_name(&m, &p.dests[p.moves[0].dest as usize]),
            b".klp.rela.vmlinux..text"
        );
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
            [
                "error: section .rela.text, offset 0x8, symbol .klp.sym.rela.vmlinux.vmlinux.x,0: \
              relocation type R_X86_64_GOTPCREL is not supported in livepatch relocations \
              on x86_64"
            ]
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
