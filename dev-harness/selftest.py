#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Build, boot and check the livepatch selftests.

One command, in the spirit of tools/testing/kunit/kunit.py: for each kernel
it prepares a build tree with dev-harness/prepare-kdir, builds the
test modules with "make -C $KDIR M=..." (so that Kbuild's own klp-convert
hook converts the livepatch ones), packs them with busybox into an
initramfs, boots the kernel under QEMU (TCG, dev-harness/boot), runs the cases
in the guest and prints KTAP.

  selftest.py run [--kernel debian-6.1 --kernel debian-6.12]
                      [--keep-logs DIR] [--build-dir DIR] [FILTER...]
  selftest.py list
  selftest.py kallsyms --kernel debian-6.12 --output FILE [--duplicates]

FILTER is a shell pattern matched against case names ("vmlinux_*").
Python 3 standard library only.
"""

import argparse
import fnmatch
import gzip
import lzma
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

HARNESS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HARNESS)
TESTS = os.path.join(REPO, 'lib', 'livepatch', 'tests')
PREPARE_KDIR = os.path.join(HARNESS, 'prepare-kdir')
DEFAULT_KERNELS = ['debian-6.1', 'debian-6.12', 'debian-7.2', 'debian-7.3']
BOOT = os.path.join(HARNESS, 'boot')

# Builds, each its own "make M=", in this order: a negative case that
# fails to build must not stop the others.  'sample' is the project's
# samples/livepatch; 'infer' and '<neg>.symbols' are built with the target
# kernel's symbols (make KLP_SYMBOLS=...), the latter from the sources of
# <neg>; 'infer' and 'plain' need klpt_target.ko of 'modules'.
MODULE_DIRS = ['sample', 'modules', 'infer', 'plain', 'neg_sympos',
               'neg_missing', 'neg_ambiguous', 'neg_plain',
               'neg_sympos.symbols', 'neg_missing.symbols',
               'neg_ambiguous.symbols', 'neg_plain.symbols', 'neg_modpost',
               'neg_jump_table']
# Built with the target's symbols and klpt_target.ko of 'modules'.
WITH_TARGET_SYMBOLS = ('infer', 'plain')
SAMPLES = os.path.join(REPO, 'samples', 'livepatch')
# A module of the distribution kernel (from prepare-kdir's MODULES) that
# klpt_lp_distro patches, and the groups that use modules/.
DISTRO_MODULE = 'kernel/drivers/net/dummy.ko'
MODULES_GROUPS = {'vmlinux', 'sympos', 'module', 'late', 'distro', 'infer',
                  'plain'}

# The number of c_start entries in vmlinux that klpt_sympos references.
C_START_COUNT = 3
# klpt_target defines klpt_dup and klpt_dup_val in three objects each.
DUP_COUNT = 3


class Case:
    """One KTAP test line.

    group: cases of one group run together in the guest, in list order (a
    group loads modules and its last case unloads them); None for cases
    decided on the host only.  needs: groups whose guest results a host
    case uses.
    """

    def __init__(self, name, desc, group=None, needs=()):
        self.name = name
        self.desc = desc
        self.group = group
        self.needs = tuple(needs)


CASES = [
    Case('sample', 'samples/livepatch built with M= loads and shows the '
         'real command line in /proc/cmdline', 'sample'),
    Case('unload_sample', 'disable and rmmod the sample: /proc/cmdline is '
         'original again', 'sample'),
    Case('vmlinux_refs', 'vmlinux data and function at position 0; '
         '/proc/cmdline shows the real command line', 'vmlinux'),
    Case('unload_vmlinux', 'disable and rmmod klpt_vmlinux: /proc/cmdline '
         'is original again', 'vmlinux'),
    Case('vmlinux_sympos', 'c_start,1..3 resolve to the kallsyms entries '
         'in address order', 'sympos'),
    Case('unload_sympos', 'disable and rmmod klpt_sympos', 'sympos'),
    Case('module_sympos', 'klpt_dup/klpt_dup_val,1..3 of klpt_target '
         'resolve to its kallsyms entries, target loaded first', 'module'),
    Case('reloc_sections', 'klp relocations in .text/.data/.rodata, '
         'PC32/PLT32/64 types, listed and working', needs=['vmlinux',
                                                             'module']),
    Case('vmlinux_not_module_specific', 'a vmlinux symbol used by code '
         'patching a module lands in .klp.rela.vmlinux.*',
         needs=['module']),
    Case('unload_lp_target', 'disable and rmmod klpt_lp_target: original '
         'klpt_target behaviour', 'module'),
    Case('late_patching', 'patch loaded first, klpt_target afterwards: '
         'relocated and patched on load', 'late'),
    Case('target_reload', 'rmmod and insmod klpt_target under the patch '
         '(refused before v6.3, by design of those kernels)', 'late'),
    Case('unload_lp_target_late', 'disable and rmmod klpt_lp_target after '
         'late patching', 'late'),
    Case('distro_module', 'static symbols of the distribution\'s dummy.ko '
         'resolve to its kallsyms entries; patched counters', 'distro'),
    Case('unload_lp_distro', 'disable and rmmod klpt_lp_distro: original '
         'dummy0 counters', 'distro'),
    Case('neg_sympos', 'saved_command_line,2 does not exist: refused',
         'neg_sympos'),
    Case('neg_missing', 'a missing vmlinux symbol: refused', 'neg_missing'),
    Case('neg_ambiguous', 'c_start,0 is ambiguous: refused',
         'neg_ambiguous'),
    Case('neg_jump_table', 'module-specific relocation in __jump_table: '
         'build fails'),
    Case('infer_symbols', 'KLP_SYMBOL()/KLP_SYMBOL_FILE(): object and '
         'position inferred at build time resolve right', 'infer'),
    Case('unload_infer', 'disable and rmmod klpt_infer', 'infer'),
    Case('neg_sympos_build', 'with the kernel\'s symbols, '
         'saved_command_line,2 fails the build'),
    Case('neg_missing_build', 'with the kernel\'s symbols, a missing '
         'symbol fails the build'),
    Case('neg_ambiguous_build', 'with the kernel\'s symbols, c_start,0 '
         'fails the build'),
    Case('plain_refs', 'plain extern references to vmlinux and klpt_target '
         'symbols, object and position from the kernel\'s symbols and a '
         'KLP_MODULE_RELOC() table, patch loaded before the target: '
         'resolved right', 'plain'),
    Case('unload_plain', 'disable and rmmod klpt_plain', 'plain'),
    Case('neg_plain', 'a plain reference without the kernel\'s symbols '
         'fails the build, saying how to give them'),
    Case('neg_plain_build', 'with the kernel\'s symbols, a plain reference '
         'to c_start fails the build listing its three candidates'),
    Case('neg_modpost', 'the same plain reference in a module that is not '
         'a livepatch fails modpost; the livepatch beside it does not'),
]

# Negative load cases: the module, and the symbol that klp-convert's
# message must name if it refuses the module at build time instead.
NEG_BUILD = {
    'neg_sympos': ('klpt_neg_sympos', 'saved_command_line'),
    'neg_missing': ('klpt_neg_missing', 'klpt_no_such_symbol'),
    'neg_ambiguous': ('klpt_neg_ambiguous', 'c_start'),
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Result:
    def __init__(self, ok, reason='', diag=(), skip=False):
        self.ok = ok
        self.reason = reason
        self.diag = list(diag)
        self.skip = skip
        self.log = None


# ---------------------------------------------------------------- setup


def prepare_kdir(kernel, prepare, defaults=None):
    """Run prepare-kdir and return its KEY=VALUE lines as a dict; defaults
    fill in what it did not print (VMLINUZ and MODULES for a kernel tree
    that is not a distribution's)."""
    proc = subprocess.run([prepare, kernel], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, check=False)
    if proc.returncode:
        raise SetupError('%s %s failed (exit %d):\n%s' %
                         (prepare, kernel, proc.returncode,
                          proc.stderr.strip()))
    env = {}
    for line in proc.stdout.splitlines():
        key, sep, val = line.partition('=')
        if sep and re.fullmatch(r'[A-Z_][A-Z0-9_]*', key):
            env[key] = ' '.join(shlex.split(val)) if val else ''
    for key, val in (defaults or {}).items():
        if val and not env.get(key):
            env[key] = os.path.abspath(val)
    # MODULES is optional: without it the distro_* cases are skipped.
    for key in ('KDIR', 'KERNELRELEASE', 'VMLINUZ'):
        if not env.get(key):
            raise SetupError('%s %s printed no %s (--%s)' %
                             (prepare, kernel, key, key.lower()))
    return env


class SetupError(Exception):
    pass


def read_conf(path):
    """A data file of the harness (kernels/, qemu/): KEY=VALUE lines, the
    value optionally in single quotes, # comments (as lib/conf.sh reads
    them)."""
    conf = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            line = line.rstrip('\n')
            if not line or line.startswith('#'):
                continue
            key, sep, val = line.partition('=')
            if not sep or not re.fullmatch(r'[a-z_][a-z0-9_]*', key):
                raise SetupError('%s: not KEY=VALUE: %s' % (path, line))
            if len(val) >= 2 and val[0] == val[-1] == "'":
                val = val[1:-1]
            conf[key] = val
    return conf


def qemu_of(kernel):
    """The QEMU configuration name (qemu/NAME.conf) and its console port
    for a kernel of kernels/, x86_64 for any other tree."""
    path = os.path.join(HARNESS, 'kernels', kernel + '.conf')
    name = read_conf(path).get('qemu', 'x86_64') if os.path.isfile(path) \
        else 'x86_64'
    qconf = read_conf(os.path.join(HARNESS, 'qemu', name + '.conf'))
    return name, qconf.get('console', 'ttyS0')


def sync_tree(src, dst):
    """Copy the sources of src (C files, headers, Makefile, Kbuild) into
    dst, touching only files whose content changed, so that Kbuild
    rebuilds only what changed; build products in src are left out."""
    os.makedirs(dst, exist_ok=True)
    for name in os.listdir(src):
        s = os.path.join(src, name)
        d = os.path.join(dst, name)
        # *.mod.c is Kbuild's, left by a build in src (for another kernel).
        if not os.path.isfile(s) or name.endswith('.mod.c') or not (
                name.endswith(('.c', '.h')) or name in ('Makefile', 'Kbuild')):
            continue
        with open(s, 'rb') as f:
            data = f.read()
        if os.path.isfile(d):
            with open(d, 'rb') as f:
                if f.read() == data:
                    continue
        shutil.copy2(s, d)


def build_dir_modules(env, src, dst, logfile, symbols=()):
    """make M=dst modules after copying src there.  The .ko files of an
    earlier build are removed first: every run links and converts every
    module with the current klp-convert (its messages are checked), and a
    .ko found after a failed build is one this build left behind.
    Returns (exit status, output, .ko files found)."""
    if not os.path.isdir(src):
        with open(logfile, 'w') as f:
            f.write('%s: no such directory\n' % src)
        return 1, '%s: no such directory\n' % src, []
    sync_tree(src, dst)
    for name in os.listdir(dst):
        if name.endswith('.ko'):
            os.unlink(os.path.join(dst, name))
    # KLP_SYMBOLS is always set, so that one in the environment does not
    # turn a load-time case into a build-time one.
    cmd = [env.get('MAKE') or 'make', '-C', env['KDIR'], 'M=' + dst,
           '-j%d' % (os.cpu_count() or 1),
           'KLP_SYMBOLS=' + ' '.join(symbols), 'modules']
    proc = subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, check=False)
    with open(logfile, 'w') as f:
        f.write('$ %s\n%s' % (' '.join(cmd), proc.stdout))
    kos = sorted(os.path.join(dst, n) for n in os.listdir(dst)
                 if n.endswith('.ko'))
    return proc.returncode, proc.stdout, kos


