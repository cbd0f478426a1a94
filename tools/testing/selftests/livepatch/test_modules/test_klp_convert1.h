/* SPDX-License-Identifier: GPL-2.0 */
/*
 * References of test_klp_convert1.c to symbols that vmlinux and
 * test_klp_convert_mod do not export.
 *
 * Functions are declared with a parenthesised name and objects as arrays:
 * that is how checkpatch.pl reads several annotated declarations in a row
 * as declarations rather than as function definitions.
 */
#ifndef _TEST_KLP_CONVERT1_H
#define _TEST_KLP_CONVERT1_H

#include <linux/livepatch_reloc.h>

struct seq_file;

/* vmlinux: non-exported data, and a static function */
extern char *klp_saved_command_line[]
	KLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);
extern int (klp_cmdline_proc_show)(struct seq_file *m, void *v)
	KLP_RELOC_SYMBOL(vmlinux, vmlinux, cmdline_proc_show);

/* test_klp_convert_mod: static names defined twice, by position */
extern int (klp_get_1)(void)
	KLP_RELOC_SYMBOL_POS(test_klp_convert_mod, test_klp_convert_mod,
			     test_klp_convert_get, 1);
extern int (klp_get_2)(void)
	KLP_RELOC_SYMBOL_POS(test_klp_convert_mod, test_klp_convert_mod,
			     test_klp_convert_get, 2);
extern int klp_val_1[]
	KLP_RELOC_SYMBOL_POS(test_klp_convert_mod, test_klp_convert_mod,
			     test_klp_convert_val, 1);
extern int klp_val_2[]
	KLP_RELOC_SYMBOL_POS(test_klp_convert_mod, test_klp_convert_mod,
			     test_klp_convert_val, 2);

#endif /* _TEST_KLP_CONVERT1_H */
