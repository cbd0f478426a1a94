// SPDX-License-Identifier: GPL-2.0
/*
 * klpt_lp_target - livepatch selftest: references into a module
 *
 * Replaces klpt_target_report() of klpt_target.  The new function reaches
 * the three static klpt_dup() functions and klpt_dup_val variables of
 * klpt_target by position (module symbols of one name are counted in the
 * order of the module's symbol table), through several sections and
 * relocation types:
 *
 *  - direct calls and PC-relative loads in .text (PLT32/PC32),
 *  - a function pointer table in .data (R_X86_64_64),
 *  - a function pointer table in .rodata (R_X86_64_64, written late),
 *
 * and a vmlinux symbol, referenced from code patching klpt_target, which
 * must still land in a .klp.rela.vmlinux.* section.  It prints the values
 * and the resolved addresses for the selftest runner to check.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/livepatch.h>
#include <linux/string.h>

#include "klpt_lp_target.h"

typedef int (*klpt_fn_t)(void);

/* Named: GCC moves a static object that is never written to .rodata. */
static klpt_fn_t klpt_dup_table[] __section(".data") = {
	klpt_dup_1,
	klpt_dup_2,
	klpt_dup_3,
};

static const klpt_fn_t klpt_dup_rotable[] = {
	klpt_dup_1,
	klpt_dup_2,
	klpt_dup_3,
};

static int *klpt_dup_vals[] __section(".data") = {
	klpt_dup_val_1,
	klpt_dup_val_2,
	klpt_dup_val_3,
};

static int klpt_lp_target_report(char *buf)
{
	int len, i;

	len = scnprintf(buf, PAGE_SIZE,
			"patched calls=%x,%x,%x vals=%x,%x,%x cmdline=%s\n",
			klpt_dup_1(), klpt_dup_2(), klpt_dup_3(),
			klpt_dup_val_1[0], klpt_dup_val_2[0], klpt_dup_val_3[0],
			strlen(klpt_cmdline[0]) ? "ok" : "bad");

	len += scnprintf(buf + len, PAGE_SIZE - len, "table=");
	for (i = 0; i < ARRAY_SIZE(klpt_dup_table); i++)
		len += scnprintf(buf + len, PAGE_SIZE - len, "%x,",
				 klpt_dup_table[i]());
	len += scnprintf(buf + len, PAGE_SIZE - len, " rotable=");
	for (i = 0; i < ARRAY_SIZE(klpt_dup_rotable); i++) {
		klpt_fn_t fn = READ_ONCE(klpt_dup_rotable[i]);

		len += scnprintf(buf + len, PAGE_SIZE - len, "%x,", fn());
	}
	len += scnprintf(buf + len, PAGE_SIZE - len, "\n");

	/* Raw addresses, for the selftest to compare with /proc/kallsyms. */
	for (i = 0; i < ARRAY_SIZE(klpt_dup_table); i++)
		len += scnprintf(buf + len, PAGE_SIZE - len,
				 "resolved klpt_dup,%d %lx\n",
				 i + 1, (unsigned long)klpt_dup_table[i]);
	for (i = 0; i < ARRAY_SIZE(klpt_dup_vals); i++)
		len += scnprintf(buf + len, PAGE_SIZE - len,
				 "resolved klpt_dup_val,%d %lx\n",
				 i + 1, (unsigned long)klpt_dup_vals[i]);

	return len;
}

static struct klp_func klpt_funcs[] = {
	{
		.old_name = "klpt_target_report",
		.new_func = klpt_lp_target_report,
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

static int __init klpt_lp_target_init(void)
{
	return klp_enable_patch(&klpt_patch);
}

static void __exit klpt_lp_target_exit(void)
{
}

module_init(klpt_lp_target_init);
module_exit(klpt_lp_target_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Livepatch selftest: references into klpt_target");
MODULE_INFO(livepatch, "Y");
