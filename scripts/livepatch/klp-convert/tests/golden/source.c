// SPDX-License-Identifier: GPL-2.0-only
/*
 * Input of the golden tests: a minimal livepatch-like module using the
 * annotations of include/linux/livepatch_reloc.h, compiled once per
 * architecture by make-inputs.sh. The macros are repeated here so that
 * the inputs can be rebuilt without a kernel tree.
 */
#define __weak __attribute__((weak))
#define KLP_RELOC_SYMBOL_POS(patched_obj, sym_obj, sym, pos)		\
	asm("\".klp.sym.rela." #patched_obj "." #sym_obj "." #sym	\
	    "," #pos "\"") __weak
#define KLP_RELOC_SYMBOL(patched_obj, sym_obj, sym)			\
	KLP_RELOC_SYMBOL_POS(patched_obj, sym_obj, sym, 0)

static const char modinfo[] __attribute__((section(".modinfo"), used,
					  aligned(1))) = "license=GPL\0livepatch=Y";

extern int printk(const char *fmt, ...);

extern char *saved_command_line
	KLP_RELOC_SYMBOL(vmlinux, vmlinux, saved_command_line);
extern int target_var KLP_RELOC_SYMBOL_POS(target_mod, target_mod, target_var, 2);
extern int target_func(int x) KLP_RELOC_SYMBOL(target_mod, target_mod, target_func);
extern void vmlinux_func(void) KLP_RELOC_SYMBOL(target_mod, vmlinux, vmlinux_func);

/* Data relocations only: the ordinary .rela section disappears. */
void *klp_ptrs[] = { &saved_command_line, &target_var, vmlinux_func };

int livepatch_target_func(int x)
{
	/* arm64 reaches weak data through the GOT, which klp-convert rewrites. */
	printk("%s %d\n", saved_command_line, target_var);
	vmlinux_func();
	return target_func(x) + 1;
}
