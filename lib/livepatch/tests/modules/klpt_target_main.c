// SPDX-License-Identifier: GPL-2.0
/*
 * klpt_target - target module of the livepatch selftests
 *
 * /sys/module/klpt_target/parameters/report shows what
 * klpt_target_report() writes, which is what klpt_lp_target replaces.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/jump_label.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include "klpt_target.h"

/* Referenced from a __jump_table entry by the neg_jump_table test. */
DEFINE_STATIC_KEY_FALSE(klpt_target_key);

noinline int klpt_target_report(char *buf)
{
	int sum = klpt_target_a() + klpt_target_b() + klpt_target_c();

	if (static_branch_unlikely(&klpt_target_key))
		sum = 0;

	return scnprintf(buf, PAGE_SIZE, "original sum=%#x\n", sum);
}

static int klpt_report_get(char *buf, const struct kernel_param *kp)
{
	return klpt_target_report(buf);
}

static const struct kernel_param_ops klpt_report_ops = {
	.get = klpt_report_get,
};

module_param_cb(report, &klpt_report_ops, NULL, 0444);
MODULE_PARM_DESC(report, "What klpt_target_report() writes");

static int __init klpt_target_init(void)
{
	return 0;
}

static void __exit klpt_target_exit(void)
{
}

module_init(klpt_target_init);
module_exit(klpt_target_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Livepatch selftest: target module");
