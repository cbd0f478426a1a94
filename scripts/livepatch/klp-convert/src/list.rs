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
                Some(t) => (
                    t.object.into_owned(),
                    t.name.into_owned(),
                    t.pos.to_string(),
                ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::object;

    #[test]
    fn lists_annotations_and_livepatch_symbols() {
        let data = object(
            b"livepatch=Y\0",
            &[
                ".klp.sym.rela.ext4.ext4.a,1",
                ".klp.sym.vmlinux.b,0",
                ".klp.sym.bogus",
                "printk",
            ],
            &[
                (0, ".klp.sym.rela.ext4.ext4.a,1", 2, 0),
                (8, "printk", 4, 0),
                (16, ".klp.sym.vmlinux.b,0", 1, 0),
                (24, ".klp.sym.bogus", 1, 0),
            ],
        );
        let m = Module::parse(&data).unwrap();
        assert_eq!(
            list(&m),
            [
                HEADER,
                ".rela.text\t0x0\tR_X86_64_PC32\text4\ta\t1",
                ".rela.text\t0x10\tR_X86_64_64\tvmlinux\tb\t0",
                ".rela.text\t0x18\tR_X86_64_64\t-\t.klp.sym.bogus\t-",
            ]
        );
    }
}
