/* SPDX-License-Identifier: GPL-2.0 */
/* A static key of klpt_target, used by klpt_neg_jump_table.c. */
#ifndef _KLPT_NEG_JUMP_TABLE_H
#define _KLPT_NEG_JUMP_TABLE_H

#include <linux/jump_label.h>
#include <linux/livepatch_reloc.h>

extern struct static_key_false klpt_key
	KLP_RELOC_SYMBOL(klpt_target, klpt_target, klpt_target_key);

#endif /* _KLPT_NEG_JUMP_TABLE_H */
