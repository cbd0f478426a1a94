// SPDX-License-Identifier: GPL-2.0
/*
 * Livepatch test of klp-convert: references to symbols that neither
 * vmlinux nor test_klp_convert_mod exports.  klp-convert, run by Kbuild,
 * turns them into livepatch relocations that the livepatch core resolves
 * when the patch, or later the target module, is loaded.  Writing to the
 * "report" parameter prints where each reference landed and what it
 * reads, for test-klp-convert.sh to compare with /proc/kallsyms.
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include "test_klp_convert1.h"

/*
 * The module references resolve only while test_klp_convert_mod is
 * loaded: test-klp-convert.sh writes "report" only then.
 */
static int report_set(const char *val, const struct kernel_param *kp)
{
	pr_info("saved_command_line %lx: %s\n",
		(unsigned long)klp_saved_command_line, klp_saved_command_line[0]);
	pr_info("cmdline_proc_show %lx\n", (unsigned long)klp_cmdline_proc_show);
	pr_info("test_klp_convert_get,1 %lx returns %d\n",
		(unsigned long)klp_get_1, klp_get_1());
	pr_info("test_klp_convert_get,2 %lx returns %d\n",
		(unsigned long)klp_get_2, klp_get_2());
	pr_info("test_klp_convert_val,1 %lx holds %d\n",
		(unsigned long)klp_val_1, klp_val_1[0]);
	pr_info("test_klp_convert_val,2 %lx holds %d\n",
		(unsigned long)klp_val_2, klp_val_2[0]);
	return 0;
}

static const struct kernel_param_ops report_ops = {
	.set = report_set,
};
module_param_cb(report, &report_ops, NULL, 0200);
MODULE_PARM_DESC(report, "print the resolved references (target loaded)");

static int livepatch_test_klp_convert_mod_b(void)
{
	return 20;
}

static struct klp_func funcs[] = {
	{
		.old_name = "test_klp_convert_mod_b",
		.new_func = livepatch_test_klp_convert_mod_b,
	}, { }
};

static struct klp_object objs[] = {
	{
		.name = "test_klp_convert_mod",
		.funcs = funcs,
	}, { }
};

static struct klp_patch patch = {
	.mod = THIS_MODULE,
	.objs = objs,
};

static int test_klp_convert1_init(void)
{
	return klp_enable_patch(&patch);
}

static void test_klp_convert1_exit(void)
{
}

module_init(test_klp_convert1_init);
module_exit(test_klp_convert1_exit);
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
MODULE_DESCRIPTION("Livepatch test: references converted by klp-convert");
