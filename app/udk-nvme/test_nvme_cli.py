#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""udk-nvme on the host, where there is no NVMe to drive: --help for the tool
and each command, --version, and each usage error's message and exit status
(2), all decided before the EAL starts.  The lab test lab_nvme_tool runs the
commands against real controllers."""
import os
import subprocess
import sys

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


rc, out, err = run(['--help'])
check(rc == 0 and 'identify' in out and 'smart-log' in out and '--allow' in out,
      '--help lists the commands and the EAL options', out + err)
rc, out, err = run(['--version'])
check(rc == 0 and out == 'udk-nvme (udk) %s\n' % os.environ['UDK_VERSION'],
      '--version says the project version', out)
for cmd, word in [('identify', 'Identify Controller'), ('read', '--count N'),
                  ('write', 'padded with zeros'), ('format', '--yes'),
                  ('smart-log', 'SMART'), ('error-log', '--entries')]:
    rc, out, err = run(['-a', '0000:00:03.0', cmd, '--help'])
    check(rc == 0 and out.startswith('usage: udk-nvme') and word in out, cmd + ' --help', out + err)

for args, text in [
        ([], 'usage: udk-nvme'),
        (['frobnicate'], "unknown command 'frobnicate'"),
        (['identify', '--lba', '3'], "identify: unknown option '--lba'"),
        (['read', '--lba', '0', '--count', '8'], 'read needs --file FILE'),
        (['read', '--file', 'x'], 'read needs --count N'),
        (['read', '--file', 'x', '--count', 'many'], "--count: 'many' is not a number"),
        (['read', '--file', 'x', '--count', '-1'], "--count: '-1' is not a number"),
        (['format'], 'add --yes to go ahead'),
        (['format', '--yes', '--ses', '3'], "--ses: '3' is not a number in 0..2"),
        (['smart-log', '--ns', '1'], "smart-log: unknown option '--ns'"),
        (['--bogus-eal', 'identify'], '--bogus-eal'),
]:
    rc, out, err = run(args)
    check(rc == 2 and text in err, 'usage error %s: exit 2, "%s"' % (args, text),
          'rc %d, stderr: %s' % (rc, err))

print('%d failed' % failures)
sys.exit(1 if failures else 0)
