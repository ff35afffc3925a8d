"""`dali-sr show CONFIG`: validate a config, index its dataset, read every sample's stored values and headers
(no decoding) as the loader would, and print the plan and what would fail.

`dali-sr verify` goes further: it decodes every image.
"""
from __future__ import annotations

import argparse
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .errors import DaliSRError, DatasetError, listing
from .parallel import default_workers, ordered_map
from .progress import tracked

if TYPE_CHECKING:
    from .loader import Loader

SHOWN = 10


def _refusal(source: Any, batch: int) -> str:
    """The message of the `DatasetError` that reading `batch` of epoch 0 from `source` raises, "" if none."""
    try:
        source.read_batch(0, batch)
    except DatasetError as e:
        return str(e)
    return ""


def check_samples(loader: Loader, progress: bool = True) -> list[str]:
    """What the loader's source refuses, reading every sample once in the batches the loader forms in its first
    epoch: one message per sample whose stored values it refuses (bad or truncated headers, unsupported formats,
    GT not scale x LQ, images smaller than the patch, ...), and one per batch refused as a whole although each
    of its samples reads alone (a validation batch mixing image sizes), in sample index order."""
    batches = replace(loader.sampling, enlarge=1, rank=0, world_size=1, drop_last=False, pad_to_equal=False)
    singles = replace(batches, shuffle=False, batch_size=1)  # batch i is sample i
    make_source = loader.spec.dataset.make_source
    batch_source = make_source(loader.cfg, loader.index, batches, (0, 0))
    single_source = make_source(loader.cfg, loader.index, singles, (0, 0))
    plan = batches.plan(0)

    def check(b: int) -> list[tuple[int, str]]:
        whole = _refusal(batch_source, b)
        if not whole:
            return []
        samples = sorted(int(i) for i in plan.indices[plan.batch(b)])
        alone = [(i, message) for i in samples if (message := _refusal(single_source, i))]
        return alone or [(samples[0], whole)]

    checked = ordered_map(check, range(batches.batches()), default_workers())
    found = [item for items in tracked(checked, batches.batches(), "reading headers", "batch", progress)
             for item in items]
    return [message for _, message in sorted(found)]


def run(args: argparse.Namespace) -> int:
    from .loader import build_loader  # DALI: imported when the command runs, not for its --help

    overrides = {"device": args.device} if args.device is not None else {}
    with build_loader(args.config, phase=args.phase, **overrides) as loader:
        cfg = loader.cfg
        print(f"{cfg.name}: {cfg.type}, phase {cfg.phase}, scale {cfg.scale}, {cfg.io_backend} backend")
        print(f"  samples {len(loader.index)}, batches/epoch {len(loader)} of {cfg.batch_size}, "
              f"device {'gpu:%d' % cfg.device_id if loader.on_gpu else 'cpu'}, {cfg.num_threads} DALI threads")
        problems = check_samples(loader, progress=not args.quiet)
    if problems:
        print(f"{len(problems)} problem(s) would stop the loader (headers and sizes only):")
        for message in problems[:SHOWN]:
            print(f"  {message}")
        if len(problems) > SHOWN:
            print(f"  ... and {len(problems) - SHOWN} more")
        raise DaliSRError(f"{cfg.name}: {len(problems)} problem(s) would stop the loader, first: "
                          f"{listing(problems, 1)}")
    print("  every sample's headers read: no problem found (dali-sr verify decodes every image)")
    return 0


def add_parser(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser("show", help="validate a config, index its dataset and read every sample's headers",
                       description="Validate a config and index its dataset exactly as build_loader does, then read "
                                   "every sample's stored values and headers as the loader's source does, in the "
                                   "loader's batches, without decoding: unsupported or truncated files, GT not scale "
                                   "x LQ, images smaller than the patch, validation batches mixing image sizes. Exit "
                                   "2 naming the first problem. dali-sr verify decodes every image.")
    p.add_argument("config", help="YAML dataset section or BasicSR option file")
    p.add_argument("--phase", default=None, help="section of an option file (train, val, ...)")
    p.add_argument("--device", default=None, choices=("auto", "gpu", "cpu"),
                   help="replace the config's device (default: the config's, else auto)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)
