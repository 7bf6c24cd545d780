"""`torchrun --nproc_per_node=2 -m pneumoscan train` (gloo on CPU) matches a single-process run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import torch

from conftest import TINY_TRAIN_ARGS
from pneumoscan.cli import main
from pneumoscan.models.checkpoint import load_checkpoint

# Full-batch steps (48 training images, batch 48): the two ranks' mean gradients average to the
# single process's, whatever the shard order. Class weights off: each rank would normalise its own.
DDP_ARGS = [a if a != "8" else "48" for a in TINY_TRAIN_ARGS] + ["--set", "train.class_weighted_loss=false"]


@pytest.mark.slow
def test_two_process_ddp_on_cpu_finishes_and_matches_the_single_process_head(synthetic_dataset, tmp_path):
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    assert torchrun, "torchrun ships with torch"
    single = tmp_path / "single"
    assert main(["train", "--data", str(synthetic_dataset), "--out", str(single), *DDP_ARGS]) == 0
    ddp = tmp_path / "ddp"
    proc = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node=2", "-m", "pneumoscan", "train",
         "--data", str(synthetic_dataset), "--out", str(ddp), *DDP_ARGS],
        capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "rank 1 of 2" in proc.stderr
    a, _ = load_checkpoint(single)
    b, _ = load_checkpoint(ddp)
    assert torch.allclose(a.classifier.weight, b.classifier.weight, atol=1e-4)
    assert torch.allclose(a.classifier.bias, b.classifier.bias, atol=1e-4)
