"""Training: checkpoints, resume (fast, with Ray Train's calls replaced by fakes in this process), and Ray Train end to
end on tiny shards with a kill -9 mid-run (slow: starts Ray)."""

import dataclasses
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from contextlib import nullcontext
from types import SimpleNamespace

import pytest
import torch

from model import checkpoint, trainer
from model.checkpoint import STATE_FILE
from model.finsta import FinstaConfig
from model.trainer import (TrainConfig, build_model, load_trained, mirror_to_tensorboard, train_loop,
                           unregistered_checkpoint)

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"image_size": 32, "num_frames": 4, "batch_size": 4, "loader_workers": 0}
SMALL_MODEL = {"dim": 32, "num_layers": 1}


def test_config_rejects_relative_paths_and_unknown_precision(tmp_path):
    with pytest.raises(ValueError, match="absolute"):
        TrainConfig(graphs="out/demo/graphs", run_dir=str(tmp_path))
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(graphs=str(tmp_path), run_dir=str(tmp_path), precision="fp8")


def test_pretrain_cli_rejects_unknown_flags(capsys):
    from jobs.pretrain import main

    with pytest.raises(SystemExit) as exit_code:
        main(["--graphs", "/g", "--run-dir", "/r", "--bogus", "1"])
    assert exit_code.value.code == 2 and "unrecognized arguments: --bogus" in capsys.readouterr().err


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


def small_config(folder: Path, **overrides) -> TrainConfig:
    settings = {"graphs": str(folder), "run_dir": str(folder), "use_modifiers": False,
                "model": FinstaConfig(use_osc=False, **SMALL_MODEL)} | SMALL | overrides
    return TrainConfig(**settings)


def write_checkpoint(folder: Path, config: TrainConfig, step: int, mtime: float) -> Path:
    path = checkpoint.save(folder, build_model(config), config, step=step)
    os.utime(path, (mtime, mtime))
    return path


def test_unregistered_checkpoint_is_the_newest_readable_one_unless_ray_recorded_the_run(tmp_path):
    config = small_config(tmp_path)
    run = tmp_path / config.name
    assert unregistered_checkpoint(config) is None  # no run folder yet
    now = time.time()
    write_checkpoint(run / "checkpoint_000000", config, step=2, mtime=now - 20)
    write_checkpoint(run / "checkpoint_000001", config, step=4, mtime=now - 10)
    cut_short = write_checkpoint(run / "checkpoint_000002", config, step=6, mtime=now)
    cut_short.write_bytes(cut_short.read_bytes()[:1000])  # the newest, killed while writing
    os.utime(cut_short, (now, now))
    found = unregistered_checkpoint(config)
    assert found == str(run / "checkpoint_000001") and checkpoint.load(found)["step"] == 4
    (run / "checkpoint_manager_snapshot.json").write_text("{}")  # Ray Train recorded the run: its choice stands
    assert unregistered_checkpoint(config) is None


def test_unregistered_checkpoint_is_none_when_every_checkpoint_is_unreadable(tmp_path):
    config = small_config(tmp_path)
    (tmp_path / config.name / "checkpoint_000000").mkdir(parents=True)
    (tmp_path / config.name / "checkpoint_000000" / STATE_FILE).write_bytes(b"not a torch file")
    assert unregistered_checkpoint(config) is None


def test_train_hands_the_unregistered_checkpoint_to_the_loop(tmp_path, monkeypatch):
    import ray.train.torch

    config = small_config(tmp_path)
    write_checkpoint(tmp_path / config.name / "checkpoint_000000", config, step=2, mtime=time.time())
    made = {}

    def fake_trainer(loop, train_loop_config, **kwargs):
        made.update(loop=loop, loop_config=train_loop_config, run_config=kwargs["run_config"])
        return SimpleNamespace(fit=lambda: SimpleNamespace(checkpoint=None))

    monkeypatch.setattr(ray.train.torch, "TorchTrainer", fake_trainer)
    trainer.train(config)
    assert made["loop"] is train_loop
    assert made["loop_config"]["unregistered_checkpoint"] == str(tmp_path / config.name / "checkpoint_000000")
    assert TrainConfig.from_dict(made["loop_config"]) == config
    assert (made["run_config"].storage_path, made["run_config"].name) == (config.run_dir, config.name)


@pytest.fixture
def fake_ray_train(monkeypatch):
    """train_loop in this process: one worker on the CPU, the checkpoints it reports copied to
    run_dir/name/checkpoint_<step>, and the sample ids of every batch it trains on recorded, in order."""
    import ray.train
    import ray.train.torch

    record = SimpleNamespace(batches=[], checkpoints={}, registered=None)

    def report(metrics, checkpoint=None):
        if checkpoint is not None:
            state = torch.load(Path(checkpoint) / STATE_FILE, weights_only=True)
            config = TrainConfig.from_dict(state["config"])
            kept = Path(config.run_dir) / config.name / f"checkpoint_{state['step']:06d}"
            shutil.copytree(checkpoint, kept, dirs_exist_ok=True)
            record.checkpoints[state["step"]] = kept

    real_step = trainer.train_step

    def recording_step(module, optimizer, scaler, text, video, *args):
        record.batches.append(tuple(text.sample_id))
        return real_step(module, optimizer, scaler, text, video, *args)

    context = SimpleNamespace(get_world_rank=lambda: 0, get_world_size=lambda: 1)
    monkeypatch.setattr(ray.train, "get_context", lambda: context)
    monkeypatch.setattr(ray.train, "get_checkpoint", lambda: record.registered)
    monkeypatch.setattr(ray.train, "report", report)
    monkeypatch.setattr(ray.train, "Checkpoint", SimpleNamespace(from_directory=Path))
    monkeypatch.setattr(ray.train.torch, "get_device", lambda: torch.device("cpu"))
    monkeypatch.setattr(ray.train.torch, "prepare_model", lambda module, **kwargs: module)
    monkeypatch.setattr(trainer, "train_step", recording_step)
    return record


