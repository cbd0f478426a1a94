// SPDX-License-Identifier: GPL-2.0
/*
 * klpt_neg_jump_table - livepatch selftest, negative: a static key of the
 * patched module used in the livepatch's code.
 *
 * static_branch_unlikely() puts a reference to the key in __jump_table,
 * which the kernel processes when the livepatch module loads, before any
 * module-specific livepatch relocation can be written: klp-convert must
 * refuse to build this module.
 */
#include <linux/jump_label.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/livepatch.h>

#include "klpt_neg_jump_table.h"

static int klpt_neg_report(char *buf)
{
	if (static_branch_unlikely(&klpt_key))
		return scnprintf(buf, PAGE_SIZE, "key on\n");

	return scnprintf(buf, PAGE_SIZE, "key off\n");
}

static struct klp_func klpt_funcs[] = {
	{
		.old_name = "klpt_target_report",
		.new_func = klpt_neg_report,
	}, { }
};

static struct klp_object klpt_objs[] = {
	{
		.name = "klpt_target",
		.funcs = klpt_funcs,
	}, { }
};

static struct klp_patch klpt_patch = {
	.mod = THIS_MODULE,
	.objs = klpt_objs,
};

static int __init klpt_neg_init(void)
{
	return klp_enable_patch(&klpt_patch);
}

static void __exit klpt_neg_exit(void)
{
}

module_init(klpt_neg_init);
module_exit(klpt_neg_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Livepatch selftest: module relocation in __jump_table");
MODULE_INFO(livepatch, "Y");
