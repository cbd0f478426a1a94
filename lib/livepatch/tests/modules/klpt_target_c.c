// SPDX-License-Identifier: GPL-2.0
/*
 * klpt_target_c - one of three objects of klpt_target defining the same
 * static names: klpt_dup() returns 0xc, klpt_dup_val holds 0x1c.
 */
#include <linux/compiler.h>
#include "klpt_target.h"

/* Named: GCC would move a static int never written to .rodata. */
static int klpt_dup_val __section(".data") = 0x1c;

static noinline __noclone int klpt_dup(void)
{
	/* GCC 16 would drop or clone it, and the name with it. */
	barrier();
	return 0xc;
}

int klpt_target_c(void)
{
	return klpt_dup() + READ_ONCE(klpt_dup_val);
}
