"""Helpers for the preparation commands' tests: real photographs as source files, forged huge images, a run killed
halfway through writing a file, and folders compared byte for byte."""
from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import cv2
import lmdb
import numpy as np

from conftest import BASICSR_FIXTURES

REPO = Path(__file__).resolve().parents[1]

# Run before the command in the child process: the `after`-th file write (through pathlib, as the commands write
# whole files, or through cv2.imwrite) writes half its bytes, then the process is SIGKILLed.
_KILL_HALFWAY = """
import os, pathlib, signal, cv2
_calls = [0]
def _halfway(write_half):
    _calls[0] += 1
    if _calls[0] == {after}:
        write_half()
        os.kill(os.getpid(), signal.SIGKILL)
_write_bytes = pathlib.Path.write_bytes
def _pathlib_write(self, data):
    _halfway(lambda: _write_bytes(self, bytes(data)[:len(data) // 2]))
    return _write_bytes(self, data)
pathlib.Path.write_bytes = _pathlib_write
_imwrite = cv2.imwrite
def _cv2_write(path, img, params=()):
    _halfway(lambda: _write_bytes(pathlib.Path(path), cv2.imencode(os.path.splitext(path)[1], img)[1][:100]))
    return _imwrite(path, img, params)
cv2.imwrite = _cv2_write
"""


def run_killed(call: str, after: int) -> None:
    """Run the Python statement `call` in a new process that is killed (SIGKILL) halfway through its `after`-th
    file write; asserts that it was killed."""
    script = _KILL_HALFWAY.format(after=after) + textwrap.dedent(call)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, f"not killed (exit {proc.returncode}): {proc.stderr[-2000:]}"


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` by relative '/'-path, with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def photos() -> dict[str, np.ndarray]:
    """The two Set14 photographs of the BasicSR fixture (baboon 480x492, comic 360x240), BGR uint8."""
    env = lmdb.open(str(BASICSR_FIXTURES / "gt.lmdb"), readonly=True, lock=False)
    try:
        with env.begin() as txn:
            return {key: cv2.imdecode(np.frombuffer(txn.get(key.encode()), np.uint8), cv2.IMREAD_UNCHANGED)
                    for key in ("baboon", "comic")}
    finally:
        env.close()


def truncated(data: bytes) -> bytes:
    """The first 60 % of an encoded image: its header intact, its pixels cut short."""
    return data[:len(data) * 3 // 5]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def forged_png(height: int, width: int) -> bytes:
    """A PNG of a few hundred bytes whose header announces height x width 8-bit RGB pixels (a decompression
    bomb's header; the image data holds one row only)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(bytes(1 + 3 * width), 9))
            + _chunk(b"IEND", b""))


def stderr_lines(module: str, *argv: str) -> list[str]:
    """The lines the `dali-sr` command of `dali_sr.prep.<module>` prints on its standard error (fd 2: also OpenCV's
    and libpng's warnings), run in a new process (with only that command's parser, which starts faster)."""
    script = (f"import argparse, sys\nfrom dali_sr.prep import {module} as command\n"
              f"parser = argparse.ArgumentParser()\ncommand.add_parser(parser.add_subparsers())\n"
              f"args = parser.parse_args(sys.argv[1:])\nsys.exit(args.func(args))\n")
    proc = subprocess.run([sys.executable, "-c", script, *argv], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stderr.splitlines()
