// SPDX-License-Identifier: GPL-2.0
/*
 * klpt_lp_distro - livepatch selftest: a module built by the distribution
 *
 * Replaces dummy_get_stats64() of the distribution's own dummy.ko, which
 * /sys/class/net/dummy0/statistics/ files read, with a function that
 * reports, through the counters, a marker, the value of the module's
 * static numdummies and the addresses of three of its static symbols, for
 * the selftest runner to compare with /proc/kallsyms.  The symbol table of
 * that module is the distribution's, not one written for the test.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kernel.h>
#include <linux/livepatch.h>
#include <linux/module.h>
#include <linux/netdevice.h>

#include "klpt_lp_distro.h"

#define KLPT_DISTRO_MARKER	4242

static void klpt_dummy_get_stats64(struct net_device *dev,
				   struct rtnl_link_stats64 *stats)
{
	stats->rx_packets = KLPT_DISTRO_MARKER;
	stats->rx_errors = READ_ONCE(klpt_numdummies[0]);
	stats->rx_bytes = (unsigned long)klpt_numdummies;
	stats->tx_bytes = (unsigned long)klpt_dummy_link_ops;
	stats->tx_packets = (unsigned long)klpt_dummy_netdev_ops;
}

static struct klp_func klpt_funcs[] = {
	{
		.old_name = "dummy_get_stats64",
		.new_func = klpt_dummy_get_stats64,
	}, { }
};

static struct klp_object klpt_objs[] = {
	{
		.name = "dummy",
		.funcs = klpt_funcs,
	}, { }
};

static struct klp_patch klpt_patch = {
	.mod = THIS_MODULE,
	.objs = klpt_objs,
};

static int __init klpt_lp_distro_init(void)
{
	return klp_enable_patch(&klpt_patch);
}

static void __exit klpt_lp_distro_exit(void)
{
}

module_init(klpt_lp_distro_init);
module_exit(klpt_lp_distro_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Livepatch selftest: static symbols of dummy.ko");
MODULE_INFO(livepatch, "Y");
