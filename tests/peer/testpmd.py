# SPDX-License-Identifier: BSD-3-Clause
"""dpdk-testpmd as a vhost-user back-end (a peer udk did not write), shared by
the host tests that need it: tests/peer/test_vhost_user.py and
app/udk-fwd/test_fwd_dpdk.py."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

TESTPMD = shutil.which('dpdk-testpmd')


def require():
    """Skip the calling test (exit 77) when testpmd cannot run here."""
    if TESTPMD is None:
        print('SKIP: dpdk-testpmd not found (Debian package dpdk; scripts/setup.sh installs it)')
        sys.exit(77)
    if os.geteuid() != 0:
        print('SKIP: dpdk-testpmd needs root here')
        sys.exit(77)


class Testpmd:
    """dpdk-testpmd serving vhost-user on sock (it is the server; with
    client=True it connects to udk's socket there), forwarding in mode on one
    lcore; its log goes to tmp, its runtime directory is
    /var/run/dpdk/prefix."""

    def __init__(self, sock, tmp, prefix, mode='io', extra=(), client=False, queues=1):
        self.sock = sock
        self.log = open(os.path.join(tmp, 'testpmd-%s-%s.log' % (mode, prefix)), 'w+')
        if os.path.exists(sock) and not client:
            os.unlink(sock)
        # --no-huge: ordinary memory (testpmd's own, never shared); it maps
        # udk's memory from the fds udk sends.  -l 0,1: the main lcore and one
        # forwarding lcore.
        self.p = subprocess.Popen(
            [TESTPMD, '-l', '0,1', '--main-lcore', '0', '--no-pci', '--no-huge', '-m', '512',
             '--file-prefix', prefix, '--single-file-segments',
             '--vdev', 'net_vhost0,iface=%s,queues=%d%s' % (sock, queues,
                                                           ',client=1' if client else ''),
             '--',
             '--forward-mode=%s' % mode, '--auto-start', '--stats-period', '1',
             '--nb-cores=1', '--total-num-mbufs=8192', '--rxq=%d' % queues,
             '--txq=%d' % queues] + list(extra),
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        # A client connects when it can: udk's socket may not be there yet.
        while not client and not os.path.exists(sock) and time.time() < deadline and \
                self.p.poll() is None:
            time.sleep(0.1)
        if not client and not os.path.exists(sock):
            self.log.seek(0)
            raise RuntimeError('testpmd did not create %s:\n%s' % (sock, self.log.read()[-3000:]))
        # The socket exists from the vhost probe on, before testpmd configures
        # and starts its port: a front-end that connected and sent at once
        # raced the start (seen under load: l2echo's 1000 frames never
        # reached testpmd).  Wait until it forwards.
        while time.time() < deadline and self.p.poll() is None:
            self.log.seek(0)
            if 'packet forwarding - ports=' in self.log.read():
                break
            time.sleep(0.1)

    def stop(self):
        """SIGINT, then testpmd's final forward statistics of port 0."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
            try:
                self.p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.seek(0)
        out = self.log.read()
        m = re.search(r'Forward statistics for port 0\s+-+\s+RX-packets:\s*(\d+)\s+RX-dropped:\s*(\d+)'
                      r'.*?TX-packets:\s*(\d+)\s+TX-dropped:\s*(\d+)', out, re.S)
        if m is None:
            return None, out
        return {'rx': int(m.group(1)), 'rx_dropped': int(m.group(2)),
                'tx': int(m.group(3)), 'tx_dropped': int(m.group(4))}, out
