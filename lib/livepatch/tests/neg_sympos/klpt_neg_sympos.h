/* SPDX-License-Identifier: GPL-2.0 */
/* The reference of klpt_neg_sympos.c that the kernel cannot resolve. */
#ifndef _KLPT_NEG_SYMPOS_H
#define _KLPT_NEG_SYMPOS_H

#include <linux/livepatch_reloc.h>

extern char *klpt_cmdline[]
	KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, saved_command_line, 2);

#endif /* _KLPT_NEG_SYMPOS_H */