def find_klp_convert(env):
    """The klp-convert that prepare-kdir put in the tree (for --list)."""
    cands = [env.get('KLP_CONVERT', '')]
    kdir = env['KDIR']
    cands.append(os.path.join(kdir, 'scripts/livepatch/klp-convert/klp-convert'))
    crate = os.path.join(REPO, 'scripts', 'livepatch', 'klp-convert',
                         'target')
    for sub in ('release', 'debug'):
        cands.append(os.path.join(crate, sub, 'klp-convert'))
    for c in cands:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def busybox_path():
    path = shutil.which('busybox') or '/bin/busybox'
    if not os.path.isfile(path):
        raise SetupError('busybox not found: install busybox-static')
    with open(path, 'rb') as f:
        elf = f.read()
    # A dynamically linked busybox carries a PT_INTERP program header.
    if elf[:4] != b'\x7fELF' or elf[4] != 2:
        raise SetupError('%s is not a 64-bit ELF binary' % path)
    phoff = int.from_bytes(elf[0x20:0x28], 'little')
    phentsize = int.from_bytes(elf[0x36:0x38], 'little')
    phnum = int.from_bytes(elf[0x38:0x3a], 'little')
    for i in range(phnum):
        off = phoff + i * phentsize
        if int.from_bytes(elf[off:off + 4], 'little') == 3:
            raise SetupError('%s is dynamically linked: install '
                             'busybox-static' % path)
    return path


