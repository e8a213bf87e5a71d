# SPDX-License-Identifier: BSD-3-Clause
"""The lab's iommufd guest kernel: built from Debian's linux-source-6.12 with
the configuration fragment iommufd-kernel.config on top of `make
allnoconfig`, and cached so that it is built once per machine (doc/lab.md,
"The iommufd guest").  Used by lab.py (--guest iommufd); standard library only.

The cache is $UDK_LAB_CACHE, else $XDG_CACHE_HOME/udk-lab, else
~/.cache/udk-lab.  One kernel lives in <cache>/kernel-<key>/, where the key is
the source package's version and a hash of the fragment's CONFIG_ lines and of
RECIPE (comments in either file do not force a rebuild, which takes 20-25
minutes on 2 cores):

  vmlinux                   the ELF kernel QEMU boots through PVH
  modules/lib/modules/<r>/  its modules (the lab devices' drivers), bound over
                            the guest's /lib/modules (init.sh)
  build.json                source, version, release, build time
"""

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FRAGMENT = os.path.join(HERE, 'iommufd-kernel.config')
SOURCE_GLOB = re.compile(r'linux-source-(\d+\.\d+)\.tar\.xz$')
SOURCE_DIR = '/usr/src'
WANT_SERIES = '6.12'
# Bump when _build_locked() changes what it builds or how (make targets,
# steps, what is copied into the cache): the cache key hashes this, not the
# text of this file, so editing a comment here keeps the cached kernel.
RECIPE = 'allnoconfig+fragment, vmlinux+modules_install(strip), v1'


class KernelUnavailable(Exception):
    """No kernel source to build from, or the build failed."""


def cache_dir():
    d = os.environ.get('UDK_LAB_CACHE')
    if not d:
        base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'),
                                                                '.cache')
        d = os.path.join(base, 'udk-lab')
    return os.path.abspath(d)


def source_tarball():
    """Debian's linux-source-6.12 tarball (UDK_LAB_KERNEL_SOURCE names another)."""
    p = os.environ.get('UDK_LAB_KERNEL_SOURCE')
    if p:
        if not os.access(p, os.R_OK):
            raise KernelUnavailable('UDK_LAB_KERNEL_SOURCE=%s is not readable' % p)
        return p
    p = os.path.join(SOURCE_DIR, 'linux-source-%s.tar.xz' % WANT_SERIES)
    if not os.access(p, os.R_OK):
        raise KernelUnavailable('no %s to build the iommufd guest kernel from (install '
                                'linux-source-%s: scripts/setup.sh)' % (p, WANT_SERIES))
    return p


def source_version(tarball):
    """The Debian package version that installed tarball (e.g.
    6.12.117-1~deb12u1), or its size and mtime when no package owns it."""
    try:
        owner = subprocess.run(['dpkg-query', '-S', tarball], capture_output=True, text=True,
                               check=True).stdout.split(':', 1)[0].strip()
        ver = subprocess.run(['dpkg-query', '-W', '-f', '${Version}', owner],
                             capture_output=True, text=True, check=True).stdout.strip()
        if ver:
            return ver
    except (OSError, subprocess.CalledProcessError):
        pass
    st = os.stat(tarball)
    return 'file-%d-%d' % (st.st_size, int(st.st_mtime))


def fragment_lines():
    """The CONFIG_ lines of the fragment, which the final .config must hold."""
    out = []
    with open(FRAGMENT) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith('#'):
                out.append(line)
    return out


def cache_key(tarball):
    h = hashlib.sha256()
    h.update(RECIPE.encode())
    for line in fragment_lines():
        h.update(b'\n' + line.encode())
    ver = re.sub(r'[^A-Za-z0-9.+-]', '_', source_version(tarball))
    return '%s-%s' % (ver, h.hexdigest()[:12])


def kernel_dir(tarball=None):
    return os.path.join(cache_dir(), 'kernel-' + cache_key(tarball or source_tarball()))


