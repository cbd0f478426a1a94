// SPDX-License-Identifier: GPL-2.0
/*
 * klpt_neg_sympos - livepatch selftest, negative: a position beyond the
 * only saved_command_line
 */
#include "klpt_neg_sympos.h"

#define KLPT_NEG_REF klpt_cmdline
#include "../include/klpt_neg.h"

MODULE_DESCRIPTION("Livepatch selftest: a position that does not exist");