class Cpio:
    """A newc cpio archive, as the kernel's initramfs unpacker reads it."""

    def __init__(self):
        self.data = bytearray()
        self.ino = 1

    def _add(self, name, mode, body=b'', rdev=(0, 0)):
        name_b = name.encode() + b'\0'
        fields = [self.ino, mode, 0, 0, 1, 0, len(body), 0, 0, rdev[0],
                  rdev[1], len(name_b), 0]
        self.ino += 1
        self.data += b'070701' + b''.join(b'%08X' % v for v in fields)
        self.data += name_b
        self.data += b'\0' * (-len(self.data) % 4)
        self.data += body
        self.data += b'\0' * (-len(self.data) % 4)

    def dir(self, name):
        self._add(name, 0o040755)

    def file(self, name, body, mode=0o644):
        self._add(name, 0o100000 | mode, body)

    def chardev(self, name, major, minor):
        self._add(name, 0o020600, rdev=(major, minor))

    def finish(self):
        self._add('TRAILER!!!', 0)
        return bytes(self.data)


def make_initramfs(path, kos, config):
    """kos: (path in the guest, path on the host) of each module."""
    cpio = Cpio()
    for d in ('bin', 'dev', 'proc', 'sys', 'tmp', 'klpt', 'klpt/mod',
              'klpt/sample', 'klpt/distro'):
        cpio.dir(d)
    cpio.chardev('dev/console', 5, 1)
    with open(busybox_path(), 'rb') as f:
        cpio.file('bin/busybox', f.read(), 0o755)
    for name, mode in (('init', 0o755), ('cases.sh', 0o644)):
        with open(os.path.join(TESTS, 'guest', name), 'rb') as f:
            cpio.file('init' if name == 'init' else 'klpt/' + name,
                      f.read(), mode)
    cpio.file('klpt/config', ''.join('%s=%s\n' % (k, shlex.quote(v))
                                     for k, v in config.items()).encode())
    for guest, host in kos:
        with open(host, 'rb') as f:
            cpio.file(guest, f.read())
    with open(path, 'wb') as f:
        f.write(gzip.compress(cpio.finish(), compresslevel=1, mtime=0))


def boot(qemu, vmlinuz, initrd, append, console, ttys1, timeout):
    """Boot with dev-harness/boot (QEMU configuration `qemu`, which adds
    console= and panic=-1 to `append`); the console goes to `console`,
    the second serial port to `ttys1`.  Returns (exit status or None on
    timeout, seconds)."""
    cmd = [BOOT, '--qemu', qemu, '--kernel', vmlinuz, '--initrd', initrd,
           '--append', append, '--console', console, '--data', ttys1,
           '--timeout', str(timeout)]
    start = time.monotonic()
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, check=False)
    rc = None if proc.returncode == 124 else proc.returncode
    return rc, time.monotonic() - start


# --------------------------------------------------------- guest output


class GuestRun:
    """What the guest printed: per case result, facts, notes, lines."""

    MARK = re.compile(r'@@KLPT-([A-Z]+)(?: (\S+))?(?: (.*))?$')

    def __init__(self, text):
        self.results = {}
        self.facts = {}
        self.notes = {}
        self.lines = {}
        self.started = False
        self.done = False
        case = None
        for raw in text.splitlines():
            line = raw.replace('\r', '')
            m = self.MARK.search(line)
            if not m:
                if case:
                    self.lines[case].append(line)
                continue
            kind, name, rest = m.group(1), m.group(2), m.group(3) or ''
            if kind == 'START':
                self.started = True
            elif kind == 'DONE':
                self.done = True
            elif kind == 'BEGIN':
                case = name
                self.lines[case] = []
            elif kind == 'RESULT':
                self.results[name] = rest
                self.lines.setdefault(name, []).append(line)
                case = None
            elif kind == 'FACT':
                key, _, val = rest.partition(' ')
                self.facts.setdefault(name, []).append((key, val))
            elif kind == 'NOTE':
                self.notes.setdefault(name, []).append(rest)
            if case and kind in ('FACT', 'NOTE'):
                self.lines[case].append(line)

    def fact_list(self, case, key):
        return [v for k, v in self.facts.get(case, []) if k == key]

    def result(self, case):
        if case not in self.results:
            if not self.started:
                return Result(False, 'the guest did not start the cases')
            if case in self.lines:
                return Result(False, 'the guest crashed or hung in this '
                              'case')
            return Result(False, 'not run: the guest stopped before it')
        res = self.results[case]
        diag = ['expected: ' + n for n in self.notes.get(case, [])]
        if res == 'ok':
            return Result(True, diag=diag)
        return Result(False, res.removeprefix('not ok').strip(), diag)


