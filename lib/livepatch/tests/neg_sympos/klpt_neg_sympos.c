// SPDX-License-Identifier: GPL-2.0
/*
 * klpt_neg_sympos - livepatch selftest, negative: a position beyond the
 * only saved_command_line
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>

#include "klpt_neg_sympos.h"

static int klpt_cmdline_proc_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%lx\n", (unsigned long)klpt_cmdline);
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
MODULE_DESCRIPTION("Livepatch selftest: a position that does not exist");
MODULE_INFO(livepatch, "Y");
