/* SPDX-License-Identifier: GPL-2.0 */
/*
 * References of klpt_infer.c whose object and position klp-convert infers
 * from the target's symbols (make KLP_SYMBOLS=...).
 *
 * Functions are declared with a parenthesised name and objects as arrays,
 * the forms checkpatch.pl reads as declarations.
 */
#ifndef _KLPT_INFER_H
#define _KLPT_INFER_H

#include <linux/livepatch_reloc.h>

/* klpt_target has three static klpt_dup(): the one of klpt_target_b.c. */
extern int (klpt_dup_b)(void)
	KLP_SYMBOL_FILE(klpt_target, klpt_dup, "klpt_target_b.c");
/* And three static klpt_dup_val: the one of klpt_target_c.c. */
extern int klpt_dup_val_c[]
	KLP_SYMBOL_FILE(klpt_target, klpt_dup_val, "klpt_target_c.c");
/* Unique in vmlinux: object and position 0 are inferred. */
extern int (klpt_nr_processes)(void)
	KLP_SYMBOL(klpt_target, nr_processes);

#endif /* _KLPT_INFER_H */
