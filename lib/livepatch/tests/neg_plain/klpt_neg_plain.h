/* SPDX-License-Identifier: GPL-2.0 */
/* The plain reference of klpt_neg_plain.c: vmlinux has three c_start. */
#ifndef _KLPT_NEG_PLAIN_H
#define _KLPT_NEG_PLAIN_H

int c_start(void);

#endif /* _KLPT_NEG_PLAIN_H */
