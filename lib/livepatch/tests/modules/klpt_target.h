/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _KLPT_TARGET_H
#define _KLPT_TARGET_H

/*
 * Each of klpt_target_a.c, klpt_target_b.c and klpt_target_c.c defines a
 * static function klpt_dup() and a static variable klpt_dup_val of the
 * same names; these accessors keep them in the module.
 */
int klpt_target_a(void);
int klpt_target_b(void);
int klpt_target_c(void);

int klpt_target_report(char *buf);

#endif /* _KLPT_TARGET_H */
