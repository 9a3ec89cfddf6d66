#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# Fails if a file of kernel/ depends on a file that depends back on it.
#
#   scripts/check-deps.py BUILD_DIR SRC_DIR
#
# A file depends on another when it includes it (#include "...") or calls
# a function the other defines (nm: U here, T there).  Data objects do not
# count: the generated netlink-gen.c's ops table names netlink.c's
# handlers, which reply in the family object netlink-gen.c defines, and
# the family's layout is the generator's.  Run by scripts/build-module.sh
# after each build: a cycle fails the build, with the files and the
# symbols that close it.
import os
import re
import subprocess
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def includes(src_dir):
    edges = {}
    for name in sorted(os.listdir(src_dir)):
        if not name.endswith(('.c', '.h')):
            continue
        with open(os.path.join(src_dir, name)) as f:
            for line in f:
                m = INCLUDE.match(line)
                if m and os.path.exists(os.path.join(src_dir, m.group(1))):
                    edges.setdefault(name, {})[m.group(1)] = ['#include']
    return edges


def symbols(obj):
    out = subprocess.run(['nm', obj], check=True, capture_output=True,
                         text=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[0] == 'U':
            undefined.add(fields[1])
        elif len(fields) == 3 and fields[1] == 'T':
            defined.add(fields[2])
    return defined, undefined


def calls(build_dir, src_dir, edges):
    objs = {}
    for name in sorted(os.listdir(src_dir)):
        obj = os.path.join(build_dir, name[:-2] + '.o')
        if name.endswith('.c') and os.path.exists(obj):
            objs[name] = symbols(obj)
    if not objs:
        sys.exit('check-deps: no objects of %s in %s' % (src_dir, build_dir))
    owner = {}
    for name, (defined, _) in objs.items():
        for sym in defined:
            owner[sym] = name
    for name, (_, undefined) in objs.items():
        for sym in sorted(undefined):
            dep = owner.get(sym)
            if dep and dep != name:
                edges.setdefault(name, {}).setdefault(dep, []).append(sym)


def shortest_path(src, dst, edges):
    """The files from src to dst, both included, or None."""
    prev, queue = {src: None}, [src]
    while queue:
        node = queue.pop(0)
        if node == dst:
            path = [node]
            while prev[path[-1]] is not None:
                path.append(prev[path[-1]])
            return path[::-1]
        for dep in sorted(edges.get(node, {})):
            if dep not in prev:
                prev[dep] = node
                queue.append(dep)
    return None


def cycles(edges):
    """For each dependency a -> b that b depends back on, the shortest such
    cycle, each cycle once."""
    found = {}
    for a in sorted(edges):
        for b in sorted(edges[a]):
            back = shortest_path(b, a, edges)
            if not back:
                continue
            ring = [a] + back[:-1]
            first = ring.index(min(ring))
            ring = ring[first:] + ring[:first]
            found.setdefault(tuple(ring), ring + [ring[0]])
    return list(found.values())


def main():
    if len(sys.argv) != 3:
        sys.exit('usage: check-deps.py BUILD_DIR SRC_DIR')
    build_dir, src_dir = sys.argv[1:]
    edges = includes(src_dir)
    calls(build_dir, src_dir, edges)
    found = cycles(edges)
    for path in found:
        steps = [path[0]]
        for a, b in zip(path, path[1:]):
            why = edges[a][b]
            more = ', ...' if len(why) > 3 else ''
            steps.append('-> %s (%s%s)' % (b, ', '.join(why[:3]), more))
        print('check-deps: cycle: ' + ' '.join(steps), file=sys.stderr)
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
