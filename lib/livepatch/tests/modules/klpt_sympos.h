/* SPDX-License-Identifier: GPL-2.0 */
/*
 * References of klpt_sympos.c: the three static c_start() of vmlinux.
 *
 * Functions are declared with a parenthesised name and objects as arrays:
 * that is how checkpatch.pl reads several annotated declarations in a row
 * as declarations rather than as function definitions.
 */
#ifndef _KLPT_SYMPOS_H
#define _KLPT_SYMPOS_H

#include <linux/livepatch_reloc.h>

extern char klpt_c_start_1[]
	KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, c_start, 1);
extern char klpt_c_start_2[]
	KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, c_start, 2);
extern char klpt_c_start_3[]
	KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, c_start, 3);

#endif /* _KLPT_SYMPOS_H */
