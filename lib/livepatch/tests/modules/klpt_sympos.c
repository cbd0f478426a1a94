// SPDX-License-Identifier: GPL-2.0
/*
 * klpt_sympos - livepatch selftest: a vmlinux name defined several times
 *
 * c_start is a static function in three places of both Debian 6.1 and
 * 6.12 (the seq_file iterators of /proc/cpuinfo, /proc/consoles and
 * /proc/devices, or thereabouts).  Each of its positions is referenced and
 * the resolved address is printed, so that the selftest runner can compare
 * it with the matching /proc/kallsyms entry (vmlinux symbols of one name
 * are counted in ascending address order).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>

#include "klpt_sympos.h"

/* A table in .data (named: GCC would make it .rodata), R_X86_64_64 each. */
static void *klpt_c_start[] __section(".data") = {
	klpt_c_start_1,
	klpt_c_start_2,
	klpt_c_start_3,
};

static int klpt_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_puts(m, "klpt_sympos\n");
	return 0;
}

static struct klp_func klpt_funcs[] = {
	{
		.old_name = "cmdline_proc_show",
		.new_func = klpt_cmdline_proc_show,
	}, { }
};

static struct klp_object klpt_objs[] = {
	{
		.funcs = klpt_funcs,
	}, { }
};

static struct klp_patch klpt_patch = {
	.mod = THIS_MODULE,
	.objs = klpt_objs,
};

static int __init klpt_sympos_init(void)
{
	int i;

	/*
	 * vmlinux relocations are applied when this module is loaded.  The
	 * raw address is what the selftest compares with /proc/kallsyms.
	 */
	for (i = 0; i < ARRAY_SIZE(klpt_c_start); i++)
		pr_info("resolved c_start,%d %lx\n", i + 1,
			(unsigned long)klpt_c_start[i]);

	return klp_enable_patch(&klpt_patch);
}

static void __exit klpt_sympos_exit(void)
{
}

module_init(klpt_sympos_init);
module_exit(klpt_sympos_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Livepatch selftest: vmlinux symbol positions");
MODULE_INFO(livepatch, "Y");
