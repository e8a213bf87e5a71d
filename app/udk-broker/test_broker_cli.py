#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""udk-broker on the host, without VFIO: --help, --version, and the errors
that stop it before it listens (no policy, a bad policy with its line, bad
options, a directory that is not hugetlbfs), each with its exit status;
--check prints the rules of a good policy.  lab_broker runs it for real."""
import os
import subprocess
import sys
import tempfile

TOOL = sys.argv[1]

with tempfile.TemporaryDirectory() as d:
    good, bad = os.path.join(d, 'good'), os.path.join(d, 'bad')
    with open(good, 'w') as f:
        f.write('user 1000 devices 0000:00:04.0 mem 64M\ngroup 100 devices - mem 2M\n')
    with open(bad, 'w') as f:
        f.write('# ok\nuser 1000 devices 0000:00:04.0 mem 64M\nuser 1000 devices - mem 1M\n')
    # (what, arguments, exit status, texts the output must hold)
    cases = [
        ('--help', ['--help'], 0, ['--policy FILE', '--socket PATH', '--socket-group GROUP',
                                   'zeroed']),
        ('--version', ['--version'], 0, ['udk-broker (udk) %s\n' % os.environ['UDK_VERSION']]),
        ('no --policy', [], 2, ['--policy FILE is required']),
        ('--check prints the rules', ['--policy', good, '--check'], 0,
         ['line 1: user 1000: 64 MiB, devices 0000:00:04.0',
          'line 2: group 100: 2 MiB, devices none']),
        ('a bad policy names its line', ['--policy', bad, '--check'], 1,
         ['invalid policy: %s:3: a second rule for user 1000 (the first is on line 2)' % bad]),
        ('a missing policy', ['--policy', os.path.join(d, 'missing')], 1,
         ['cannot open the policy']),
        ('an unknown option', ['--policy', good, '--frob', 'x'], 2, ['--frob: unknown option']),
        ('a bad --socket-mode', ['--policy', good, '--socket-mode', '999'], 2,
         ['is not an octal mode']),
        ('a bad --socket-group', ['--policy', good, '--socket-group', 'no-such-group-udk'], 2,
         ["--socket-group 'no-such-group-udk': no such group"]),
        ('--huge-dir that is not hugetlbfs', ['--policy', good, '--huge-dir', d], 1,
         ['is not a hugetlbfs mount']),
        ('an option without its value', ['--policy'], 2, ['missing value']),
    ]
    failed = 0
    for what, args, want_rc, texts in cases:
        p = subprocess.run([TOOL] + args, capture_output=True, text=True, timeout=30)
        ok = p.returncode == want_rc and all(t in p.stdout + p.stderr for t in texts)
        print(('ok   ' if ok else 'FAIL ') + what)
        if not ok:
            failed += 1
            print('     exit %d (want %d)\n     %s' % (p.returncode, want_rc,
                                                     (p.stdout + p.stderr).replace('\n', '\n     ')))
sys.exit(1 if failed else 0)
