/* SPDX-License-Identifier: GPL-2.0 */
/* The reference of klpt_neg_missing.c that the kernel cannot resolve. */
#ifndef _KLPT_NEG_MISSING_H
#define _KLPT_NEG_MISSING_H

#include <linux/livepatch_reloc.h>

extern char klpt_missing[]
	KLP_RELOC_SYMBOL(vmlinux, vmlinux, klpt_no_such_symbol);

#endif /* _KLPT_NEG_MISSING_H */
