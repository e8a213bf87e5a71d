#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""udk-nvme-perf on the host, where there is no NVMe to drive: --help,
--version, and each usage error decided before the EAL starts (exit 2 with
one line).  The lab test lab_nvme_perf runs it against a real controller."""
import os
import sys

import clitest
from clitest import check

TOOL = sys.argv[1]


def run(args):
    return clitest.run([TOOL] + args)


rc, out, err = run(['--', '--help'])
check(rc == 0 and '--pattern' in out and '--mode M' in out and '--allow' in out, '--help lists options and EAL options',
      out + err)
check(rc == 0 and '--histogram' in out and '-LL for --histogram' in out and
      "spdk_nvme_perf's -q, -o, -w, -t and -M" in out, '--help names the spdk_nvme_perf aliases', out)
rc, out, err = run(['--version'])
check(rc == 0 and out == 'udk-nvme-perf (udk) %s\n' % os.environ['UDK_VERSION'],
      '--version says the project version', out)

for args, text in [
        (['--qd', '0'], "--qd: '0' is not a number in 1..65535"),
        (['--pattern', 'zigzag'], "--pattern: unknown pattern 'zigzag'"),
        (['--mix', '70'], '--mix applies to the rw and randrw patterns'),
        (['--pattern', 'rw', '--mix', '101'], "--mix: '101' is not a number in 0..100"),
        (['--time', '0'], "--time: '0' is not a number of seconds"),
        (['--io-size', 'big'], "--io-size: 'big' is not a number"),
        (['--frob'], "unknown option '--frob'"),
        (['--verify'], '--verify needs --pattern write'),
        (['--verify', '--pattern', 'randwrite'], '--verify needs --pattern write'),
        (['--ns', '0'], "--ns: '0' is not a number in 1..4294967294"),
        (['--ns', '1,,2'], "--ns: '1,,2' is not 'all' or a list of NSIDs"),
        (['--ns', '2,'], "--ns: '2,' is not 'all' or a list of NSIDs"),
        (['--ns', '1,x'], "--ns: 'x' is not a number"),
        (['--ns', '1,2,1'], '--ns: namespace 1 is listed twice'),
        (['--ns', ','.join(str(n) for n in range(1, 18))], '--ns: more than 16 namespaces'),
        (['--ns'], '--ns needs a value'),
        (['--mode', 'sleepy'], "--mode: unknown mode 'sleepy' (poll, interrupt, adaptive)"),
        (['--mode'], '--mode needs a value'),
        (['--plot'], '--plot needs a file name prefix'),
        (['--spin', '10'], '--spin applies to --mode adaptive, not poll'),
        (['--mode', 'interrupt', '--spin', '10'], '--spin applies to --mode adaptive, not interrupt'),
        (['--mode', 'adaptive', '--spin', 'x'], "--spin: 'x' is not a number"),
        (['--coalesce', '3,1'], '--coalesce applies to --mode interrupt or adaptive, not poll'),
        (['--mode', 'adaptive', '--coalesce', '3'], "--coalesce: '3' is not THR,TIME"),
        (['--mode', 'adaptive', '--coalesce', '256,1'], "--coalesce: '256,1' is not THR,TIME"),
        (['--mode', 'adaptive', '--coalesce', '1,-1'], "--coalesce: '1,-1' is not THR,TIME"),
        (['--mode', 'adaptive', '--coalesce', '1,2x'], "--coalesce: '1,2x' is not THR,TIME"),
        (['--coalesce'], '--coalesce needs a value'),
        # spdk_nvme_perf's short options are the long ones (errors name those).
        (['-q', '0'], "--qd: '0' is not a number in 1..65535"),
        (['-o', 'big'], "--io-size: 'big' is not a number"),
        (['-w', 'zigzag'], "--pattern: unknown pattern 'zigzag'"),
        (['-t', '0'], "--time: '0' is not a number of seconds"),
        (['-M', '70'], '--mix applies to the rw and randrw patterns'),
        (['-w', 'randrw', '-M', '101'], "--mix: '101' is not a number in 0..100"),
        (['-w', 'write', '-q', '4', '--verify', '-w', 'read'], '--verify needs --pattern write'),
        (['-c', '0x3'], '-c: the core mask is an EAL option: give it before -- (-c MASK, or -l LIST)'),
        (['-x'], "unknown option '-x'"),
]:
    rc, out, err = run(['-a', '0000:00:03.0', '--'] + args)
    check(rc == 2 and text in err and err.count('\n') == 1,
          'usage error %s: exit 2, "%s"' % (args, text), 'rc %d, stderr: %s' % (rc, err))

# Accepted aliases get as far as the EAL, which has no device on the host:
# past the option check (exit 1, not 2).  -c before -- is the EAL's.
for args in [['-a', '0000:00:03.0', '--', '-q', '32', '-o', '8k', '-w', 'randrw', '-M', '70',
              '-t', '1'],
             ['-c', '0x1', '-a', '0000:00:03.0', '--', '-w', 'write'],
             ['-a', '0000:00:03.0', '--', '-LL', '-L', '--histogram', '--json']]:
    rc, out, err = run(args)
    check(rc == 1 and 'EAL init failed' in err, 'aliases accepted: %s' % args,
          'rc %d, stderr: %s' % (rc, err))

clitest.finish()
