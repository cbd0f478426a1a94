/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Annotations for references from a livepatch module to symbols that the
 * kernel or a module does not export.
 *
 * Such a reference is declared with an assembler name of the form
 *
 *	.klp.sym.rela.<patched_obj>.<sym_obj>.<sym>,<pos>
 *
 * and klp-convert (scripts/livepatch/klp-convert), run by Kbuild on every
 * module with MODULE_INFO(livepatch, "Y"), turns each relocation against it
 * into a livepatch relocation (.klp.rela.<obj>.<section>) against the
 * livepatch symbol .klp.sym.<sym_obj>.<sym>,<pos>, which the kernel resolves
 * when the patch or the patched module is loaded.  See
 * Documentation/livepatch/klp-convert.rst.
 *
 * The symbol is declared weak so that modpost, which knows nothing of these
 * names, does not report it as undefined; Kbuild refuses to produce a module
 * in which such a symbol is left unconverted.
 */
#ifndef _LINUX_LIVEPATCH_RELOC_H
#define _LINUX_LIVEPATCH_RELOC_H

#include <linux/compiler.h>

/**
 * KLP_RELOC_SYMBOL_POS() - name a symbol of another object by position
 * @patched_obj: the object that the patched code belongs to, vmlinux or the
 *	name of a module (as in KBUILD_MODNAME)
 * @sym_obj: the object that defines @sym, vmlinux or a module's name
 * @sym: the symbol's name in @sym_obj
 * @pos: which of several local symbols named @sym in @sym_obj, counted from
 *	1 in the kernel's order (address order for vmlinux, symbol table order
 *	for a module); 0 when the name is unique in @sym_obj
 *
 * Place it after the declarator of an extern declaration:
 *
 *	extern char *saved_command_line
 *		KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, saved_command_line, 0);
 *
 * The quotes inside the string are needed: the name contains a comma.
 */
#define KLP_RELOC_SYMBOL_POS(patched_obj, sym_obj, sym, pos)		\
	asm("\".klp.sym.rela." #patched_obj "." #sym_obj "." #sym	\
	    "," #pos "\"") __weak

/**
 * KLP_RELOC_SYMBOL() - name a symbol that is unique in its object
 * @patched_obj: the object that the patched code belongs to
 * @sym_obj: the object that defines @sym
 * @sym: the symbol's name in @sym_obj
 */
#define KLP_RELOC_SYMBOL(patched_obj, sym_obj, sym)			\
	KLP_RELOC_SYMBOL_POS(patched_obj, sym_obj, sym, 0)

#endif /* _LINUX_LIVEPATCH_RELOC_H */
