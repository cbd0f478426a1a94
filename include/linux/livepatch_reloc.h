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
#include <linux/types.h>

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
 * __weak follows the assembler name without a space, as one expression:
 * these macros end a declarator and cannot be parenthesised.
 */
#define KLP_RELOC_SYMBOL_POS(patched_obj, sym_obj, sym, pos)		\
	asm("\".klp.sym.rela." #patched_obj "." #sym_obj "." #sym	\
	    "," #pos "\"")__weak

/**
 * KLP_RELOC_SYMBOL() - name a symbol that is unique in its object
 * @patched_obj: the object that the patched code belongs to
 * @sym_obj: the object that defines @sym
 * @sym: the symbol's name in @sym_obj
 */
#define KLP_RELOC_SYMBOL(patched_obj, sym_obj, sym)			\
	KLP_RELOC_SYMBOL_POS(patched_obj, sym_obj, sym, 0)

/**
 * KLP_SYMBOL() - name a symbol, leaving its object and position to klp-convert
 * @patched_obj: the object that the patched code belongs to
 * @sym: the symbol's name
 *
 * klp-convert looks @sym up in vmlinux and, for a module patch, in
 * @patched_obj, in the target kernel's symbols given to it (a
 * /proc/kallsyms dump, System.map, vmlinux, the module or
 * /lib/modules/<release>), and fails when the name is missing or not
 * unique there.  The name written is
 * .klp.sym.rela.<patched_obj>.*.<sym>,* and the converted module is the
 * same as with the explicit KLP_RELOC_SYMBOL_POS() it resolves to.
 */
#define KLP_SYMBOL(patched_obj, sym)					\
	asm("\".klp.sym.rela." #patched_obj ".*." #sym ",*\"")__weak

/**
 * KLP_SYMBOL_FILE() - name a symbol by the source file that defines it
 * @patched_obj: the object that the patched code belongs to
 * @sym: the symbol's name
 * @file: a string literal, the source file that defines @sym, as the
 *	compiler named it ("fs/proc/consoles.c"; a trailing part of the path
 *	is enough)
 *
 * For a name defined by several files.  klp-convert picks the symbol whose
 * STT_FILE symbol matches @file, which needs vmlinux or the module's .ko
 * among its symbol maps: kallsyms and System.map do not know files.
 */
#define KLP_SYMBOL_FILE(patched_obj, sym, file)				\
	asm("\".klp.sym.rela." #patched_obj ".*." #sym ",*," file "\"")__weak

/**
 * struct klp_module_reloc - an entry of a KLP_MODULE_RELOC() table
 * @sym: the address of the symbol, a plain extern declaration
 * @sym64: @sym, 64 bits wide on every architecture
 * @sympos: its position in the table's object, as in KLP_RELOC_SYMBOL_POS()
 *
 * The form of the earlier klp-convert series: plain extern declarations,
 * and for a symbol klp-convert cannot find alone (its name is not unique,
 * or no symbol map is given) an entry in a table of the object that
 * defines it.  klp-convert reads the tables; the references are converted
 * as if annotated with KLP_RELOC_SYMBOL_POS(obj, obj, sym, pos).
 */
struct klp_module_reloc {
	union {
		void *sym;
		u64 sym64;
	};
	u32 sympos;
} __packed;

/**
 * KLP_MODULE_RELOC() - declare the table of the symbols of @obj
 * @obj: vmlinux or a module's name; the references patch its code
 *
 *	KLP_MODULE_RELOC(ext4) my_relocs[] = {
 *		KLP_SYMPOS(ext4_fill_super, 2),
 *	};
 */
#define KLP_MODULE_RELOC(obj)						\
	struct klp_module_reloc __section(".klp.module_relocs." #obj)	\
	__aligned(4)

/**
 * KLP_SYMPOS() - an entry of a KLP_MODULE_RELOC() table
 * @symbol: the extern declaration's name
 * @pos: its position in the table's object, 0 for a unique name
 */
#define KLP_SYMPOS(symbol, pos)	{ .sym = &(symbol), .sympos = (pos), }

#endif /* _LINUX_LIVEPATCH_RELOC_H */
