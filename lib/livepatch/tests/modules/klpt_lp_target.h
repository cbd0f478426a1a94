/* SPDX-License-Identifier: GPL-2.0 */
/*
 * References of klpt_lp_target.c to symbols of klpt_target and vmlinux.
 *
 * Functions are declared with a parenthesised name and objects as arrays:
 * that is how checkpatch.pl reads several annotated declarations in a row
 * as declarations rather than as function definitions.
 */
#ifndef _KLPT_LP_TARGET_H
#define _KLPT_LP_TARGET_H

#include <linux/livepatch_reloc.h>

extern int (klpt_dup_1)(void)
	KLP_RELOC_SYMBOL_POS(klpt_target, klpt_target, klpt_dup, 1);
extern int (klpt_dup_2)(void)
	KLP_RELOC_SYMBOL_POS(klpt_target, klpt_target, klpt_dup, 2);
extern int (klpt_dup_3)(void)
	KLP_RELOC_SYMBOL_POS(klpt_target, klpt_target, klpt_dup, 3);

/* The static ints klpt_dup_val: klpt_dup_val_<n>[0] is the value. */
extern int klpt_dup_val_1[]
	KLP_RELOC_SYMBOL_POS(klpt_target, klpt_target, klpt_dup_val, 1);
extern int klpt_dup_val_2[]
	KLP_RELOC_SYMBOL_POS(klpt_target, klpt_target, klpt_dup_val, 2);
extern int klpt_dup_val_3[]
	KLP_RELOC_SYMBOL_POS(klpt_target, klpt_target, klpt_dup_val, 3);

/*
 * A vmlinux symbol used by code that patches klpt_target: it must still go
 * to .klp.rela.vmlinux.*, the kernel refusing vmlinux symbols in a
 * module-specific section.
 */
extern char *klpt_cmdline[]
	KLP_RELOC_SYMBOL(klpt_target, vmlinux, saved_command_line);

#endif /* _KLPT_LP_TARGET_H */
