"""Ray Train end to end on tiny shards: checkpoints, resume, a kill -9 mid-run, retrieval R@K. Slow (starts Ray)."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from model import checkpoint
from model.checkpoint import STATE_FILE
from model.finsta import FinstaConfig
from model.trainer import TrainConfig, build_model, load_trained, mirror_to_tensorboard

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"image_size": 32, "num_frames": 4, "batch_size": 4, "loader_workers": 0}
SMALL_MODEL = {"dim": 32, "num_layers": 1}


def test_config_rejects_relative_paths_and_unknown_precision(tmp_path):
    with pytest.raises(ValueError, match="absolute"):
        TrainConfig(graphs="out/demo/graphs", run_dir=str(tmp_path))
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(graphs=str(tmp_path), run_dir=str(tmp_path), precision="fp8")


def test_pretrain_cli_rejects_unknown_flags():
    out = subprocess.run([sys.executable, "-m", "jobs.pretrain", "--graphs", "/g", "--run-dir", "/r", "--bogus", "1"],
                         cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.returncode == 2 and "unrecognized arguments: --bogus" in out.stderr


def test_checkpoint_round_trip_newest_and_unreadable(tmp_path):
    config = TrainConfig(graphs=str(tmp_path), run_dir=str(tmp_path), use_modifiers=False,
                         model=FinstaConfig(use_osc=False, **SMALL_MODEL), **SMALL)
    model = build_model(config)
    written = checkpoint.save(tmp_path / "run" / "checkpoint_1", model, config, step=3)
    (tmp_path / "run" / "checkpoint_2").mkdir()
    cut_short = tmp_path / "run" / "checkpoint_2" / STATE_FILE
    cut_short.write_bytes(written.read_bytes()[:1000])  # a run killed while writing
    os.utime(cut_short, (time.time() + 10, time.time() + 10))  # the newest, but unreadable
    assert checkpoint.newest(tmp_path / "run") == tmp_path / "run" / "checkpoint_1" / STATE_FILE
    assert checkpoint.load(tmp_path / "run" / "checkpoint_1")["step"] == 3
    loaded, loaded_config = load_trained(tmp_path / "run")
    assert loaded_config == config and not loaded.training
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))
    with pytest.raises(FileNotFoundError, match="No readable state.pt"):
        checkpoint.load(tmp_path / "empty")


def event_scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """tag -> [(step, value)] from every TensorBoard event file in `folder` (TFRecord: length, crc, Event, crc)."""
    import struct

    from tensorboardX.proto.event_pb2 import Event

    found = {}
    for path in sorted(folder.glob("events.out.tfevents.*")):
        data, at = path.read_bytes(), 0
        while at < len(data):
            (length,) = struct.unpack("<Q", data[at:at + 8])
            event = Event.FromString(data[at + 12:at + 12 + length])
            at += 12 + length + 4
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, value.simple_value))
    return found


def test_metrics_lines_become_tensorboard_scalars(tmp_path):
    from tensorboardX import SummaryWriter

    board = SummaryWriter(str(tmp_path))
    for step in (1, 2, 3):
        mirror_to_tensorboard(board, {"loss": 10.0 / step, "osc": 0.5, "step": step, "epoch": 0})
    board.close()
    scalars = event_scalars(tmp_path)
    assert set(scalars) == {"loss", "osc", "epoch"}
    assert scalars["loss"] == [(1, 10.0), (2, 5.0), (3, pytest.approx(10 / 3))]


@pytest.mark.slow
def test_train_checkpoints_resumes_and_evaluates(tiny_shards, tmp_path):
    from model.trainer import train

    config = TrainConfig(graphs=str(tiny_shards), run_dir=str(tmp_path), max_steps=3, checkpoint_every=2,
                         model=FinstaConfig(**SMALL_MODEL), **SMALL)
    first = train(config)
    with first.checkpoint.as_directory() as folder:
        state = checkpoint.load(folder)  # weights_only=True
    assert state["step"] == 3 and state["resumed_from"] is None
    assert all(torch.is_tensor(v) for v in state["model"].values())
    second = train(TrainConfig(**{**config.__dict__, "max_steps": 5}))
    with second.checkpoint.as_directory() as folder:
        state = checkpoint.load(folder)
    assert state["step"] == 5 and state["resumed_from"] == 3
    results = json.loads((tmp_path / "finsta" / "retrieval.json").read_text())
    assert results["num_pairs"] == 4 and set(results) == {"num_pairs", "backbone", "graph", "structure"}
    assert second.metrics["final"] == 1 and "graph_t2v_R@1" in second.metrics
    assert [step for step, _ in event_scalars(tmp_path / "finsta")["loss"]] == [1, 2, 3, 4, 5]


@pytest.mark.slow
def test_killed_run_resumes_from_its_last_checkpoint(tiny_shards, tmp_path):
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in {**SMALL, **SMALL_MODEL}.items()]
    command = [sys.executable, "-m", "jobs.pretrain", "--graphs", str(tiny_shards), "--run-dir", str(tmp_path),
               "--epochs", "40", "--checkpoint-every", "2", *flags]
    run = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and len(list((tmp_path / "finsta").glob(f"checkpoint_*/{STATE_FILE}"))) < 2:
            time.sleep(1)
        assert run.poll() is None, "the first run ended before it could be killed"
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    killed_at = max(checkpoint.load(p)["step"] for p in (tmp_path / "finsta").glob(f"checkpoint_*/{STATE_FILE}"))
    assert killed_at >= 2
    rerun = subprocess.run([*command, f"--max-steps={killed_at + 2}"], cwd=ROOT, capture_output=True, text=True,
                           timeout=300, check=False)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    log = rerun.stdout + rerun.stderr
    resumed = re.search(r"resumed from checkpoint at step (\d+)", log)
    assert resumed, log[:6000]
    resumed_at = int(resumed.group(1))
    assert 2 <= resumed_at <= killed_at
    assert f"step {resumed_at + 1:5d} epoch" in log and "step     1 epoch" not in log
    assert "graph    t2v  R@1" in log
