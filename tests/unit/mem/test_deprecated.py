#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The old names of lib/mem's calls, of UDK_IOVA_BAD and of lib/mbuf's
external-pool hook still compile, each with a deprecation warning that names
its replacement, and the new names compile clean under -Wall -Wextra.  argv: the C compiler (one or more words),
then '--', then the source and build roots (every lib/ folder in them is on
the include path, as for a program built against udk)."""
import os
import subprocess
import sys
import tempfile

sep = sys.argv.index('--')
CC = sys.argv[1:sep]
LIBS = [d for d in sorted(os.listdir(os.path.join(sys.argv[sep + 1], 'lib')))
        if os.path.isdir(os.path.join(sys.argv[sep + 1], 'lib', d))]
INC = ['-I' + os.path.join(root, 'lib', d) for root in sys.argv[sep + 1:] for d in LIBS]
failures = 0

OLD = {
    'udk_dma_zmalloc': ('void *p = udk_dma_zmalloc(64, 0, UDK_SOCKET_ANY);',
                        'udk_mem_default_zmalloc()'),
    'udk_dma_free': ('udk_dma_free((void *)0);', 'udk_mem_default_free()'),
    'UDK_BAD_IOVA': ('unsigned long long b = UDK_BAD_IOVA;', 'UDK_IOVA_BAD'),
    'udk_pktmbuf_set_dpdk_pool': ('udk_pktmbuf_set_dpdk_pool((void *)0);',
                                  'udk_pktmbuf_set_ext_pool()'),
}
NEW = '''void *p = udk_mem_default_zmalloc(64, 0, UDK_SOCKET_ANY);
udk_mem_default_free(p);
unsigned long long b = UDK_IOVA_BAD;
(void)b;
udk_pktmbuf_set_ext_pool((void *)0);'''


def compile_body(body):
    src = '#include "udk_mem.h"\n#include "udk_mbuf.h"\nvoid f(void);\nvoid f(void)\n{\n%s\n}\n' % body
    with tempfile.NamedTemporaryFile('w', suffix='.c', delete=False) as f:
        f.write(src)
    try:
        p = subprocess.run(CC + INC + ['-std=c11', '-Wall', '-Wextra', '-Wno-unused-variable',
                                       '-fsyntax-only', f.name],
                           capture_output=True, text=True, timeout=60)
        return p.returncode, p.stderr
    finally:
        os.unlink(f.name)


def check(cond, what, detail=''):
    global failures
    print(('ok   ' if cond else 'FAIL ') + what)
    if not cond:
        failures += 1
        print('     ' + detail.replace('\n', '\n     '))


for old, (body, new) in OLD.items():
    rc, err = compile_body(body)
    check(rc == 0 and 'deprecated' in err and new in err,
          '%s compiles, deprecated in favour of %s' % (old, new), err)
rc, err = compile_body(NEW)
check(rc == 0 and 'warning' not in err, 'the new names compile without a warning', err)
sys.exit(1 if failures else 0)
