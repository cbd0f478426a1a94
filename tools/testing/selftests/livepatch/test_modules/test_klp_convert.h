/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _TEST_KLP_CONVERT_H
#define _TEST_KLP_CONVERT_H

/*
 * test_klp_convert_mod is built from two objects that each define a
 * static function test_klp_convert_get() and a static variable
 * test_klp_convert_val: positions 1 and 2 in the module's symbol table.
 * Object a's return 1, object b's return 2.
 */
int test_klp_convert_mod_a(void);
int test_klp_convert_mod_b(void);

#endif /* _TEST_KLP_CONVERT_H */