# ----------------------------------------------------------- host checks


def check_positions(run, case, name, count, by_address, unique=False):
    """Each `resolved:<name>` fact (pos, address) must equal the pos-th
    entry of `kallsyms:<name>` (vmlinux: ascending address; module: the
    order of its symbol table, which /proc/kallsyms keeps).  unique: the
    reference is position 0, the name must occur once."""
    entries = []
    for v in run.fact_list(case, 'kallsyms:' + name):
        addr, _, typ = v.partition(' ')
        entries.append((int(addr, 16), typ))
    if by_address:
        entries.sort()
    resolved = {}
    diag = []
    if not by_address and count > 1:
        diag.append('%s: symbol table order %s address order' %
                    (name, 'is' if entries == sorted(entries) else
                     'differs from'))
    for v in run.fact_list(case, 'resolved:' + name):
        pos, addr = v.split()
        resolved[int(pos)] = int(addr, 16)
    errors = []
    if len(entries) != count:
        errors.append('/proc/kallsyms has %d entries named %s, the test '
                      'module references %d' % (len(entries), name, count))
    positions = [0] if unique else list(range(1, count + 1))
    if sorted(resolved) != positions:
        errors.append('%s: resolved positions %s, expected %s' %
                      (name, sorted(resolved), positions))
    for pos in sorted(resolved):
        idx = max(pos, 1) - 1
        want = entries[idx][0] if idx < len(entries) else None
        got = resolved[pos]
        diag.append('%s,%d resolved %016x, kallsyms #%d %s' %
                    (name, pos, got, idx + 1,
                     '%016x' % want if want is not None else 'missing'))
        if got != want:
            errors.append('%s,%d resolved to %016x, not to the kallsyms '
                          'entry #%d' % (name, pos, got, idx + 1))
    return errors, diag


def klp_list(tool, ko):
    proc = subprocess.run([tool, '--list', ko], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, check=False)
    return proc.returncode, proc.stdout


def parse_list(text):
    """Relocations from `klp-convert --list`, whose lines are tab-separated
    "section offset type object symbol pos" after a '#' header: (object of
    the section, section, type, object of the symbol, symbol, pos)."""
    relocs = []
    for line in text.splitlines():
        if not line.strip() or line.startswith('#'):
            continue
        fields = line.split('\t')
        if len(fields) != 6 or not fields[0].startswith('.klp.rela.'):
            raise ValueError('unexpected klp-convert --list line: %r' % line)
        sec_obj, _, sec = fields[0][len('.klp.rela.'):].partition('.')
        relocs.append((sec_obj, sec, fields[2], fields[3], fields[4],
                       fields[5]))
    return relocs


# ------------------------------------------------------------ the runner


