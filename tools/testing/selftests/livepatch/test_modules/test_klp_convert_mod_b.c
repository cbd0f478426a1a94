// SPDX-License-Identifier: GPL-2.0
/*
 * Target module of test-klp-convert.sh, second object: the same static
 * names as test_klp_convert_mod_a.c, at the second position.
 */

#include <linux/compiler.h>
#include "test_klp_convert.h"

static int test_klp_convert_val = 2;

/* Not cloned: a clone would have another name. */
static noinline __noclone int test_klp_convert_get(void)
{
	barrier();
	return READ_ONCE(test_klp_convert_val);
}

noinline int test_klp_convert_mod_b(void)
{
	return test_klp_convert_get();
}
