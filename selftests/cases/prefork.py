#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""prefork.py: a pre-fork server's start, as cowtrace sees it.

The parent builds an object graph (OBJECTS small lists, each a
collector-tracked container), collects it once, optionally calls
gc.freeze(), then sets cowtrace's filter to itself, resets the counters
and forks WORKERS workers.  Each worker runs gc.collect() once and
exits; the parent reaps them and prints, one "key value" per line:

  tracked_pages  distinct pages holding the PyGC_Head of a tracked
                 object at the fork (gc.get_objects(), the header being
                 the 16 bytes before id()): the pages a full collection
                 writes (it stores gc_refs in every header it visits)
  graph_pages    the same for the OBJECTS lists alone
  worker N copies reuses zero_fills  cowtrace's row of each worker
  parent copies reuses zero_fills    cowtrace's row of the parent

Run as root with cowtrace loaded; usage: prefork.py [--freeze] OBJECTS WORKERS
"""
import gc
import os
import sys

CT = "/sys/kernel/debug/cowtrace/"
PAGE = os.sysconf("SC_PAGE_SIZE")
HEAD = 16       # sizeof(PyGC_Head) on 64-bit CPython 3.8 and later


def pages(objs):
    return len({(id(o) - HEAD) // PAGE for o in objs})


def control(cmd):
    with open(CT + "control", "w") as f:
        f.write(cmd + "\n")


def rows():
    with open(CT + "procs") as f:
        lines = f.read().split("\n")
    head = lines[0].split()
    return [dict(zip(head, ln.split())) for ln in lines[1:] if ln.strip()]


def main():
    args = sys.argv[1:]
    freeze = "--freeze" in args
    args = [a for a in args if a != "--freeze"]
    nobj, nworkers = int(args[0]), int(args[1])

    graph = [[i] for i in range(nobj)]
    gc.collect()
    everything = gc.get_objects()
    tracked = pages(everything)
    del everything
    print("tracked_pages", tracked)
    print("graph_pages", pages(graph))
    print("objects", nobj, "workers", nworkers, "freeze", int(freeze))
    print("python", sys.version.split()[0], "page", PAGE)
    sys.stdout.flush()
    if freeze:
        gc.freeze()
    me = os.getpid()
    control("filter pid %d" % me)
    control("reset")
    kids = []
    for _ in range(nworkers):
        pid = os.fork()
        if pid == 0:
            gc.collect()
            os._exit(0)
        kids.append(pid)
    for pid in kids:
        _, status = os.waitpid(pid, 0)
        if status != 0:
            print("worker", pid, "status", status)
            sys.exit(1)
    table = {int(r["pid"]): r for r in rows()}
    control("filter none")
    cols = ("copies", "reuses", "zero_fills")
    for i, pid in enumerate(kids):
        r = table.get(pid)
        if r is None:
            print("worker", i, "no row")
            sys.exit(1)
        print("worker", i, " ".join(r[c] for c in cols))
    r = table[me]
    print("parent", " ".join(r[c] for c in cols))
    # graph stays alive until here
    print("graph_len", len(graph))


main()
