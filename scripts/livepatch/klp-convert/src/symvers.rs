// SPDX-License-Identifier: GPL-2.0-only
//! Plain references: the undefined symbols of a livepatch module that
//! nothing exports, read against Module.symvers.
//!
//! The kernel's module loader resolves an undefined symbol only from the
//! exports of vmlinux and loaded modules; any other reference of a
//! livepatch module must become a livepatch relocation. Kbuild hands
//! klp-convert the Module.symvers files of the build (the tree's, the
//! external module directory's, KBUILD_EXTRA_SYMBOLS), so that the plain
//! references are known: undefined, global (a weak one may stay
//! unresolved), neither annotated nor a livepatch symbol, and named in no
//! Module.symvers.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use object::elf as oelf;

use crate::elf::Module;
use crate::error::Error;
use crate::names::{self, Request};

/// Undefined names that need no export: modpost ignores them too
/// (scripts/mod/modpost.c, ignore_undef_symbol()): the module's own
/// structure, the GOT and TOC bases, linker-made section bounds and the
/// register save/restore helpers linked into every powerpc module.
const NOT_EXPORTED: &[&[u8]] = &[b"__this_module", b".TOC.", b"_GLOBAL_OFFSET_TABLE_"];
const NOT_EXPORTED_PREFIXES: &[&[u8]] = &[
    b"__start_",
    b"__stop_",
    b"_restgpr",
    b"_savegpr",
    b"_rest32gpr_",
    b"_save32gpr_",
    b"_restfpr_",
    b"_savefpr_",
    b"_restvr_",
    b"_savevr_",
];

/// True for a name an undefined symbol may have without any export.
pub fn needs_no_export(name: &[u8]) -> bool {
    NOT_EXPORTED.contains(&name) || NOT_EXPORTED_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// The undefined global symbols of `module` that may need a livepatch
/// relocation, or an export (before Module.symvers is read): indexes and
/// names. Annotated and livepatch symbols (`.klp.sym.` prefix) are not.
pub fn candidates<'a>(module: &'a Module<'_>) -> impl Iterator<Item = (usize, &'a [u8])> + 'a {
    module
        .symbols
        .iter()
        .enumerate()
        .filter(|(i, s)| {
            *i != 0
                && s.is_undefined()
                && s.bind == oelf::STB_GLOBAL.0
                && !s.name.is_empty()
                && !s.name.starts_with(names::SYMBOL_PREFIX.as_bytes())
                && !needs_no_export(s.name)
        })
        .map(|(i, s)| (i, s.name))
}

/// The plain references of `module`, in symbol order, with the requests
/// that resolve them from the symbol maps; `skip`: symbols named
/// otherwise (KLP_MODULE_RELOC() tables). Module.symvers files are read
/// only if the module has a candidate.
pub fn plain_references<'data>(
    module: &Module<'data>,
    symvers: &[PathBuf],
    skip: &[(usize, Request<'_>)],
) -> Result<Vec<(usize, Request<'data>)>, Error> {
    let mut wanted: Vec<(usize, &[u8])> = candidates(module)
        .filter(|(i, _)| !skip.iter().any(|(s, _)| s == i))
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for path in symvers {
        files.push(read(path)?);
    }
    let mut exported: HashSet<&[u8]> = HashSet::new();
    for data in &files {
        exported.extend(exported_names(data));
    }
    wanted.retain(|(_, n)| !exported.contains(n));
    Ok(wanted
        .into_iter()
        .map(|(i, n)| (i, Request::plain(String::from_utf8_lossy(n).into_owned())))
        .collect())
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    crate::sys::read_regular(path, crate::sys::MAX_FILE)
        .map_err(|e| Error::Io(path.to_path_buf(), e.into()))
}

/// The second field of each line: `<crc>\t<symbol>\t<module>\t<export
/// type>\t<namespace>`.
pub fn exported_names(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|b| *b == b'\n')
        .filter_map(|line| line.split(|b| *b == b'\t').nth(1))
        .filter(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symvers_lines() {
        let data = b"0x1234\tprintk\tvmlinux\tEXPORT_SYMBOL\t\n\
                     0x0\tklpt_x\tdrivers/x\tEXPORT_SYMBOL_GPL\tNS\n\nbad line\n";
        let v: Vec<&[u8]> = exported_names(data).collect();
        assert_eq!(v, vec![b"printk".as_slice(), b"klpt_x".as_slice()]);
    }
}
