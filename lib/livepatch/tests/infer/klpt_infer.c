// SPDX-License-Identifier: GPL-2.0
/*
 * klpt_infer - livepatch selftest: annotations completed by klp-convert
 *
 * Replaces klpt_target_report() of klpt_target, like klpt_lp_target, but
 * names the symbols with KLP_SYMBOL() and KLP_SYMBOL_FILE(), leaving the
 * object and the position to klp-convert, which reads them from the
 * target's symbols at build time.  The new function prints the values and
 * the addresses it reaches, for the selftest runner to compare with
 * /proc/kallsyms.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>

#include "klpt_infer.h"

static int klpt_infer_report(char *buf)
{
	return scnprintf(buf, PAGE_SIZE,
			 "klpt_infer dup=%x val=%x nr_processes=%s\n"
			 "resolved klpt_dup,2 %lx\n"
			 "resolved klpt_dup_val,3 %lx\n",
			 klpt_dup_b(), klpt_dup_val_c[0],
			 klpt_nr_processes() > 0 ? "ok" : "bad",
			 (unsigned long)klpt_dup_b,
			 (unsigned long)klpt_dup_val_c);
}

static struct klp_func klpt_funcs[] = {
	{
		.old_name = "klpt_target_report",
		.new_func = klpt_infer_report,
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

static int __init klpt_infer_init(void)
{
	return klp_enable_patch(&klpt_patch);
}

static void __exit klpt_infer_exit(void)
{
}

module_init(klpt_infer_init);
module_exit(klpt_infer_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Livepatch selftest: inferred objects and positions");
MODULE_INFO(livepatch, "Y");
