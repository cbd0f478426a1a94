/* SPDX-License-Identifier: GPL-2.0 */
/*
 * References of klpt_lp_distro.c to static symbols of the distribution's
 * dummy network driver (drivers/net/dummy.c), which it does not export.
 */
#ifndef _KLPT_LP_DISTRO_H
#define _KLPT_LP_DISTRO_H

#include <linux/livepatch_reloc.h>

/* static int numdummies, a module parameter: [0] is its value. */
extern int klpt_numdummies[]
	KLP_RELOC_SYMBOL(dummy, dummy, numdummies);
/* static struct rtnl_link_ops dummy_link_ops, in .data. */
extern char klpt_dummy_link_ops[]
	KLP_RELOC_SYMBOL(dummy, dummy, dummy_link_ops);
/* static const struct net_device_ops dummy_netdev_ops, in .rodata. */
extern char klpt_dummy_netdev_ops[]
	KLP_RELOC_SYMBOL(dummy, dummy, dummy_netdev_ops);

#endif /* _KLPT_LP_DISTRO_H */
