#!/usr/bin/env python3
"""udk-broker on the host, without VFIO: --help, --version, and the errors
that stop it before it listens (no policy, a bad policy with its line, bad
options, a directory that is not hugetlbfs), each with its exit status;
--check prints the rules of a good policy.  lab_broker runs it for real."""
import os
import subprocess
import sys
import tempfile

TOOL = sys.argv[1]
failures = 0


def run(args):
    p = subprocess.run([TOOL] + args, capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def check(cond, what, detail=''):
    global failures
    print(('ok   ' if cond else 'FAIL ') + what)
    if not cond:
        failures += 1
        if detail:
            print('     ' + detail.replace('\n', '\n     '))


with tempfile.TemporaryDirectory() as d:
    good = os.path.join(d, 'good')
    with open(good, 'w') as f:
        f.write('user 1000 devices 0000:00:04.0 mem 64M\ngroup 100 devices - mem 2M\n')
    bad = os.path.join(d, 'bad')
    with open(bad, 'w') as f:
        f.write('# ok\nuser 1000 devices 0000:00:04.0 mem 64M\nuser 1000 devices - mem 1M\n')

    rc, out, err = run(['--help'])
    check(rc == 0 and '--policy FILE' in out and '--socket PATH' in out and 'zeroed' in out,
          '--help', out + err)
    rc, out, err = run(['--version'])
    check(rc == 0 and out.startswith('udk-broker '), '--version', out)
    rc, out, err = run([])
    check(rc == 2 and '--policy FILE is required' in err, 'no --policy', err)
    rc, out, err = run(['--policy', good, '--check'])
    check(rc == 0 and 'line 1: user 1000: 64 MiB, devices 0000:00:04.0' in out and
          'line 2: group 100: 2 MiB, devices none' in out, '--check prints the rules', out + err)
    rc, out, err = run(['--policy', bad, '--check'])
    check(rc == 1 and 'invalid policy: %s:3: a second rule for user 1000' % bad in err,
          'a bad policy names its line', err)
    rc, out, err = run(['--policy', os.path.join(d, 'missing')])
    check(rc == 1 and 'cannot open the policy' in err, 'a missing policy', err)
    rc, out, err = run(['--policy', good, '--frob', 'x'])
    check(rc == 2 and '--frob: unknown option' in err, 'an unknown option', err)
    rc, out, err = run(['--policy', good, '--socket-mode', '999'])
    check(rc == 2 and "is not an octal mode" in err, 'a bad --socket-mode', err)
    rc, out, err = run(['--policy', good, '--huge-dir', d])
    check(rc == 1 and 'is not a hugetlbfs mount' in err, '--huge-dir that is not hugetlbfs', err)
    rc, out, err = run(['--policy'])
    check(rc == 2 and 'missing value' in err, 'an option without its value', err)

sys.exit(1 if failures else 0)
