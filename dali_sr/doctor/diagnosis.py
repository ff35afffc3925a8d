"""From the stages' times to the stage that bounds the loader and the fixes that would help, ranked.

The model: the source (reads and degradation draws) runs on the training thread, inside `next(loader)`, or
in `source_workers` processes beside it; the graph (decode, augment, degrade) runs on DALI's threads; the
copy to the GPU is a third stage. Alone, a loader delivers at the rate of its slowest stage. Beside a
training step, an iteration takes the longer of the training thread's work (the step, and the source when
it runs there) and the slowest stage beside the thread, plus what the model does not explain (measured),
which shrinks as the stages beside the thread get faster. A fix changes stage times; its estimate is the
measured rate times the ratio of the model's times before and after it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional

STAGES = ("read", "decode", "augment", "degrade", "copy")
MIN_GAIN = 1.1  # a fix is listed when it is estimated to give at least this much more
GPU_CODECS = ("jpeg", "jpeg2000", "htj2k")  # what DALI decodes on the GPU
PATCHES = 4  # patches_per_image the estimate assumes


@dataclass(frozen=True)
class Stages:
    """Seconds per sample of each stage measured alone, and the setting they were measured in."""

    read: float  # the source's storage reads (and headers), on one thread
    draws: float  # the source's degradation draws, on the same thread
    decode: float  # DALI's decoder, config's threads
    augment: float  # flips, outputs
    degrade: float  # the graph's degradation
    copy: float  # to the GPU (0 without one)
    step: float  # the training step, per sample (0: the loader alone)
    wait: float  # time in next(loader) per sample beside the step (0: the loader alone)
    source_workers: int
    num_threads: int
    cpus: int
    cores_busy: float  # CPU cores the loader kept busy, end to end
    on_gpu: bool
    gpu: bool  # a CUDA GPU is there
    codecs: tuple[str, ...]  # the stored values' codecs
    cached_speedup: float  # reading the same batches again was this much faster
    patches_per_image: Optional[int] = None  # the config's value, where its type takes the key
    source_decode: float = 0.0  # decoding in the source (patches_per_image > 1), on the source's thread

    @property
    def source(self) -> float:
        """The source's time per sample as the loop sees it (spread over its worker processes)."""
        return (self.read + self.draws + self.source_decode) / max(1, min(self.source_workers, self.cpus))

    @property
    def graph(self) -> float:
        return self.decode + self.augment + self.degrade

    @property
    def on_thread(self) -> float:
        """The source's time on the training thread, per sample (none with source workers)."""
        return self.source if self.source_workers == 0 else 0.0

    @property
    def beside(self) -> float:
        """The slowest stage that runs beside the training thread, per sample."""
        return max(0.0 if self.source_workers == 0 else self.source, self.graph, self.copy)

    def loader_time(self) -> float:
        """Seconds per sample of the loader alone."""
        return max(self.source, self.graph, self.copy, 1e-12)


def iteration_ratio(st: Stages, changed: Stages) -> float:
    """How many times faster the loop would iterate with the stage times of `changed` instead of `st`."""
    if st.step <= 0:
        return st.loader_time() / changed.loader_time()
    measured = st.step + st.wait
    # what the model does not explain (the loader's own overhead per batch, imperfect overlap) stays, shrinking
    # as the stages beside the thread get faster
    residual = max(measured - max(st.step + st.on_thread, st.beside), 0.0)
    shrink = min(1.0, changed.beside / st.beside) if st.beside > 0 else 1.0
    return measured / max(max(st.step + changed.on_thread, changed.beside) + residual * shrink, 1e-12)


def bound_by(st: Stages) -> str:
    """The stage that bounds the loader's rate: read, decode, augment, degrade or copy."""
    slowest = max((st.source, "source"), (st.graph, "graph"), (st.copy, "copy"))[1]
    if slowest == "source":
        return max((st.read, "read"), (st.draws, "degrade"), (st.source_decode, "decode"))[1]
    if slowest == "copy":
        return "copy"
    return max((st.decode, "decode"), (st.augment, "augment"), (st.degrade, "degrade"))[1]


