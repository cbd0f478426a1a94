// SPDX-License-Identifier: GPL-2.0
/*
 * klpt_target_b - one of three objects of klpt_target defining the same
 * static names: klpt_dup() returns 0xb, klpt_dup_val holds 0x1b.
 */
#include <linux/compiler.h>
#include "klpt_target.h"

/* In .rodata, unlike the klpt_dup_val of the other two objects. */
static const int klpt_dup_val = 0x1b;

/* __cold puts it in .text.unlikely, away from the other two. */
static noinline __noclone __cold int klpt_dup(void)
{
	/* GCC 16 would drop or clone it, and the name with it. */
	barrier();
	return 0xb;
}

int klpt_target_b(void)
{
	return klpt_dup() + READ_ONCE(klpt_dup_val);
}
