/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The references of klpt_plain.c, declared as in the code they come from:
 * none is exported, klp-convert finds each one's object and position.
 */
#ifndef _KLPT_PLAIN_H
#define _KLPT_PLAIN_H

/* Unique in vmlinux: a variable and a static function. */
extern char *saved_command_line;
int nr_processes(void);

/* Unique in klpt_target. */
int klpt_target_a(void);

/*
 * Defined by each of klpt_target_a.c, klpt_target_b.c and klpt_target_c.c:
 * klpt_plain.c names the one it means in a KLP_MODULE_RELOC() table.
 */
int klpt_dup(void);
extern int klpt_dup_val;

#endif /* _KLPT_PLAIN_H */
