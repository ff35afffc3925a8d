"""Run by test_loader under torchrun: each rank writes the GT keys of its epoch 0 shard."""
import ast
import os

import torch.distributed as dist

import dali_sr

dist.init_process_group("gloo")
cfg = ast.literal_eval(os.environ["DALI_SR_TEST_CFG"])
with dali_sr.build_loader(cfg) as loader:  # rank / world_size come from torch.distributed
    keys = [p for batch in loader for p in batch["gt_path"]]
out = os.path.join(os.environ["DALI_SR_TEST_OUT"], f"rank{dist.get_rank()}.txt")
with open(out, "w") as f:
    f.write("\n".join(keys))
dist.barrier()
dist.destroy_process_group()
