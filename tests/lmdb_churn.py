"""A process writing to an LMDB while tests read it: `python lmdb_churn.py LMDB [--grow]`.

It opens the LMDB for writing, then for each line `N` read from stdin commits N transactions and prints the
number committed so far; it keeps the LMDB open until stdin closes. Each transaction puts a neighbour
(`key~`) next to a seventh of the existing keys and deletes the neighbours of the previous one, so the pages
holding the existing keys are rewritten and freed over and over; the existing keys and their values are never
changed. With `--grow` each transaction also adds a 256 KiB value, doubling the map when it is full.
"""
from __future__ import annotations

import os
import sys

import lmdb

GROW_VALUE = 256 << 10


def main() -> None:
    path, grow = sys.argv[1], "--grow" in sys.argv[2:]
    env = lmdb.open(path, map_size=os.path.getsize(os.path.join(path, "data.mdb")) + (1 << 20), sync=False)
    with env.begin() as txn:
        keys = [bytes(k) for k in txn.cursor().iternext(keys=True, values=False)]
    commits = 0
    for line in sys.stdin:
        goal = commits + int(line)
        while commits < goal:
            try:
                with env.begin(write=True) as txn:
                    for key in keys[commits % 7::7]:
                        txn.put(key + b"~", os.urandom(300))
                    for key in keys[(commits - 1) % 7::7]:
                        txn.delete(key + b"~")
                    if grow:
                        txn.put(b"~grown%08d" % commits, os.urandom(GROW_VALUE))
            except lmdb.MapFullError:
                env.set_mapsize(env.info()["map_size"] * 2)
                continue
            commits += 1
        print(commits, flush=True)
    env.close()


if __name__ == "__main__":
    main()