def cached():
    """The cached kernel's directory and its build.json, or None if it is
    not built yet."""
    d = kernel_dir()
    info = _read_json(os.path.join(d, 'build.json'))
    if info and os.path.exists(os.path.join(d, 'vmlinux')):
        return d, info
    return None


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _run(cmd, logf, cwd=None):
    logf.write('$ %s\n' % ' '.join(cmd))
    logf.flush()
    rc = subprocess.run(cmd, cwd=cwd, stdout=logf, stderr=subprocess.STDOUT,
                        stdin=subprocess.DEVNULL).returncode
    if rc != 0:
        raise KernelUnavailable('%s failed (exit %d); see %s' % (' '.join(cmd[:4]), rc,
                                                                logf.name))


def build(log=print, jobs=None):
    """The cached kernel, built first if it is not there: returns (dir, info).
    Holds <cache>/kernel.lock, so that two runs on one machine build once."""
    tarball = source_tarball()
    top = cache_dir()
    os.makedirs(top, exist_ok=True)
    with open(os.path.join(top, 'kernel.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = cached()
        if found:
            return found
        return _build_locked(tarball, kernel_dir(tarball), log, jobs or os.cpu_count() or 1)


def _build_locked(tarball, out, log, jobs):
    for tool in ('make', 'gcc', 'flex', 'bison', 'bc', 'depmod'):
        if not shutil.which(tool) and not os.path.exists('/usr/sbin/' + tool) \
                and not os.path.exists('/sbin/' + tool):
            raise KernelUnavailable('building the iommufd guest kernel needs %s '
                                    '(scripts/setup.sh installs it)' % tool)
    work = out + '.work'
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(work, 'src'))
    os.makedirs(out)
    t0 = time.monotonic()
    log('building the iommufd guest kernel from %s (%s) with %d jobs, log in %s/build.log; '
        'this takes several minutes, once' % (tarball, source_version(tarball), jobs, out))
    with open(os.path.join(out, 'build.log'), 'w') as logf:
        _run(['tar', '-xJf', tarball, '-C', os.path.join(work, 'src'),
              '--strip-components=1'], logf)
        t_extract = time.monotonic() - t0
        src = os.path.join(work, 'src')
        obj = os.path.join(work, 'obj')
        make = ['make', '-C', src, 'O=' + obj]
        _run(make + ['allnoconfig', 'KCONFIG_ALLCONFIG=' + FRAGMENT], logf)
        with open(os.path.join(obj, '.config')) as f:
            have = set(line.strip() for line in f)
        missing = [line for line in fragment_lines() if line not in have]
        if missing:
            raise KernelUnavailable('the kernel configuration dropped %s (a dependency is '
                                    'missing from %s)' % (', '.join(missing), FRAGMENT))
        t1 = time.monotonic()
        _run(['nice', '-n', '10'] + make + ['-j%d' % jobs, 'vmlinux', 'modules'], logf)
        t_make = time.monotonic() - t1
        _run(make + ['modules_install', 'INSTALL_MOD_PATH=' + os.path.join(out, 'modules'),
                     'INSTALL_MOD_STRIP=1', 'DEPMOD=' + (shutil.which('depmod') or
                                                         '/usr/sbin/depmod')], logf)
        release = subprocess.run(make + ['-s', 'kernelrelease'], capture_output=True,
                                 text=True).stdout.strip().splitlines()[-1]
    shutil.copy(os.path.join(obj, 'vmlinux'), os.path.join(out, 'vmlinux.tmp'))
    os.replace(os.path.join(out, 'vmlinux.tmp'), os.path.join(out, 'vmlinux'))
    shutil.copy(os.path.join(obj, '.config'), os.path.join(out, 'config'))
    shutil.rmtree(work, ignore_errors=True)
    info = {'source': tarball, 'version': source_version(tarball), 'release': release,
            'jobs': jobs, 'extract_s': round(t_extract, 1), 'make_s': round(t_make, 1),
            'total_s': round(time.monotonic() - t0, 1),
            'built': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}
    with open(os.path.join(out, 'build.json.tmp'), 'w') as f:
        json.dump(info, f, indent=1)
    os.replace(os.path.join(out, 'build.json.tmp'), os.path.join(out, 'build.json'))
    log('built iommufd guest kernel %s in %.0f s (make %.0f s)' % (release, info['total_s'],
                                                                   t_make))
    return out, info