def stage_times(st: Stages) -> dict[str, float]:
    """Seconds per sample of each named stage (decode: in the source and in the graph; degrade: the source's draws
    and the graph's work)."""
    return {"read": st.read, "decode": st.source_decode + st.decode, "augment": st.augment,
            "degrade": st.draws + st.degrade, "copy": st.copy}


def _fix(name: str, setting: str, st: Stages, changed: Stages, measured: float, why: str) -> dict[str, Any]:
    gain = iteration_ratio(st, changed)
    return {"fix": name, "setting": setting, "estimate_samples_per_s": round(measured * gain, 1),
            "gain": round(gain, 2), "why": why}


def fixes(st: Stages, measured: float) -> list[dict[str, Any]]:
    """The fixes that would raise the rate `measured` (samples/s of the loop now), best first."""
    out = []
    workers = min(st.cpus, max(2, 2 * st.source_workers))
    if workers > st.source_workers:
        out.append(_fix("source_workers", f"source_workers: {workers}", st, replace(st, source_workers=workers),
                        measured, "runs the source (storage reads and draws) in worker processes, off the training "
                                  "thread"))
    if st.cached_speedup >= 1.5:
        out.append(_fix("warm", "dali-sr warm CONFIG (or more RAM for the page cache)", st,
                        replace(st, read=st.read / st.cached_speedup), measured,
                        f"reading batches again from the page cache was {st.cached_speedup:.1f}x faster"))
    if st.num_threads < st.cpus and st.graph > 0:
        scale = min(st.cpus / st.num_threads, st.cpus / max(st.cores_busy, 1.0))
        out.append(_fix("num_threads", f"num_threads: {st.cpus}", st,
                        replace(st, decode=st.decode / scale, augment=st.augment / scale, degrade=st.degrade / scale),
                        measured, f"DALI's {st.num_threads} threads leave CPU cores idle ({st.cores_busy:.1f} of "
                                  f"{st.cpus} busy)"))
    cpu_codecs = [c for c in st.codecs if c not in GPU_CODECS and c != "raw"]
    if st.decode + st.source_decode > 0 and any(c != "raw" for c in st.codecs):
        out.append(_fix("codec_raw", "dali-sr pack --codec raw", st, replace(st, decode=0.0, source_decode=0.0),
                        measured, f"raw pixels need no decoding ({', '.join(st.codecs)} now; files grow, reads with "
                                  f"them)"))
    on_gpu = replace(st, augment=0.0, degrade=0.0, copy=0.0)  # the graph's work after decoding, on the GPU
    moved = [what for what, there in (("decoding", st.decode > 0 and not cpu_codecs),
                                      ("flips and outputs", st.augment > 0), ("the degradation", st.degrade > 0),
                                      ("the copy of decoded batches", st.copy > 0)) if there]
    if st.gpu and not st.on_gpu and moved:
        out.append(_fix("device_gpu", "device: gpu", st, on_gpu if cpu_codecs else replace(on_gpu, decode=0.0),
                        measured, f"{', '.join(moved)} move to the GPU"))
    if st.gpu and st.decode > 0 and cpu_codecs:
        out.append(_fix("codec_htj2k_gpu", "dali-sr pack --codec htj2k, and device: gpu", st,
                        replace(on_gpu, decode=0.0), measured,
                        f"{', '.join(cpu_codecs)} decode on the CPU only; HTJ2K is lossless and decodes on the GPU"))
    if st.patches_per_image is not None and st.patches_per_image < PATCHES:
        share = st.patches_per_image / PATCHES
        out.append(_fix("patches_per_image", f"patches_per_image: {PATCHES}", st,
                        replace(st, read=st.read * share, decode=st.decode * share,
                                source_decode=st.source_decode * share), measured,
                        "each image read and decoded once yields several patches"))
    best = {}
    for f in out:  # one entry per fix name: the better estimate
        if f["gain"] >= MIN_GAIN and (f["fix"] not in best or f["gain"] > best[f["fix"]]["gain"]):
            best[f["fix"]] = f
    return sorted(best.values(), key=lambda f: -f["gain"])
