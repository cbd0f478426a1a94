/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KLPT_TARGET_H
#define _KLPT_TARGET_H

/*
 * Each of klpt_target_a.c, klpt_target_b.c and klpt_target_c.c defines a
 * static function klpt_dup() and a static variable klpt_dup_val of the
 * same names; these accessors keep them in the module.  The symbol table
 * lists them in link order (a, b, c), by which the kernel counts their
 * positions.  b's klpt_dup_val is in .rodata, so that the addresses of the
 * three are in another order (on both 6.1 and 6.12, whose module layouts
 * differ) and counting by address would be caught; b's klpt_dup() is in
 * .text.unlikely for the same purpose, which works where the module
 * linker script keeps that section apart (6.1, not 6.12).
 */
int klpt_target_a(void);
int klpt_target_b(void);
int klpt_target_c(void);

int klpt_target_report(char *buf);

#endif /* _KLPT_TARGET_H */
