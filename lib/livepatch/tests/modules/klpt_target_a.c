// SPDX-License-Identifier: GPL-2.0
/*
 * klpt_target_a - one of three objects of klpt_target defining the same
 * static names: klpt_dup() returns 0xa, klpt_dup_val holds 0x1a.
 */
#include <linux/compiler.h>
#include "klpt_target.h"

/* Named: GCC would move a static int never written to .rodata. */
static int klpt_dup_val __section(".data") = 0x1a;

static noinline __noclone int klpt_dup(void)
{
	/* GCC 16 would drop or clone it, and the name with it. */
	barrier();
	return 0xa;
}

int klpt_target_a(void)
{
	return klpt_dup() + READ_ONCE(klpt_dup_val);
}
