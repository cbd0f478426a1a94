// SPDX-License-Identifier: GPL-2.0
/*
 * klpt_neg_missing - livepatch selftest, negative: a vmlinux symbol that
 * does not exist
 */
#include "klpt_neg_missing.h"

#define KLPT_NEG_REF klpt_missing
#include "../include/klpt_neg.h"

MODULE_DESCRIPTION("Livepatch selftest: a vmlinux symbol that does not exist");
