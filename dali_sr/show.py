"""`dali-sr show CONFIG`: validate a config, index its dataset, read every sample's stored values and headers
(no decoding) as the loader would, and print the plan and what would fail.

`dali-sr verify` goes further: it decodes every image.
"""
from __future__ import annotations

import argparse
from dataclasses import replace

from .errors import DaliSRError, DatasetError, listing
from .loader import Loader, build_loader
from .parallel import default_workers, ordered_map
from .progress import tracked

SHOWN = 10


def check_samples(loader: Loader, progress: bool = True) -> list[str]:
    """One message per sample whose stored values the loader's source refuses (bad or truncated headers,
    unsupported formats, GT not scale x LQ, images smaller than the patch, ...), in index order."""
    sampling = replace(loader.sampling, shuffle=False, enlarge=1, rank=0, world_size=1, batch_size=1,
                       drop_last=False, pad_to_equal=False)  # every sample once, one per batch
    source = loader.spec.dataset.make_source(loader.cfg, loader.index, sampling, (0, 0))

    def check(b: int) -> str:
        try:
            source.read_batch(0, b)
        except DatasetError as e:
            return str(e)
        return ""

    checked = ordered_map(check, range(sampling.batches()), default_workers())
    return [m for m in tracked(checked, sampling.batches(), "reading headers", "sample", progress) if m]


def run(args: argparse.Namespace) -> int:
    with build_loader(args.config, phase=args.phase, device=args.device) as loader:
        cfg = loader.cfg
        print(f"{cfg.name}: {cfg.type}, phase {cfg.phase}, scale {cfg.scale}, {cfg.io_backend} backend")
        print(f"  samples {len(loader.index)}, batches/epoch {len(loader)} of {cfg.batch_size}, "
              f"device {'gpu:%d' % cfg.device_id if loader.on_gpu else 'cpu'}, {cfg.num_threads} DALI threads")
        problems = check_samples(loader, progress=not args.quiet)
    if problems:
        print(f"{len(problems)} sample(s) would fail (headers and sizes only):")
        for message in problems[:SHOWN]:
            print(f"  {message}")
        if len(problems) > SHOWN:
            print(f"  ... and {len(problems) - SHOWN} more")
        raise DaliSRError(f"{cfg.name}: {len(problems)} sample(s) cannot be loaded, first: {listing(problems, 1)}")
    print("  every sample's headers read: no problem found (dali-sr verify decodes every image)")
    return 0


def add_parser(sub: "argparse._SubParsersAction") -> None:
    p = sub.add_parser("show", help="validate a config, index its dataset and read every sample's headers",
                       description="Validate a config, index its dataset (the checks build_loader makes), then read "
                                   "every sample's stored values and headers as the loader's source does, without "
                                   "decoding: unsupported or truncated files, GT not scale x LQ, images smaller than "
                                   "the patch. Exit 2 naming the first bad sample. dali-sr verify decodes every image.")
    p.add_argument("config", help="YAML dataset section or BasicSR option file")
    p.add_argument("--phase", default=None, help="section of an option file (train, val, ...)")
    p.add_argument("--device", default="auto", choices=("auto", "gpu", "cpu"))
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=run)
