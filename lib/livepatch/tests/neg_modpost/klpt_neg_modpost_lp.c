// SPDX-License-Identifier: GPL-2.0
/*
 * klpt_neg_modpost_lp - livepatch selftest: a livepatch with a plain
 * reference to a non-exported symbol, which modpost lets through
 */
#include "klpt_neg_modpost.h"

#define KLPT_NEG_REF nr_processes
#include "../include/klpt_neg.h"

MODULE_DESCRIPTION("Livepatch selftest: plain reference past modpost");
