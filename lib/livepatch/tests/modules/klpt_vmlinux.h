/* SPDX-License-Identifier: GPL-2.0 */
/*
 * References of klpt_vmlinux.c to symbols that vmlinux does not export.
 *
 * Functions are declared with a parenthesised name and objects as arrays:
 * that is how checkpatch.pl reads several annotated declarations in a row
 * as declarations rather than as function definitions.
 */
#ifndef _KLPT_VMLINUX_H
#define _KLPT_VMLINUX_H

#include <linux/livepatch_reloc.h>

/* saved_command_line, a char *: klpt_cmdline[0] is its value. */
extern char *klpt_cmdline[]
	KLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);
extern int (klpt_nr_processes)(void)
	KLP_RELOC_SYMBOL(vmlinux, vmlinux, nr_processes);

#endif /* _KLPT_VMLINUX_H */
