/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * References of livepatch-annotated-sample.c to symbols that vmlinux does
 * not export.
 */
#ifndef _LIVEPATCH_ANNOTATED_SAMPLE_H
#define _LIVEPATCH_ANNOTATED_SAMPLE_H

#include <linux/livepatch_reloc.h>

/*
 * The kernel's saved_command_line (char * in <linux/init.h> of v6.1 and
 * v6.12) under a C name of its own: <linux/init.h> already declares
 * saved_command_line, and giving a declared symbol an assembler name
 * renames every use in the file (GCC) or is refused after a use (clang).
 */
extern char *klp_saved_command_line
	KLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);

#endif /* _LIVEPATCH_ANNOTATED_SAMPLE_H */
