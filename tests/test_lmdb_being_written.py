"""LMDBs that another process writes while they are read (`lmdb_churn.py` is the writer): readers opened while
it has the LMDB open register in the lock table and read one consistent snapshot; a writer that starts later
is named in one line, never taken for corruption or for a key that is missing; a finished LMDB is read
without touching its files."""
from __future__ import annotations

import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

import dali_sr
from conftest import make_nn_pairs, paired_cfg
from dali_sr import DatasetError
from dali_sr.storage import backends
from dali_sr.storage.backends import LmdbStorage
from faults import one_line

CHURN = Path(__file__).with_name("lmdb_churn.py")
SIZES = [(12 + i % 5, 14 + i % 3) for i in range(40)]
COMMITS = 200  # transactions the writer commits between reads: enough to reuse the pages of older snapshots
WRITTEN = "is being written by another process"


@pytest.fixture
def pairs(tmp_path) -> dict[str, str]:
    return make_nn_pairs(tmp_path / "data", 2, SIZES, lmdb=True)


class Writer:
    """A process writing to an LMDB (see `lmdb_churn.py`) that commits transactions when told to."""

    def __init__(self, lmdb_path: str, *flags: str):
        self.proc = subprocess.Popen([sys.executable, str(CHURN), lmdb_path, *flags], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def start(self, commits: int) -> None:
        """Have it commit `commits` more transactions, while the caller goes on."""
        self.proc.stdin.write(f"{commits}\n")
        self.proc.stdin.flush()

    def wait(self) -> None:
        """Return once the oldest `start` is done."""
        assert self.proc.stdout.readline(), f"the writer stopped (exit code {self.proc.poll()})"

    def commit(self, commits: int) -> None:
        self.start(commits)
        self.wait()


@contextmanager
def writer(lmdb_path: str, *flags: str) -> Iterator[Writer]:
    """A writer of `lmdb_path` that has the LMDB open (and has committed once) inside the block."""
    churn = Writer(lmdb_path, *flags)
    try:
        churn.commit(1)
        yield churn
    finally:
        churn.proc.kill()
        churn.proc.wait()


def files(folder: str) -> dict[str, bytes]:
    """The values the LMDB was written from: the image files by key."""
    return {p.stem: p.read_bytes() for p in sorted(Path(folder).iterdir())}


def in_thread(call):
    """What `call()` returns or raises, run in a new thread (a thread opens its own read transaction)."""
    out = {}

    def run():
        try:
            out["value"] = call()
        except Exception as e:  # noqa: BLE001 - handed back to the test
            out["error"] = e

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_readers_opened_while_a_writer_is_at_work_keep_reading_their_snapshot(pairs):
    expected = files(pairs["gt"])
    with writer(pairs["gt_lmdb"]) as churn:
        churn.commit(COMMITS)
        assert backends.readers_register(pairs["gt_lmdb"])
        store = LmdbStorage(pairs["gt_lmdb"])
        try:
            assert bytes(store.get("img000")) == expected["img000"]
            churn.commit(COMMITS)
            assert {key: bytes(store.get(key)) for key in expected} == expected
            assert store.missing(list(expected)) == []
            churn.commit(COMMITS)
            assert in_thread(lambda: {key: bytes(store.get(key)) for key in expected}) == expected
        finally:
            store.close()


def two_epochs(cfg, *writers: Writer) -> list[tuple[np.ndarray, np.ndarray]]:
    """(lq, gt) of every batch of epochs 0 and 1; after each batch the `writers` commit 5 transactions while the
    next batches are read."""
    out = []
    with dali_sr.build_loader(cfg) as loader:
        for epoch in range(2):
            loader.set_epoch(epoch)
            for b in loader:
                for w in writers:
                    w.start(5)
                out.append((b["lq"].numpy().copy(), b["gt"].numpy().copy()))
    for w in writers:
        for _ in out:
            w.wait()
    return out


def test_a_loader_over_an_lmdb_being_written_gives_the_batches_of_its_images(pairs):
    with writer(pairs["gt_lmdb"]) as gt, writer(pairs["lq_lmdb"]) as lq:
        gt.commit(COMMITS)
        lq.commit(COMMITS)
        got = two_epochs(paired_cfg(pairs, 2, lmdb=True, seed=3), gt, lq)
    want = two_epochs(paired_cfg(pairs, 2, seed=3))  # the same images, from their files
    assert len(got) == len(want) == 2 * len(SIZES) // 4
    for (lq1, gt1), (lq2, gt2) in zip(got, want):
        np.testing.assert_array_equal(lq1, lq2)
        np.testing.assert_array_equal(gt1, gt2)


def test_a_writer_that_starts_after_the_readers_is_named_not_taken_for_corruption(pairs):
    expected = files(pairs["gt"])
    store = LmdbStorage(pairs["gt_lmdb"])
    try:
        assert bytes(store.get("img000")) == expected["img000"]
        with writer(pairs["gt_lmdb"]) as churn:
            churn.commit(COMMITS)
            for read in (lambda: [store.get(key) for key in expected], lambda: store.require(list(expected)),
                         lambda: list(store.stored_items())):
                with pytest.raises(DatasetError) as e:
                    read()
                assert f"LMDB {pairs['gt_lmdb']} {WRITTEN} (its last commit went from transaction " in \
                    one_line(str(e.value))
    finally:
        store.close()


def test_a_database_grown_past_its_size_at_opening_is_a_writer_at_work(pairs, monkeypatch):
    monkeypatch.setattr(backends, "WRITER_HEADROOM", 8 << 20, raising=False)
    expected = files(pairs["gt"])
    with writer(pairs["gt_lmdb"], "--grow") as churn:
        churn.commit(1)
        store = LmdbStorage(pairs["gt_lmdb"])
        try:
            assert bytes(store.get("img000")) == expected["img000"]
            churn.commit(COMMITS)  # 200 x 256 KiB: past the 8 MiB of headroom
            assert {key: bytes(store.get(key)) for key in expected} == expected
            with pytest.raises(DatasetError) as e:
                in_thread(lambda: store.get("img001"))
        finally:
            store.close()
    assert one_line(str(e.value)) == (f"LMDB {pairs['gt_lmdb']} {WRITTEN} (it grew beyond what this process "
                                      f"mapped when opening it); wait for the writer to finish, or read a finished copy")


def test_readers_of_a_finished_lmdb_leave_its_files_untouched(pairs, tmp_path):
    folder = Path(pairs["gt_lmdb"])
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    assert not backends.readers_register(str(folder))
    store = LmdbStorage(str(folder))
    try:
        assert {key: bytes(store.get(key)) for key in files(pairs["gt"])} == files(pairs["gt"])
    finally:
        store.close()
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()} == before
