/* SPDX-License-Identifier: GPL-2.0 */
/* The plain reference of both modules: vmlinux does not export it. */
#ifndef _KLPT_NEG_MODPOST_H
#define _KLPT_NEG_MODPOST_H

int nr_processes(void);

#endif /* _KLPT_NEG_MODPOST_H */