class KernelRun:
    def __init__(self, kernel, args, cases):
        self.kernel = kernel
        self.args = args
        self.cases = cases
        self.out = os.path.join(args.build_dir, kernel)
        if args.keep_logs:
            self.logs = os.path.join(args.keep_logs, kernel)
        else:
            self.logs = os.path.join(self.out, 'logs')
        self.results = {}
        self.timing = []
        self.console = None

    def time(self, what, start):
        self.timing.append('%s %.1fs' % (what, time.monotonic() - start))

    def fail_all(self, reason):
        for c in self.cases:
            self.results.setdefault(c.name, Result(False, reason))

    def run(self):
        os.makedirs(self.out, exist_ok=True)
        t = time.monotonic()
        try:
            self.env = prepare_kdir(self.kernel, self.args.prepare_kdir, {
                'VMLINUZ': self.args.vmlinuz, 'MODULES': self.args.modules})
        except SetupError as e:
            log(str(e))
            lines = str(e).strip().splitlines()
            self.fail_all('prepare-kdir failed: ' + lines[-1])
            return
        self.time('prepare', t)

        t = time.monotonic()
        self.builds = {}
        kallsyms = self.env.get('KALLSYMS', '')
        for d in MODULE_DIRS:
            if not self.dir_needed(d):
                self.builds[d] = (0, '', [], None)
                continue
            symbols = []
            if d in WITH_TARGET_SYMBOLS or d.endswith('.symbols'):
                if not os.path.isfile(kallsyms):
                    self.skip_symbol_cases(d)
                    self.builds[d] = (0, '', [], None)
                    continue
                symbols = [kallsyms]
            if d in WITH_TARGET_SYMBOLS:
                symbols.append(os.path.join(self.out, 'modules',
                                            'klpt_target.ko'))
            if d == 'sample':
                src = SAMPLES
            else:
                src = os.path.join(TESTS, d.removesuffix('.symbols'))
            logfile = os.path.join(self.out, d + '.build.log')
            # Sources shared by several directories ("../include/...").
            sync_tree(os.path.join(TESTS, 'include'),
                      os.path.join(self.out, 'include'))
            self.builds[d] = build_dir_modules(
                self.env, src, os.path.join(self.out, d), logfile,
                symbols) + (logfile,)
        self.time('build', t)

        self.host_build_checks()
        groups = {c.group for c in self.cases if c.group}
        for c in self.cases:
            groups.update(c.needs)
        run = None
        if groups:
            run = self.boot_guest(groups)
        for c in self.cases:
            if c.name in self.results:
                continue
            if c.group:
                self.results[c.name] = run.result(c.name)
        self.host_checks(run)
        self.keep_failure_logs(run)

    def host_build_checks(self):
        rc, out, _, logfile = self.builds['modules']
        if rc:
            for c in self.cases:
                if c.group in MODULES_GROUPS or \
                   set(c.needs) & MODULES_GROUPS:
                    self.results[c.name] = Result(
                        False, 'build of modules/ failed', [
                            'build log: ' + logfile] + tail(out))
        rc, out, _, logfile = self.builds['sample']
        if rc:
            for c in self.cases:
                if c.group == 'sample':
                    self.results[c.name] = Result(
                        False, 'build of samples/livepatch failed', [
                            'build log: ' + logfile] + tail(out))
        for case, (mod, sym) in NEG_BUILD.items():
            rc, out, kos, logfile = self.builds[case]
            if not rc or not self.selected(case):
                continue
            # Refused at build time: klp-convert checked the symbol.
            if sym in out and 'klp-convert' in out:
                self.results[case] = Result(True, diag=[
                    'refused at build time: ' + line.strip()
                    for line in out.splitlines() if sym in line][:3])
            else:
                self.results[case] = Result(
                    False, 'build failed without a klp-convert message '
                    'naming %s' % sym, ['build log: ' + logfile] + tail(out))
            if any(os.path.basename(k) == mod + '.ko' for k in kos):
                self.results[case] = Result(
                    False, '%s.ko left behind by a failed build' % mod)
        for case, (mod, sym) in NEG_BUILD.items():
            name = case + '_build'
            if not self.selected(name) or name in self.results:
                continue
            rc, out, kos, logfile = self.builds[case + '.symbols']
            errs = []
            lines = [line.strip() for line in out.splitlines()
                     if line.startswith('klp-convert') and
                     'error' in line and sym in line][:2]
            if rc == 0:
                errs.append('build succeeded')
            elif not lines:
                errs.append('no klp-convert error naming %s' % sym)
            if kos:
                errs.append('%s left behind' % os.path.basename(kos[0]))
            self.results[name] = Result(
                not errs, '; '.join(errs),
                ['build log: ' + logfile] + (lines or tail(out)))
        for case, build, want in (
                ('neg_plain', 'neg_plain',
                 ['c_start is neither exported nor annotated',
                  'KLP_SYMBOLS=']),
                ('neg_plain_build', 'neg_plain.symbols',
                 ['KLP_RELOC_SYMBOL_POS(vmlinux, vmlinux, c_start, 3)']),
                ('neg_modpost', 'neg_modpost',
                 ['ERROR: modpost: "nr_processes" [',
                  'klpt_neg_modpost_plain.ko] undefined!'])):
            if self.selected(case) and case not in self.results:
                self.results[case] = self.build_refused(build, want)
        if self.selected('neg_modpost') and self.results['neg_modpost'].ok:
            out = self.builds['neg_modpost'][1]
            if any('klpt_neg_modpost_lp' in line and 'undefined' in line
                   for line in out.splitlines()):
                self.results['neg_modpost'] = Result(
                    False, 'modpost named the livepatch module too',
                    tail(out))
        if self.selected('neg_jump_table'):
            rc, out, kos, logfile = self.builds['neg_jump_table']
            errs = []
            lines = [line.strip() for line in out.splitlines()
                     if line.startswith('klp-convert') and
                     'error' in line and '__jump_table' in line][:3]
            if rc == 0:
                errs.append('build succeeded')
            elif not lines:
                errs.append('no klp-convert error naming __jump_table')
            if kos:
                errs.append('%s left behind' % os.path.basename(kos[0]))
            self.results['neg_jump_table'] = Result(
                not errs, '; '.join(errs),
                ['build log: ' + logfile] + (lines or tail(out)))

    def build_refused(self, build, want):
        """The build of directory build failed, its output has every
        string of want, and it left no module behind."""
        rc, out, kos, logfile = self.builds[build]
        errs = []
        if rc == 0:
            errs.append('build succeeded')
        missing = [w for w in want if w not in out]
        if missing:
            errs.append('output lacks %r' % missing[0])
        if kos:
            errs.append('%s left behind' % os.path.basename(kos[0]))
        lines = [line.strip() for line in out.splitlines()
                 if any(w in line for w in want)][:3]
        return Result(not errs, '; '.join(errs),
                      ['build log: %s' % logfile] + (lines or tail(out)))

    def dir_needed(self, d):
        """Whether a selected case uses the modules of build d."""
        for c in self.cases:
            groups = set(c.needs) | {c.group or c.name}
            if d == 'modules' and groups & MODULES_GROUPS:
                return True
            if d in groups or d.replace('.symbols', '_build') in groups:
                return True
        return False

    def skip_symbol_cases(self, d):
        """No symbol map: prepare-kdir printed no KALLSYMS."""
        names = {'infer': ['infer_symbols', 'unload_infer'],
                 'plain': ['plain_refs', 'unload_plain']}.get(
                     d, [d.replace('.symbols', '_build')])
        for name in names:
            self.results[name] = Result(
                True, 'prepare-kdir printed no KALLSYMS (a symbol map of '
                'the kernel)', skip=True)

    def distro_module(self):
        """DISTRO_MODULE from MODULES, uncompressed into the build
        directory; None (and the distro cases skipped) if absent."""
        base = os.path.join(self.env.get('MODULES', '/nonexistent'),
                            DISTRO_MODULE)
        dst = os.path.join(self.out, os.path.basename(DISTRO_MODULE))
        for suffix, opener in (('', open), ('.xz', lzma.open)):
            if os.path.isfile(base + suffix):
                with opener(base + suffix, 'rb') as f, open(dst, 'wb') as o:
                    shutil.copyfileobj(f, o)
                return dst
        for c in self.cases:
            if c.group == 'distro':
                self.results[c.name] = Result(
                    True, '%s(.xz) not in %s' % (
                        DISTRO_MODULE, self.env.get('MODULES', 'MODULES')),
                    skip=True)
        return None

    def selected(self, name):
        return any(c.name == name for c in self.cases)

    def boot_guest(self, groups):
        # The guest finds the samples in /klpt/sample, the distribution's
        # module in /klpt/distro, the rest in /klpt/mod.
        kos = []
        for g, case in (('infer', 'infer_symbols'), ('plain', 'plain_refs')):
            if g in groups and self.results.get(case):
                groups.discard(g)
        if 'distro' in groups:
            ko = self.distro_module()
            if ko:
                kos.append(('klpt/distro/' + os.path.basename(ko), ko))
            else:
                groups.discard('distro')
        for d in MODULE_DIRS:
            # A .symbols build must fail; if not, its module is not loaded.
            if self.builds[d][0] or d.endswith('.symbols'):
                continue
            sub = 'sample' if d == 'sample' else 'mod'
            kos += [('klpt/%s/%s' % (sub, os.path.basename(k)), k)
                    for k in self.builds[d][2]]
        # Guest cases in list order, whole groups: a group's last case
        # unloads what its first ones loaded.
        names = [c.name for c in CASES if c.group in groups]
        kos.sort()
        rel = self.env['KERNELRELEASE']
        ver = tuple(int(x) for x in re.findall(r'\d+', rel)[:2])
        config = {
            'KLPT_CASES': ' '.join(names),
            # x86 clears module-specific klp relocations on target unload
            # since v6.3.
            'KLPT_RELOAD_CLEARS': '1' if ver >= (6, 3) else '0',
        }
        initrd = os.path.join(self.out, 'initramfs.cpio.gz')
        make_initramfs(initrd, kos, config)
        # oops=panic and panic=-1 end the boot at the first oops instead of
        # waiting for the timeout; the rest of the cases report no result.
        qemu, port = qemu_of(self.kernel)
        append = 'oops=panic quiet klpt_selftest=%s' % self.kernel
        self.cmdline = 'console=%s panic=-1 %s' % (port, append)
        self.console = os.path.join(self.out, 'console.log')
        t = time.monotonic()
        rc, _ = boot(qemu, self.env['VMLINUZ'], initrd, append,
                     self.console, os.path.join(self.out, 'ttyS1.log'),
                     self.args.timeout)
        self.time('boot', t)
        with open(self.console, 'rb') as f:
            run = GuestRun(f.read().decode('utf-8', 'replace'))
        if rc is None:
            log('%s: qemu timed out after %ds' % (self.kernel,
                                                  self.args.timeout))
        elif not run.done:
            log('%s: the guest did not finish (qemu exit %d)' %
                (self.kernel, rc))
        return run

    def host_checks(self, run):
        for c in self.cases:
            res = self.results.get(c.name)
            check = getattr(self, 'check_' + c.name, None)
            if check is None:
                continue
            # A host case already decided (its build failed) stays so; a
            # guest case is checked even when it failed in the guest, for
            # the diagnostics.
            if not c.group and res is not None or res and res.skip:
                continue
            errors, diag = check(run)
            if res is None:
                res = self.results[c.name] = Result(True)
            res.diag += diag
            if errors and res.ok:
                res.ok = False
                res.reason = '; '.join(errors)
            elif errors:
                res.diag += errors

    def check_sample(self, run):
        patched = [v for k, v in run.facts.get('sample', [])
                   if k.startswith('patched:')]
        errors = []
        if not patched:
            errors.append('no sample reported /proc/cmdline')
        for p in patched:
            if self.cmdline not in p:
                errors.append('patched /proc/cmdline %r lacks the command '
                              'line passed (%r)' % (p, self.cmdline))
        return errors, ['patched /proc/cmdline: %s' % p for p in patched]

    def check_vmlinux_refs(self, run):
        cmdline = run.fact_list('vmlinux_refs', 'cmdline')
        patched = run.fact_list('vmlinux_refs', 'patched')
        errors = []
        if cmdline != [self.cmdline]:
            errors.append('original /proc/cmdline %r is not the command '
                          'line passed (%r)' % (cmdline, self.cmdline))
        if len(patched) != 1 or \
           not patched[0].startswith(self.cmdline + ' klpt_vmlinux '):
            errors.append('patched /proc/cmdline %r does not start with '
                          'the real command line' % patched)
        return errors, ['patched /proc/cmdline: %s' % p for p in patched]

    def check_vmlinux_sympos(self, run):
        return check_positions(run, 'vmlinux_sympos', 'c_start',
                               C_START_COUNT, True)

    def check_module_positions(self, run, case):
        errors, diag = [], []
        for name in ('klpt_dup', 'klpt_dup_val'):
            e, d = check_positions(run, case, name, DUP_COUNT, False)
            errors += e
            diag += d
        return errors, diag

    def check_module_sympos(self, run):
        return self.check_module_positions(run, 'module_sympos')

    def check_late_patching(self, run):
        return self.check_module_positions(run, 'late_patching')

    def check_resolved(self, run, case, ko, positions, relocs):
        """The addresses case reported for (name, pos) in positions are
        those of the pos-th kallsyms entry of that name (pos 0: the only
        one), and klp-convert --list of ko has each (section object,
        object, name, pos) of relocs."""
        errors, diag = [], []
        for name, pos in positions:
            entries = [int(v.split()[0], 16) for v in
                       run.fact_list(case, 'kallsyms:' + name)]
            got = [v.split() for v in run.fact_list(case, 'resolved:' + name)]
            n = max(pos, 1)
            want = entries[n - 1] if len(entries) >= n else None
            if pos == 0 and len(entries) != 1:
                want = None
            if len(got) != 1 or int(got[0][1], 16) != want:
                errors.append('%s,%d: resolved %s, kallsyms #%d %s' %
                              (name, pos, got, n, want and hex(want)))
            else:
                diag.append('%s,%d resolved %s, kallsyms #%d' %
                            (name, pos, got[0][1], n))
        listed, err = self.list_module(ko)
        if err:
            return errors + [err], diag
        have = {(r[0], r[3], r[4], r[5]) for r in listed}
        for want in relocs:
            if want not in have:
                errors.append('klp-convert --list lacks %s in .klp.rela.%s'
                              % (' '.join(want[1:]), want[0]))
        diag.append('converted: ' + ', '.join(sorted(
            '%s.%s,%s' % h[1:] for h in have)))
        return errors, diag

    def check_infer_symbols(self, run):
        """klpt_dup of klpt_target_b.c is #2 of klpt_target's klpt_dup,
        klpt_dup_val of klpt_target_c.c #3 (link order); nr_processes is
        in vmlinux."""
        return self.check_resolved(
            run, 'infer_symbols',
            os.path.join(self.out, 'infer', 'klpt_infer.ko'),
            (('klpt_dup', 2), ('klpt_dup_val', 3)),
            (('klpt_target', 'klpt_target', 'klpt_dup', '2'),
             ('klpt_target', 'klpt_target', 'klpt_dup_val', '3'),
             ('vmlinux', 'vmlinux', 'nr_processes', '0')))

    def check_plain_refs(self, run):
        """klpt_plain: klpt_dup #2 and klpt_dup_val #3 from its table,
        klpt_target_a (unique) from the maps, each at the address of that
        kallsyms entry; the vmlinux ones in .klp.rela.vmlinux."""
        return self.check_resolved(
            run, 'plain_refs',
            os.path.join(self.out, 'plain', 'klpt_plain.ko'),
            (('klpt_dup', 2), ('klpt_dup_val', 3), ('klpt_target_a', 0)),
            (('klpt_target', 'klpt_target', 'klpt_dup', '2'),
             ('klpt_target', 'klpt_target', 'klpt_dup_val', '3'),
             ('klpt_target', 'klpt_target', 'klpt_target_a', '0'),
             ('vmlinux', 'vmlinux', 'nr_processes', '0'),
             ('vmlinux', 'vmlinux', 'saved_command_line', '0')))

    def check_distro_module(self, run):
        errors, diag = [], []
        for name in ('numdummies', 'dummy_link_ops', 'dummy_netdev_ops'):
            e, d = check_positions(run, 'distro_module', name, 1, False,
                                   unique=True)
            errors += e
            diag += d
        return errors, diag

    def list_module(self, ko):
        tool = find_klp_convert(self.env)
        if not tool:
            return None, 'klp-convert not found in %s' % self.env['KDIR']
        rc, out = klp_list(tool, ko)
        if rc:
            return None, '%s --list %s failed: %s' % (tool, ko, out.strip())
        try:
            return parse_list(out), None
        except ValueError as e:
            return None, str(e)

    def guest_ok(self, run, *cases):
        bad = [c for c in cases if run is None or not run.result(c).ok]
        return ['guest case %s failed' % c for c in bad]

    def check_reloc_sections(self, run):
        want = {
            'klpt_vmlinux': [('vmlinux', '.text', 'R_X86_64_PLT32'),
                             ('vmlinux', '.text', 'R_X86_64_PC32'),
                             ('vmlinux', '.data', 'R_X86_64_64'),
                             ('vmlinux', '.rodata', 'R_X86_64_64')],
            'klpt_lp_target': [('klpt_target', '.text', 'R_X86_64_PLT32'),
                               ('klpt_target', '.text', 'R_X86_64_PC32'),
                               ('klpt_target', '.data', 'R_X86_64_64'),
                               ('klpt_target', '.rodata', 'R_X86_64_64')],
        }
        errors = self.guest_ok(run, 'vmlinux_refs', 'module_sympos')
        diag = []
        # The policy for read-only targets: a module-specific relocation in
        # .rodata is converted with a warning (x86 writes it with
        # text_poke(), other architectures may fail).
        warn = [line for line in self.builds['modules'][1].splitlines()
                if 'klpt_lp_target.ko' in line and 'warning' in line and
                '.rodata' in line]
        if warn:
            diag.append(warn[0].strip())
        else:
            errors.append('klp-convert gave no warning for the '
                          'module-specific relocation in .rodata')
        for mod, triples in want.items():
            relocs, err = self.list_module(
                os.path.join(self.out, 'modules', mod + '.ko'))
            if err:
                errors.append(err)
                continue
            have = {(r[0], r[1], r[2]) for r in relocs}
            diag.append('%s: %s' % (mod, ' '.join(
                sorted('%s:%s:%s' % h for h in have))))
            for t in triples:
                if t not in have:
                    errors.append('%s: no %s relocation in .klp.rela.%s.%s'
                                  % (mod, t[2], t[0], t[1]))
        return errors, diag

    def check_vmlinux_not_module_specific(self, run):
        """klpt_lp_target references saved_command_line from code that
        patches klpt_target: it must be in .klp.rela.vmlinux.*.  No other
        converted module may have a vmlinux symbol in a module-specific
        section either."""
        errors = self.guest_ok(run, 'module_sympos')
        diag = []
        kos = [k for d in ('modules', 'sample') for k in self.builds[d][2]]
        if not kos:
            errors.append('no module built')
        for ko in kos:
            relocs, err = self.list_module(ko)
            if err:
                errors.append(err)
                continue
            for r in relocs:
                if r[3] == 'vmlinux' and r[0] != 'vmlinux':
                    errors.append('%s: vmlinux symbol %s in .klp.rela.%s.%s'
                                  % (os.path.basename(ko), r[4], r[0], r[1]))
            if os.path.basename(ko) != 'klpt_lp_target.ko':
                continue
            cmdline = [r for r in relocs if r[4] == 'saved_command_line']
            if not cmdline:
                errors.append('klpt_lp_target.ko: no relocation against '
                              'saved_command_line listed')
            diag += ['klpt_lp_target: saved_command_line in .klp.rela.%s.%s '
                     '(%s)' % (r[0], r[1], r[2]) for r in cmdline]
        return errors, diag

    def keep_failure_logs(self, run):
        for c in self.cases:
            res = self.results[c.name]
            if res.ok:
                continue
            os.makedirs(self.logs, exist_ok=True)
            path = os.path.join(self.logs, '%s.log' % c.name)
            with open(path, 'w') as f:
                f.write('%s %s: %s\n' % (self.kernel, c.name, res.reason))
                for d in res.diag:
                    f.write('# %s\n' % d)
                if run and c.name in run.lines:
                    f.write('--- guest console, case %s\n' % c.name)
                    f.write('\n'.join(run.lines[c.name]) + '\n')
                if self.console:
                    f.write('--- full console log: %s\n' % self.console)
                    if self.args.keep_logs:
                        dst = os.path.join(self.logs, 'console.log')
                        shutil.copyfile(self.console, dst)
            res.log = path


