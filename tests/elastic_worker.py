"""Run by test_elastic_resume under torchrun: a job that reads part of an epoch and saves its state, or a job of
another world size that resumes one rank's saved state and reads the rest of that epoch and the next one. Each rank
writes the GT keys it read, one file per part."""
import ast
import os
from pathlib import Path

import torch
import torch.distributed as dist

import dali_sr

dist.init_process_group("gloo")
rank = dist.get_rank()
cfg = ast.literal_eval(os.environ["DALI_SR_TEST_CFG"])
out = Path(os.environ["DALI_SR_TEST_OUT"])
epoch = int(os.environ["DALI_SR_TEST_EPOCH"])


def write(part: str, keys: list[str]) -> None:
    (out / f"{part}_rank{rank}.txt").write_text("\n".join(keys))


def keys(batch: dict) -> list[str]:
    return [Path(p).stem for p in batch["gt_path"]]


with dali_sr.build_loader(cfg) as loader:  # rank / world_size come from torch.distributed
    if "DALI_SR_TEST_STEPS" in os.environ:  # the job that is interrupted after that many steps
        loader.set_epoch(epoch)
        seen: list[str] = []
        for step, batch in enumerate(loader):
            seen += keys(batch)
            if step + 1 == int(os.environ["DALI_SR_TEST_STEPS"]):
                break
        torch.save(loader.state_dict(), out / f"state_rank{rank}.pt")
        write("before", seen)
    else:  # the resumed job: every rank loads the one state it is given
        loader.load_state_dict(torch.load(os.environ["DALI_SR_TEST_STATE"], weights_only=False))
        for part, e in (("rest", epoch), ("next", epoch + 1)):
            loader.set_epoch(e)
            write(part, [k for batch in loader for k in keys(batch)])
dist.barrier()
dist.destroy_process_group()
