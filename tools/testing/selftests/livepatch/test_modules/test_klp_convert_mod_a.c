// SPDX-License-Identifier: GPL-2.0
/*
 * Target module of test-klp-convert.sh, first object.  Its static symbols
 * have the same names as those of test_klp_convert_mod_b.c, so that a
 * livepatch can tell them apart only by their position in the module.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/compiler.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include "test_klp_convert.h"

static int test_klp_convert_val = 1;

/* Not cloned: a clone would have another name. */
static noinline __noclone int test_klp_convert_get(void)
{
	barrier();
	return READ_ONCE(test_klp_convert_val);
}

noinline int test_klp_convert_mod_a(void)
{
	return test_klp_convert_get();
}

static int __init test_klp_convert_mod_init(void)
{
	pr_info("%s: %d %d\n", __func__, test_klp_convert_mod_a(),
		test_klp_convert_mod_b());
	return 0;
}

static void __exit test_klp_convert_mod_exit(void)
{
}

module_init(test_klp_convert_mod_init);
module_exit(test_klp_convert_mod_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Livepatch test: target module of klp-convert's test");
