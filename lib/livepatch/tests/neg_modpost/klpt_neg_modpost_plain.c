// SPDX-License-Identifier: GPL-2.0
/*
 * klpt_neg_modpost_plain - livepatch selftest, negative: a module that is
 * not a livepatch references a non-exported symbol; modpost must refuse it
 */
#include <linux/module.h>

#include "klpt_neg_modpost.h"

static int __init klpt_neg_modpost_init(void)
{
	return nr_processes() > 0 ? 0 : -EINVAL;
}

module_init(klpt_neg_modpost_init);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Livepatch selftest: not a livepatch, undefined symbol");
