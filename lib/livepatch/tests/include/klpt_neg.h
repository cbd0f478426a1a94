/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The body of the negative livepatch selftests (neg_*): a patch of
 * cmdline_proc_show() that prints the address of KLPT_NEG_REF, a reference
 * that the kernel refuses at load time, or klp-convert given the kernel's
 * symbols at build time.  Each klpt_neg_*.c declares the reference, defines
 * KLPT_NEG_REF and includes this file once.
 */
#ifndef _KLPT_NEG_H
#define _KLPT_NEG_H

#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>

static int klpt_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%lx\n", (unsigned long)KLPT_NEG_REF);
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
MODULE_INFO(livepatch, "Y");

#endif /* _KLPT_NEG_H */
