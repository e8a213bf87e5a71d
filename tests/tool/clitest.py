# SPDX-License-Identifier: BSD-3-Clause
"""clitest: what the tool tests (app/*/test_*.py) share.  Each prints one
line a check, `ok   WHAT` or `FAIL WHAT` with the detail indented below, and
ends with finish(): the count of failures and exit status 1 if any.
sanitized.py puts this folder on PYTHONPATH, so a test run through it (as
meson runs every tool test) imports this module by name; tests/peer's
meson.build does the same for the peer tests.  Lines are flushed as they
are printed: a test that runs for minutes shows its progress in meson's log,
in order with what its tools print."""
import subprocess
import sys

failures = 0


def check(cond, what, detail=''):
    """Count and print one check; detail is printed only when it fails."""
    global failures
    print(('ok   ' if cond else 'FAIL ') + what, flush=True)
    if not cond:
        failures += 1
        if detail:
            print('     ' + str(detail).replace('\n', '\n     '), flush=True)
    return bool(cond)


def run(cmd, timeout=30, **kw):
    """Run cmd (a list) with no stdin; (exit status, stdout, stderr)."""
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL, **kw)
    return p.returncode, p.stdout, p.stderr


def finish():
    """Print the count of failures and exit 1 if there was one."""
    print('%d failed' % failures, flush=True)
    sys.exit(1 if failures else 0)
