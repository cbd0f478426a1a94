// SPDX-License-Identifier: GPL-2.0-only
//! `KLP_MODULE_RELOC()` tables, the annotations of the earlier upstream
//! series (v5 to v7): plain `extern` declarations, and for the symbols
//! that need it a table in a section `.klp.module_relocs.<obj>` of
//! 12-byte packed entries
//!
//! ```text
//! struct klp_module_reloc { union { void *sym; u64 sym64; }; u32 sympos; }
//! ```
//!
//! each saying that `sym` (a relocation of 8 bytes at the entry's start)
//! is the symbol at position `sympos` of `<obj>`, whose code the
//! references to it patch. Every entry becomes the request
//! `.klp.sym.rela.<obj>.<obj>.<sym>,<sympos>` for that symbol; the table
//! stays in the module and its relocations are converted like any other
//! reference, so that it holds the resolved addresses at run time.

use object::elf as oelf;

use crate::elf::Module;
use crate::error::Problem;
use crate::names::{self, Request};

/// Prefix of a table's section.
pub const PREFIX: &str = ".klp.module_relocs.";
/// Size of an entry: an 8-byte address and a 4-byte position, packed.
pub const ENTRY_SIZE: u64 = 12;

/// The relocation type that writes an 8-byte address, per e_machine; None:
/// an architecture without livepatch relocations, reported elsewhere.
fn abs64(machine: u16) -> Option<u32> {
    [
        (oelf::EM_X86_64, oelf::R_X86_64_64),
        (oelf::EM_AARCH64, oelf::R_AARCH64_ABS64),
        (oelf::EM_PPC64, oelf::R_PPC64_ADDR64),
        (oelf::EM_S390, oelf::R_390_64),
        (oelf::EM_LOONGARCH, oelf::R_LARCH_64),
        (oelf::EM_RISCV, oelf::R_RISCV_64),
    ]
    .into_iter()
    .find(|(m, _)| m.0 == machine)
    .map(|(_, r)| r.0)
}

/// The requests of every table of `module`, one per symbol, in symbol
/// order, and the problems found. A symbol named by two entries must be
/// named the same way by both.
pub fn requests<'data>(module: &Module<'data>) -> (Vec<(usize, Request<'data>)>, Vec<Problem>) {
    let mut out: Vec<(usize, Request<'data>)> = Vec::new();
    let mut problems = Vec::new();
    let prefix = PREFIX.as_bytes();
    for table in module
        .sections
        .iter()
        .filter(|s| s.name.starts_with(prefix) && !s.is_reloc() && s.sh_type != oelf::SHT_NOBITS.0)
    {
        let section = table.display_name();
        let err = |msg: String| Problem::error(msg).section(section.clone());
        let obj = String::from_utf8_lossy(table.name.get(prefix.len()..).unwrap_or_default());
        if let Err(e) = names::check_object(&obj) {
            problems.push(err(format!("KLP_MODULE_RELOC() object: {e}")));
            continue;
        }
        let data = table.data.unwrap_or_default();
        if table.size % ENTRY_SIZE != 0 || data.len() as u64 != table.size {
            problems.push(err(format!(
                "size {} is not a whole number of {ENTRY_SIZE}-byte struct klp_module_reloc \
                 entries",
                table.size
            )));
            continue;
        }
        let entries = (table.size / ENTRY_SIZE) as usize;
        let mut named = vec![false; entries];
        let types = abs64(module.machine);
        for rel in module
            .sections
            .iter()
            .filter(|r| r.is_reloc() && r.info as usize == table.index)
        {
            for reloc in rel.relocs.iter() {
                let at = |p: Problem| p.offset(reloc.offset);
                let entry = (reloc.offset / ENTRY_SIZE) as usize;
                if reloc.offset % ENTRY_SIZE != 0 || entry >= entries {
                    problems.push(at(err(format!(
                        "relocation at offset 0x{:x} is not at the start of an entry (entries \
                         are {ENTRY_SIZE} bytes: an 8-byte symbol address, a 4-byte position)",
                        reloc.offset
                    ))));
                    continue;
                }
                let Some(sym) = module.symbol(reloc.sym) else {
                    problems.push(at(err(format!(
                        "relocation names no symbol ({})",
                        reloc.sym
                    ))));
                    continue;
                };
                let at = |p: Problem| at(p).symbol(sym.display_name());
                if types.is_some_and(|t| t != reloc.r_type) || reloc.addend != 0 {
                    problems.push(at(err(format!(
                        "entry {entry} is not the plain address of a symbol (relocation type \
                         {}, addend {}); write KLP_SYMPOS(symbol, pos)",
                        reloc.r_type, reloc.addend
                    ))));
                    continue;
                }
                if let Some(slot) = named.get_mut(entry) {
                    *slot = true;
                }
                if !sym.is_undefined() || sym.name.is_empty() || names::is_annotation(sym.name) {
                    problems.push(at(err(format!(
                        "entry {entry} must name an undefined symbol declared plain extern, \
                         not one the module defines or annotates"
                    ))));
                    continue;
                }
                let start = (reloc.offset + 8) as usize;
                let Some(raw) = data
                    .get(start..start + 4)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                else {
                    continue;
                };
                let pos = if module.big_endian {
                    u32::from_be_bytes(raw)
                } else {
                    u32::from_le_bytes(raw)
                };
                let name = String::from_utf8_lossy(sym.name);
                if let Err(e) = names::check_symbol(&name) {
                    problems.push(at(err(e.to_string())));
                    continue;
                }
                let req = Request::in_object(&obj, &name, u64::from(pos));
                let index = reloc.sym as usize;
                match out.iter().find(|(i, _)| *i == index) {
                    Some((_, r)) if *r != req => problems.push(at(err(format!(
                        "{name} is named twice, as position {pos} of {obj} and as position {} \
                         of {}",
                        r.pos.unwrap_or_default(),
                        r.patched
                    )))),
                    Some(_) => {}
                    None => out.push((index, req)),
                }
            }
        }
        if let Some(entry) = named.iter().position(|n| !n) {
            problems.push(
                err(format!(
                    "entry {entry} names no symbol (no relocation at its start)"
                ))
                .offset(entry as u64 * ENTRY_SIZE),
            );
        }
    }
    out.sort_by_key(|(i, _)| *i);
    (out, problems)
}
