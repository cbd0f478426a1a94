// SPDX-License-Identifier: GPL-2.0-only
//! `--list`: the livepatch relocations of a module, one per line.
//!
//! Read-only and built on object::read::elf, so it works on any module:
//! annotated ones before conversion, converted ones, kpatch's or objtool's
//! output. Format: a header line starting with `#`, then one line per
//! relocation with six fields separated by single tabs (shown here as `|`):
//!
//! ```text
//! # section|offset|type|object|symbol|pos
//! .klp.rela.vmlinux..text|0x1c|R_X86_64_PC32|vmlinux|saved_command_line|0
//! ```
//!
//! `section` is the relocation section that holds the entry (a
//! `.klp.rela.` section once converted, `.rela<sec>` before), `offset` is
//! r_offset in hexadecimal, `object`, `symbol` and `pos` come from the
//! livepatch symbol's name (`-` where it cannot be parsed, with the raw
//! name in the symbol column).

use crate::arch;
use crate::elf::{Module, SHN_LIVEPATCH};
use crate::names;

/// The header line of the listing.
pub const HEADER: &str = "# section\toffset\ttype\tobject\tsymbol\tpos";

/// One line per livepatch relocation, header first.
pub fn list(module: &Module<'_>) -> Vec<String> {
    let mut lines = vec![HEADER.to_string()];
    for section in &module.sections {
        if !section.is_reloc() || section.link as usize != module.symtab || module.symtab == 0 {
            continue;
        }
        for reloc in &section.relocs {
            let Some(sym) = module.symbol(reloc.sym).filter(|_| reloc.sym != 0) else {
                continue;
            };
            let target = if names::is_annotation(sym.name) {
                names::parse_annotation(sym.name).ok().map(|a| a.target)
            } else if sym.shndx == SHN_LIVEPATCH || names::is_klp_symbol(sym.name) {
                names::parse_klp_symbol(sym.name).ok()
            } else {
                continue;
            };
            let (object, symbol, pos) = match target {
                Some(t) => (t.object, t.name, t.pos.to_string()),
                None => ("-".to_string(), sym.display_name(), "-".to_string()),
            };
            lines.push(format!(
                "{}\t0x{:x}\t{}\t{}\t{}\t{}",
                section.display_name(),
                reloc.offset,
                arch::type_name(module.machine, reloc.r_type),
                object,
                symbol,
                pos
            ));
        }
    }
    lines
}
