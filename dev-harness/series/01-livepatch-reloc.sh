# SPDX-License-Identifier: GPL-2.0
subject='livepatch: add annotations for references to non-exported symbols'
read -r -d '' body <<'MSG' || true
A livepatch often has to use a static variable or a helper of the code
it replaces.  Neither is exported, so the patch module cannot link
against it.  The kernel resolves such references itself when they come
as .klp.rela.<obj>.<section> relocation sections against
.klp.sym.<obj>.<symbol>,<pos> symbols (module-elf-format.rst), but no
compiler or linker produces that form.

Add include/linux/livepatch_reloc.h: macros that give an extern
declaration the assembler name
.klp.sym.rela.<patched_obj>.<sym_obj>.<symbol>,<pos>, the convention
SUSE's kernels already use, for klp-convert (added next) to turn every
relocation against it into a livepatch relocation after the module's
final link.  KLP_RELOC_SYMBOL() and KLP_RELOC_SYMBOL_POS() name the
object and position; KLP_SYMBOL() and KLP_SYMBOL_FILE() leave them to
klp-convert, which finds them in the target kernel's symbols.

The symbols are weak, so that modpost does not report them undefined;
the build refuses a livepatch module in which one is left unconverted.
MSG

changes() {
	add include/linux/livepatch_reloc.h
	edit MAINTAINERS maintainers_entry
	edit MAINTAINERS maintainers_file include/linux/livepatch_reloc.h
}
