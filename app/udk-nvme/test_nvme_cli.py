#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""udk-nvme on the host, where there is no NVMe to drive: --help for the tool
and each command, --version, and each usage error's message and exit status
(2), all decided before the EAL starts.  The lab test lab_nvme_tool runs the
commands against real controllers."""
import json
import os
import sys
import tempfile

import clitest
from clitest import check

TOOL = sys.argv[1]


def run(args, env=None):
    return clitest.run([TOOL] + args, env=env)


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



# list: every NVMe controller sysfs shows, on any driver, like `nvme list`;
# a fixture sysfs with one controller on the kernel's nvme (two namespaces),
# one under native multipath (its path nvme1c1n1 is the disk nvme1n1), one
# on vfio-pci, and a NIC that is no NVMe.
def write(root, rel, text):
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text + '\n')


def pci(root, bdf, cls, driver):
    d = 'bus/pci/devices/' + bdf
    for attr, val in (('vendor', '0x1b36'), ('device', '0x0010'), ('class', cls),
                      ('numa_node', '-1'), ('driver_override', '(null)')):
        write(root, d + '/' + attr, val)
    os.makedirs(os.path.join(root, 'bus/pci/drivers', driver), exist_ok=True)
    os.symlink('../../drivers/' + driver, os.path.join(root, d, 'driver'))


def ctrl(root, bdf, name, serial, nss):
    d = 'bus/pci/devices/%s/nvme/%s' % (bdf, name)
    write(root, d + '/model', 'QEMU NVMe Ctrl')
    write(root, d + '/serial', serial)
    write(root, d + '/firmware_rev', '7.2.22')
    for ns, nsid, sectors in nss:
        write(root, '%s/%s/nsid' % (d, ns), str(nsid))
        write(root, '%s/%s/size' % (d, ns), str(sectors))
        write(root, '%s/%s/queue/logical_block_size' % (d, ns), '4096')


with tempfile.TemporaryDirectory() as root:
    pci(root, '0000:00:04.0', '0x010802', 'nvme')
    ctrl(root, '0000:00:04.0', 'nvme0', 'SN-A', [('nvme0n1', 1, 524288), ('nvme0n2', 2, 1024)])
    pci(root, '0000:00:05.0', '0x010802', 'nvme')
    ctrl(root, '0000:00:05.0', 'nvme1', 'SN-B', [('nvme1c1n1', 1, 2048)])
    pci(root, '0000:02:00.0', '0x010802', 'vfio-pci')
    pci(root, '0000:03:00.0', '0x020000', 'e1000e')
    env = dict(os.environ, UDK_SYSFS_ROOT=root)
    rc, out, err = run(['list'], env)
    lines = out.splitlines()
    check(rc == 0 and len(lines) == 8 and lines[0].split()[:3] == ['BDF', 'DRIVER', 'KERNEL'] and
          lines[1].split() == ['0000:00:04.0', 'nvme', 'nvme0', 'SN-A', 'QEMU', 'NVMe', 'Ctrl',
                               '7.2.22'] and
          lines[2].split()[:4] == ['/dev/nvme0n1', 'namespace', '1', '0.27'] and
          lines[3].split()[:3] == ['/dev/nvme0n2', 'namespace', '2'] and
          lines[5].split()[:3] == ['/dev/nvme1n1', 'namespace', '1'] and
          lines[6].startswith('0000:02:00.0 vfio-pci') and '03:00.0' not in out and
          'udk-nvme -a 0000:02:00.0 identify' in lines[7],
          'list: each NVMe controller on any driver, the kernel\'s namespaces under it, no NIC',
          out + err)
    rc, out, err = run(['list', '--json'], env)
    try:
        c = json.loads(out)['controllers']
        check(rc == 0 and [x['bdf'] for x in c] == ['0000:00:04.0', '0000:00:05.0', '0000:02:00.0']
              and c[0]['serial'] == 'SN-A' and c[0]['controller'] == 'nvme0' and
              c[0]['namespaces'] == [
                  {'nsid': 1, 'device': '/dev/nvme0n1', 'bytes': 524288 * 512, 'block_size': 4096},
                  {'nsid': 2, 'device': '/dev/nvme0n2', 'bytes': 1024 * 512, 'block_size': 4096}]
              and c[1]['namespaces'][0]['device'] == '/dev/nvme1n1' and
              c[2]['driver'] == 'vfio-pci' and c[2]['namespaces'] == [],
              'list --json: controllers, drivers and namespaces', out)
    except (ValueError, KeyError, IndexError) as e:
        check(False, 'list --json prints one JSON object', '%s: %s %s' % (e, out, err))
    rc, out, err = run(['list', '--ns', '1'], env)
    check(rc == 2 and "list: unknown option '--ns'" in err, 'list --ns: a usage error', err)

clitest.finish()
