#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Nothing in doc/ or README.md points at a file the project does not contain.

Usage: check_links.py SOURCE_ROOT.  Checks, in README.md and doc/*.md:
- every relative Markdown link [text](path), from the page's own folder;
- every path into the tree a page cites (app/..., lib/..., doc/..., tests/...,
  a glob like app/*/test_*.py matching at least one file), from the root;
- every NAME.md a page names, which must be a page of doc/ or the root.
And every package scripts/setup.sh installs is in doc/getting-started.md's
list.  A path with a placeholder (lab_<what>, seeds/TARGET/) is skipped; a program
the build makes from PATH.c or PATH.py counts as present."""
import glob
import os
import re
import sys

LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')
TOP = ('app', 'lib', 'drivers', 'tests', 'scripts', 'examples', 'doc', '.ci')
PATH = re.compile(r'(?<![\w./-])((?:%s)/[\w.*+/-]*[\w*])' % '|'.join(re.escape(t) for t in TOP))
PAGE = re.compile(r'(?<![\w./-])([\w-]+\.md)\b')
ROOT_FILES = re.compile(r'(?<![\w./-])(meson\.build|meson_options\.txt|LICENSE|CHANGELOG\.md)\b')


def pages(root):
    return [os.path.join(root, 'README.md')] + sorted(glob.glob(os.path.join(root, 'doc', '*.md')))


def exists(root, path):
    if any(c in path for c in '*?['):
        return bool(glob.glob(os.path.join(root, path)))
    return os.path.exists(os.path.join(root, path))


def check_page(root, page):
    bad = []
    here = os.path.dirname(page)
    rel = os.path.relpath(page, root)
    with open(page) as f:
        lines = f.read().splitlines()
    for n, line in enumerate(lines, 1):
        for target in LINK.findall(line):
            target = target.split('#')[0]
            if not target or re.match(r'^[a-z]+:', target):
                continue  # an anchor in the page, or a URL
            if not os.path.exists(os.path.normpath(os.path.join(here, target))):
                bad.append('%s:%d: link to %s: no such file' % (rel, n, target))
        for m in PATH.finditer(line):
            path = m.group(1).rstrip('.')
            if line[m.end():m.end() + 1] == '<' or re.search(r'(^|/)[A-Z][A-Z_]+(/|$)', path):
                continue  # a placeholder: lab_<what>, seeds/TARGET/
            if not (exists(root, path) or exists(root, path + '.c') or
                    exists(root, path + '.py')):  # a program built from path.c
                bad.append('%s:%d: cites %s: no such file or folder in the tree' % (rel, n, path))
        for name in PAGE.findall(line):
            if not (os.path.exists(os.path.join(root, 'doc', name)) or
                    os.path.exists(os.path.join(root, name))):
                bad.append('%s:%d: names %s: no such page in doc/ or the top folder '
                           '(write what the reader needs into doc/)' % (rel, n, name))
        for name in ROOT_FILES.findall(line):
            if not os.path.exists(os.path.join(root, name)):
                bad.append('%s:%d: names %s: not in the top folder' % (rel, n, name))
    return bad


def check_packages(root):
    """Every package of scripts/setup.sh is in doc/getting-started.md's list."""
    with open(os.path.join(root, 'scripts', 'setup.sh')) as f:
        m = re.search(r'^PACKAGES=\((.*?)^\)', f.read(), re.S | re.M)
    with open(os.path.join(root, 'doc', 'getting-started.md')) as f:
        doc = f.read()
    if m is None:
        return ['scripts/setup.sh: no PACKAGES=( ... ) list']
    words = [w for line in m.group(1).splitlines() for w in line.split('#')[0].split()]
    return ['doc/getting-started.md: the package list lacks %s (scripts/setup.sh installs it)' % w
            for w in words if not re.search(r'(?<![\w.+-])%s(?![\w.+-])' % re.escape(w), doc)]


def main():
    if len(sys.argv) != 2:
        print('usage: check_links.py SOURCE_ROOT')
        return 2
    root = sys.argv[1]
    bad = []
    checked = pages(root)
    for page in checked:
        bad += check_page(root, page)
    bad += check_packages(root)
    for b in bad:
        print('FAIL ' + b)
    print('%d page(s), %d missing target(s)' % (len(checked), len(bad)))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
