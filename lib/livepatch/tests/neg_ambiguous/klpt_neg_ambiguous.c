// SPDX-License-Identifier: GPL-2.0
/*
 * klpt_neg_ambiguous - livepatch selftest, negative: position 0 for
 * c_start, defined three times
 */
#include "klpt_neg_ambiguous.h"

#define KLPT_NEG_REF klpt_c_start
#include "../include/klpt_neg.h"

MODULE_DESCRIPTION("Livepatch selftest: ambiguous position 0");
