// SPDX-License-Identifier: GPL-2.0
/*
 * klpt_plain - livepatch selftest: plain extern references
 *
 * Replaces klpt_target_report() of klpt_target, like klpt_infer, with code
 * that references non-exported symbols of vmlinux and of klpt_target the
 * way the patched code does, through plain extern declarations.  klp-convert
 * reads their objects and positions from the target's symbols at build time;
 * the names klpt_target defines three times are settled by a
 * KLP_MODULE_RELOC() table, the form of the earlier upstream series.  The
 * new function prints the values and addresses it reaches, for the selftest
 * runner to compare with /proc/kallsyms.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/livepatch_reloc.h>
#include <linux/module.h>

#include "klpt_plain.h"

KLP_MODULE_RELOC(klpt_target) klpt_plain_relocs[] = {
	KLP_SYMPOS(klpt_dup, 2),
	KLP_SYMPOS(klpt_dup_val, 3),
};

static int klpt_plain_report(char *buf)
{
	return scnprintf(buf, PAGE_SIZE,
			 "klpt_plain dup=%x val=%x a=%x nr_processes=%s\n"
			 "cmdline=%s\n"
			 "resolved klpt_dup,2 %lx\n"
			 "resolved klpt_dup_val,3 %lx\n"
			 "resolved klpt_target_a,0 %lx\n",
			 klpt_dup(), klpt_dup_val, klpt_target_a(),
			 nr_processes() > 0 ? "ok" : "bad",
			 saved_command_line,
			 (unsigned long)klpt_dup,
			 (unsigned long)&klpt_dup_val,
			 (unsigned long)klpt_target_a);
}

static struct klp_func klpt_funcs[] = {
	{
		.old_name = "klpt_target_report",
		.new_func = klpt_plain_report,
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

static int __init klpt_plain_init(void)
{
	return klp_enable_patch(&klpt_patch);
}

static void __exit klpt_plain_exit(void)
{
}

module_init(klpt_plain_init);
module_exit(klpt_plain_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Livepatch selftest: plain extern references");
MODULE_INFO(livepatch, "Y");