def tail(text, n=8):
    return [line for line in text.strip().splitlines()[-n:]]


def select_cases(filters):
    if not filters:
        return list(CASES)
    return [c for c in CASES
            if any(fnmatch.fnmatchcase(c.name, f) for f in filters)]


def check_tools():
    """The host programs the runner needs, with their Debian packages."""
    missing = ['%s (%s)' % (prog, pkg) for prog, pkg in (
        ('make', 'make'), ('qemu-system-x86_64', 'qemu-system-x86'))
        if not shutil.which(prog)]
    if missing:
        raise SetupError('missing %s: see dev-harness/apt-packages-selftest.txt'
                         % ', '.join(missing))
    busybox_path()


def cmd_run(args):
    check_tools()
    cases = select_cases(args.filters)
    if not cases:
        log('no case matches %s' % ' '.join(args.filters))
        return 2
    kernels = args.kernel or DEFAULT_KERNELS
    runs = []
    for k in kernels:
        log('=== %s' % k)
        kr = KernelRun(k, args, cases)
        kr.run()
        runs.append(kr)

    total = len(kernels) * len(cases)
    print('KTAP version 1')
    print('1..%d' % total)
    n = passed = failed = skipped = 0
    for kr in runs:
        for c in cases:
            n += 1
            res = kr.results[c.name]
            name = '%s.%s' % (kr.kernel, c.name)
            if res.skip:
                skipped += 1
                print('ok %d %s # SKIP %s' % (n, name, res.reason))
            elif res.ok:
                passed += 1
                print('ok %d %s' % (n, name))
            else:
                failed += 1
                print('not ok %d %s # %s' % (n, name, res.reason))
            for d in res.diag:
                print('# %s' % d)
            if res.log:
                print('# log: %s' % res.log)
    for kr in runs:
        print('# %s: %s' % (kr.kernel, ', '.join(kr.timing) or 'no timing'))
    line = '%d passed, %d failed' % (passed, failed)
    if skipped:
        line += ', %d skipped' % skipped
    print(line)
    return 1 if failed else 0


