// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * livepatch-annotated-sample.c - a livepatch that uses a non-exported symbol
 *
 * The patch replaces cmdline_proc_show() of fs/proc/cmdline.c.  The new
 * function prints the kernel's saved_command_line, which vmlinux does not
 * export: the reference is annotated with KLP_RELOC_SYMBOL() and Kbuild's
 * klp-convert step turns it into a livepatch relocation, which the kernel
 * resolves when the patch module loads.
 *
 * Example:
 *
 * $ cat /proc/cmdline
 * <your cmdline>
 *
 * $ insmod livepatch-annotated-sample.ko
 * $ cat /proc/cmdline
 * klp-convert: <your cmdline>
 *
 * $ echo 0 > /sys/kernel/livepatch/livepatch_annotated_sample/enabled
 * $ cat /proc/cmdline
 * <your cmdline>
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/seq_file.h>

#include "livepatch-annotated-sample.h"

static int klp_sample_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "klp-convert: %s\n", klp_saved_command_line);
	return 0;
}

static struct klp_func klp_sample_funcs[] = {
	{
		.old_name = "cmdline_proc_show",
		.new_func = klp_sample_cmdline_proc_show,
	},
	{ }
};

static struct klp_object klp_sample_objs[] = {
	{
		/* A NULL name is vmlinux. */
		.funcs = klp_sample_funcs,
	},
	{ }
};

static struct klp_patch klp_sample_patch = {
	.mod = THIS_MODULE,
	.objs = klp_sample_objs,
};

static int __init klp_sample_init(void)
{
	return klp_enable_patch(&klp_sample_patch);
}

static void __exit klp_sample_exit(void)
{
}

module_init(klp_sample_init);
module_exit(klp_sample_exit);
MODULE_DESCRIPTION("Livepatch sample: /proc/cmdline through a non-exported symbol");
MODULE_LICENSE("GPL");
MODULE_INFO(livepatch, "Y");
