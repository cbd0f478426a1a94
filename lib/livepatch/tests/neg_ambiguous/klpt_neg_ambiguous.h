/* SPDX-License-Identifier: GPL-2.0 */
/* The reference of klpt_neg_ambiguous.c that the kernel cannot resolve. */
#ifndef _KLPT_NEG_AMBIGUOUS_H
#define _KLPT_NEG_AMBIGUOUS_H

#include <linux/livepatch_reloc.h>

extern char klpt_c_start[]
	KLP_RELOC_SYMBOL(vmlinux, vmlinux, c_start);

#endif /* _KLPT_NEG_AMBIGUOUS_H */
