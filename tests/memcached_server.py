"""A throw-away memcached server on a free local port for the memcached storage tests (skipped without one)."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

import pytest

MEMCACHED = os.environ.get("DALI_SR_MEMCACHED", "/usr/bin/memcached")
START_SECONDS = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def start_memcached(port: Optional[int] = None, item_size_mb: int = 1,
                    memory_mb: int = 64) -> tuple[str, int, Callable[[], None]]:
    """Start `memcached` on 127.0.0.1 (`port`, or a free one) and wait until it accepts connections.

    Returns (host, port, stop); `stop()` kills the server (its items are lost) and may be called more
    than once. Skips the calling test when the binary is missing.
    """
    if shutil.which(MEMCACHED) is None:
        pytest.skip(f"{MEMCACHED} is missing: install memcached (apt-get install memcached) or set "
                    f"DALI_SR_MEMCACHED to its path")
    host, port = "127.0.0.1", port or free_port()
    cmd = [MEMCACHED, "-l", host, "-p", str(port), "-U", "0", "-m", str(memory_mb), "-I", f"{item_size_mb}m"]
    if os.geteuid() == 0:
        cmd += ["-u", "root"]  # memcached refuses to run as root unless told which user to be
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop() -> None:
        if proc.returncode is None:
            proc.kill()  # SIGTERM makes memcached finish its maintenance sleeps first (about 1 s)
            proc.communicate()

    deadline = time.monotonic() + START_SECONDS
    while not _accepts(host, port):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            err = proc.communicate()[1].decode(errors="replace").strip()
            raise RuntimeError(f"memcached on port {port} did not start: {err or 'no output'}")
        time.sleep(0.02)
    return host, port, stop


@contextmanager
def memcached_server(item_size_mb: int = 1, memory_mb: int = 64) -> Iterator[tuple[str, int, Callable[[], None]]]:
    """`start_memcached` as a context manager: (host, port, stop), stopped on exit."""
    host, port, stop = start_memcached(item_size_mb=item_size_mb, memory_mb=memory_mb)
    try:
        yield host, port, stop
    finally:
        stop()