def cmd_list(_args):
    for c in CASES:
        print('%-28s %s' % (c.name, c.desc))
    return 0


def cmd_kallsyms(args):
    """Boot a kernel with no cases and save its /proc/kallsyms."""
    check_tools()
    env = prepare_kdir(args.kernel, args.prepare_kdir,
                       {'VMLINUZ': args.vmlinuz, 'MODULES': args.modules})
    out = os.path.join(args.build_dir, args.kernel)
    os.makedirs(out, exist_ok=True)
    initrd = os.path.join(out, 'kallsyms.cpio.gz')
    make_initramfs(initrd, [], {'KLPT_CASES': '', 'KLPT_DUMP_KALLSYMS': '1'})
    console = os.path.join(out, 'kallsyms-console.log')
    rc, secs = boot(qemu_of(args.kernel)[0], env['VMLINUZ'], initrd, 'quiet',
                    console, args.output, args.timeout)
    log('%s: boot %.1fs, qemu exit %s, console %s' %
        (args.kernel, secs, rc, console))
    if args.duplicates:
        # Local text symbols of vmlinux defined more than once: candidates
        # for a position test such as vmlinux_sympos.
        count = {}
        with open(args.output, errors='replace') as f:
            for line in f:
                fields = line.split()
                if len(fields) == 3 and fields[1] == 't':
                    count[fields[2]] = count.get(fields[2], 0) + 1
        for name in sorted(n for n, c in count.items() if c > 1):
            print('%d %s' % (count[name], name))
    return 0 if rc == 0 else 1


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest='cmd', required=True)

    def common(sp):
        sp.add_argument('--build-dir',
                        default=os.path.join(TESTS, '.build'),
                        help='where modules, initramfs and logs go')
        sp.add_argument('--prepare-kdir', default=PREPARE_KDIR,
                        help='the prepare-kdir command to use')
        sp.add_argument('--timeout', type=int, default=120,
                        help='seconds allowed for one boot')
        sp.add_argument('--vmlinuz', metavar='FILE',
                        help='kernel image, if prepare-kdir prints none')
        sp.add_argument('--modules', metavar='DIR',
                        help='lib/modules/<release> of that kernel, if '
                        'prepare-kdir prints none')

    r = sub.add_parser('run', help='build, boot, run the cases')
    common(r)
    r.add_argument('--kernel', action='append',
                   help='prepare-kdir argument (default: %s)' %
                   ' and '.join(DEFAULT_KERNELS))
    r.add_argument('--keep-logs', metavar='DIR',
                   help='where failing cases\' logs are kept')
    r.add_argument('filters', nargs='*', metavar='FILTER')
    r.set_defaults(func=cmd_run)

    ls = sub.add_parser('list', help='list the cases')
    ls.set_defaults(func=cmd_list)

    k = sub.add_parser('kallsyms', help='boot a kernel, save /proc/kallsyms')
    common(k)
    k.add_argument('--kernel', required=True)
    k.add_argument('--output', required=True)
    k.add_argument('--duplicates', action='store_true',
                   help='print the local text symbols defined more than once')
    k.set_defaults(func=cmd_kallsyms)

    args = p.parse_args(argv)
    if args.cmd != 'list':
        args.build_dir = os.path.abspath(args.build_dir)
        if getattr(args, 'keep_logs', None):
            args.keep_logs = os.path.abspath(args.keep_logs)
    try:
        return args.func(args)
    except SetupError as e:
        log('error: %s' % e)
        return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
