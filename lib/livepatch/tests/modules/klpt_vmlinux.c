// SPDX-License-Identifier: GPL-2.0
/*
 * klpt_vmlinux - livepatch selftest: references to vmlinux (position 0)
 *
 * Replaces cmdline_proc_show() so that /proc/cmdline prints the kernel's
 * non-exported saved_command_line followed by a marker, the value of the
 * non-exported function nr_processes() and the outcome of two 64-bit
 * absolute references, one from .data and one from .rodata.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/livepatch.h>
#include <linux/seq_file.h>

#include "klpt_vmlinux.h"

/*
 * R_X86_64_64 in .data.  The section is named because GCC moves a static
 * object that is never written to .rodata.
 */
static char **klpt_cmdline_ptr __section(".data") = klpt_cmdline;
/* R_X86_64_64 in .rodata. */
static char ** const klpt_cmdline_rptr = klpt_cmdline;

/*
 * saved_command_line is read through a PC-relative load and nr_processes()
 * called through a PLT32 call, both in .text.
 */
static int klpt_cmdline_proc_show(struct seq_file *m, void *v)
{
	char **data = READ_ONCE(klpt_cmdline_ptr);
	char **rodata = READ_ONCE(klpt_cmdline_rptr);

	seq_printf(m, "%s klpt_vmlinux nr_processes=%d data64=%s rodata64=%s\n",
		   klpt_cmdline[0], klpt_nr_processes(),
		   data == klpt_cmdline ? "ok" : "bad",
		   rodata == klpt_cmdline ? "ok" : "bad");
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
		/* name being NULL means vmlinux */
		.funcs = klpt_funcs,
	}, { }
};

static struct klp_patch klpt_patch = {
	.mod = THIS_MODULE,
	.objs = klpt_objs,
};

static int __init klpt_vmlinux_init(void)
{
	return klp_enable_patch(&klpt_patch);
}

static void __exit klpt_vmlinux_exit(void)
{
}

module_init(klpt_vmlinux_init);
module_exit(klpt_vmlinux_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Livepatch selftest: vmlinux references at position 0");
MODULE_INFO(livepatch, "Y");
