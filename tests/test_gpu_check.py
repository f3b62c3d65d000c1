"""`task gpu-check` on a machine without CUDA: it says so, keeps the TensorFlow row, exits 0."""

import os
import subprocess
import sys

import torch

from kfold.bench import gpu_check


def test_without_cuda_it_says_so_and_runs_no_gpu_row(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(gpu_check, "gpu_rows", lambda *a, **k: 1 / 0)  # never reached
    rows = gpu_check.gpu_check()
    assert [r["what"] for r in rows] == ["CUDA device", "TensorFlow GPUs (Keras backend)"]
    assert rows[0]["value"].startswith("none: no CUDA device")
    assert "GPU(s)" in rows[1]["value"] or "pip install" in rows[1]["value"]


def test_the_script_exits_0_with_one_table():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # the CPU path, on any machine
    out = subprocess.run([sys.executable, "-m", "kfold.bench.gpu_check"], capture_output=True,
                         text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    assert "kf gpu-check" in out.stdout and "no CUDA device" in out.stdout