def test_a_resumed_run_trains_on_exactly_the_batches_the_first_run_had_not_reached(tiny_shards, tmp_path,
                                                                                     fake_ray_train):
    # 8 train samples in batches of 2: 4 batches an epoch; the checkpoint at step 3 is one batch before an epoch's end.
    first = small_config(tiny_shards, run_dir=str(tmp_path / "first"), batch_size=2, epochs=2, checkpoint_every=3)
    train_loop(dataclasses.asdict(first))
    seen, saved = fake_ray_train.batches, fake_ray_train.checkpoints
    assert len(seen) == 8 and sorted(saved) == [3, 6, 8]
    assert seen[:4] != seen[4:]  # each epoch has its own order: resuming must find its place within the epoch
    for step in (3, 6):
        fake_ray_train.batches = []
        again = dataclasses.replace(first, run_dir=str(tmp_path / f"from-{step}"))
        shutil.copytree(saved[step], tmp_path / f"from-{step}" / again.name / "checkpoint_000000")
        train_loop({**dataclasses.asdict(again), "unregistered_checkpoint": unregistered_checkpoint(again)})
        assert fake_ray_train.batches == seen[step:], step
        assert checkpoint.load(fake_ray_train.checkpoints[8])["resumed_from"] == step


def test_an_epochs_last_partial_batch_is_dropped_and_the_total_counts_full_batches(tiny_shards, tmp_path,
                                                                                    fake_ray_train):
    # 8 train samples in batches of 3: two full batches an epoch; the batch of 2 left over has fewer negatives.
    config = small_config(tiny_shards, run_dir=str(tmp_path / "run"), batch_size=3, epochs=2, checkpoint_every=100)
    train_loop(dataclasses.asdict(config))
    assert [len(batch) for batch in fake_ray_train.batches] == [3, 3, 3, 3]
    assert trainer.total_steps(config, world_size=1) == 4


def test_a_checkpoint_ray_train_registered_wins_over_an_unregistered_one(tiny_shards, tmp_path, fake_ray_train):
    first = small_config(tiny_shards, run_dir=str(tmp_path / "first"), batch_size=2, epochs=1, checkpoint_every=1)
    train_loop(dataclasses.asdict(first))
    seen, saved = fake_ray_train.batches, dict(fake_ray_train.checkpoints)
    fake_ray_train.batches = []
    fake_ray_train.registered = SimpleNamespace(as_directory=lambda: nullcontext(saved[1]))
    train_loop({**dataclasses.asdict(first), "run_dir": str(tmp_path / "again"),
                "unregistered_checkpoint": str(saved[3])})
    assert fake_ray_train.batches == seen[1:]


@pytest.mark.slow
def test_train_checkpoints_resumes_and_evaluates(tiny_shards, tmp_path, local_ray):
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
def test_killed_run_resumes_from_its_last_checkpoint(tiny_shards, tmp_path, subprocess_env):
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in {**SMALL, **SMALL_MODEL}.items()]
    command = [sys.executable, "-m", "jobs.pretrain", "--graphs", str(tiny_shards), "--run-dir", str(tmp_path),
               "--epochs", "40", "--checkpoint-every", "2", *flags]
    run = subprocess.Popen(command, cwd=ROOT, env=subprocess_env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # Wait on the files, not the clock: the deadline is only there so that a broken run cannot hang the suite.
        deadline = time.monotonic() + 1200
        while (run.poll() is None and time.monotonic() < deadline
               and len(list((tmp_path / "finsta").glob(f"checkpoint_*/{STATE_FILE}"))) < 2):
            time.sleep(0.5)
        assert run.poll() is None, "the first run ended before it could be killed"
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    killed_at = max(checkpoint.load(p)["step"] for p in (tmp_path / "finsta").glob(f"checkpoint_*/{STATE_FILE}"))
    assert killed_at >= 2
    rerun = subprocess.run([*command, f"--max-steps={killed_at + 2}"], cwd=ROOT, env=subprocess_env,
                           capture_output=True, text=True, timeout=1200, check=False)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    log = rerun.stdout + rerun.stderr
    resumed = re.search(r"resumed from checkpoint at step (\d+)", log)
    assert resumed, log[:6000]
    resumed_at = int(resumed.group(1))
    assert 2 <= resumed_at <= killed_at
    assert f"step {resumed_at + 1:5d}/" in log and "step     1/" not in log
    assert "graph    t2v  R@1" in log
