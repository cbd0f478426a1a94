// SPDX-License-Identifier: GPL-2.0
/*
 * klpt_neg_plain - livepatch selftest, negative: a plain reference to
 * c_start, defined three times
 */
#include "klpt_neg_plain.h"

#define KLPT_NEG_REF c_start
#include "../include/klpt_neg.h"

MODULE_DESCRIPTION("Livepatch selftest: ambiguous plain reference");
