"""The jobs' front door: every known bad input ends in one line on stderr, `error: <what, naming the input> — <the
fix>`, exit code 2, no traceback, and no Ray started for it; --debug shows the traceback; every flag has help."""

import dataclasses
import importlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray
import torch

from jobs import __main__ as finsta
from jobs import build_graphs, pretrain
from jobs.cli import run_job
from model import checkpoint
from model.synthetic import write_tiny_shards
from model.trainer import TrainConfig, build_model
from pipeline import write_shards
from pipeline.demo import layout
from pipeline.runner import Progress
from schemas import manifest

ROOT = Path(__file__).resolve().parents[2]
JOBS = ("build_graphs", "pretrain", "train_detector", "demo", "evaluate", "eval_dsg", "eval_tsg", "report")


@pytest.fixture(autouse=True)
def no_ray(monkeypatch):
    """Any route into Ray (runner, Ray Train, a plain ray.init) fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("Ray was started for a bad input")

    started_before = ray.is_initialized()
    monkeypatch.setattr(ray, "init", refuse)
    yield
    assert ray.is_initialized() == started_before


def one_line_error(capsys, job_main, argv, *named):
    """Run the job; check exit code 2 and one `error: ... — ...` line naming each of `named`; return the line."""
    code = run_job(job_main, argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and " — " in lines[0], err
    assert "Traceback" not in err
    for name in named:
        assert str(name) in lines[0], (name, lines[0])
    return lines[0]


@pytest.fixture
def generic(tmp_path):
    (tmp_path / "clips.jsonl").write_text(json.dumps({"video": "a.mp4", "caption": "a red box"}) + "\n")
    return ["--dataset", "generic", "--data-root", str(tmp_path), "--annotations", "clips.jsonl",
            "--out", str(tmp_path / "out"), "--weights", str(layout.WEIGHTS)]


@pytest.mark.parametrize("flags, named", [
    (["--num-frames", "0"], ["--num-frames 0", "at least 1"]),
    (["--keyframe-size", "0"], ["--keyframe-size 0", "at least 16"]),
    (["--conf", "2"], ["--conf 2.0", "between 0 and 1"]),
    (["--num-frames", "abc"], ["--num-frames", "'abc'", "--help"]),
    (["--no-such-flag"], ["--no-such-flag"]),
    (["--device", "gpu"], ["--device 'gpu'"]),
    (["--spacy-model", "no_such_model"], ["'no_such_model'"]),
])
def test_build_graphs_bad_settings(capsys, generic, flags, named):
    one_line_error(capsys, build_graphs.main, generic + flags, *named)


def test_build_graphs_unknown_dataset_is_named_first(capsys, tmp_path):
    one_line_error(capsys, build_graphs.main, ["--dataset", "nope", "--data-root", str(tmp_path), "--out",
                                               str(tmp_path / "out")], "DATASET 'nope'", "--dataset one of")


def test_build_graphs_text_file_as_weights_or_relation_head(capsys, generic, tmp_path):
    text = tmp_path / "notes.pt"
    text.write_text("not a model\n")
    one_line_error(capsys, build_graphs.main, generic + ["--weights", str(text)], f"--weights {text}")
    one_line_error(capsys, build_graphs.main, generic + ["--relation-head", str(text)], f"--relation-head {text}")


def test_build_graphs_out_a_file_or_read_only(capsys, generic, tmp_path):
    (tmp_path / "taken").write_text("x")
    one_line_error(capsys, build_graphs.main, generic + ["--out", str(tmp_path / "taken")], tmp_path / "taken")
    one_line_error(capsys, build_graphs.main, generic + ["--out", "/proc/graphs"], "/proc/graphs", "cannot write")


def test_build_graphs_annotation_file_that_is_not_json(capsys, tmp_path):
    (tmp_path / "train.json").write_text('{"v_a": {"duration": 3,\n "sentences": [oops]}}')
    (tmp_path / "val_1.json").write_text("{}")
    one_line_error(capsys, build_graphs.main, ["--dataset", "activitynet", "--data-root", str(tmp_path), "--out",
                                               str(tmp_path / "out"), "--weights", str(layout.WEIGHTS)],
                   f"{tmp_path / 'train.json'}:2: not valid JSON")


def test_build_graphs_resume_on_another_datasets_samples_is_refused_before_ray(capsys, generic, tmp_path):
    samples = tmp_path / "out" / write_shards.SAMPLES
    samples.mkdir(parents=True)
    source = {"dataset": "generic", "data_root": str(tmp_path / "elsewhere"), "annotations": "clips.jsonl"}
    (samples / "_source.json").write_text(json.dumps(source))
    (samples / "part-00000.parquet").write_bytes(b"")  # listed by name: the refusal comes before any read
    one_line_error(capsys, build_graphs.main, generic, "other settings", "--overwrite")


def test_debug_shows_the_traceback(generic):
    with pytest.raises(ValueError, match="--num-frames 0"):
        run_job(build_graphs.main, generic + ["--num-frames", "0", "--debug"])


def test_a_real_bug_is_not_hidden(monkeypatch, generic):
    def broken(config):
        raise KeyError("a bug")

    monkeypatch.setattr(build_graphs, "run", broken)
    with pytest.raises(KeyError):
        run_job(build_graphs.main, generic)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return write_tiny_shards(tmp_path_factory.mktemp("graphs"))


def test_pretrain_missing_manifest_and_relative_graphs_made_absolute(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(capsys, pretrain.main, ["--graphs", "graphs", "--run-dir", "runs"],
                          f"--graphs {tmp_path / 'graphs'} holds no manifest.json")
    assert "absolute" not in line


def test_pretrain_manifest_of_another_schema_version(capsys, shards, tmp_path):
    graphs = tmp_path / "graphs"
    document = json.loads((shards / manifest.FILENAME).read_text())
    document["schema_versions"] = {**document["schema_versions"], "dsg": "0.1"}
    graphs.mkdir()
    (graphs / manifest.FILENAME).write_text(json.dumps(document))
    one_line_error(capsys, pretrain.main, ["--graphs", str(graphs), "--run-dir", str(tmp_path / "runs")],
                   f"--graphs {graphs}", "schema_versions", "rebuild the shards")


@pytest.mark.parametrize("flags, named", [(["--batch-size", "0"], ["--batch-size 0"]),
                                          (["--batch-size", "64"], ["fewer than --batch-size 64"]),
                                          (["--backbone", "nope"], ["--backbone nope", "does not build"])])
def test_pretrain_bad_settings(capsys, shards, tmp_path, flags, named):
    one_line_error(capsys, pretrain.main, ["--graphs", str(shards), "--run-dir", str(tmp_path), "--batch-size", "4"]
                   + flags, *named)


def test_pretrain_checkpoint_that_does_not_fit_the_model(capsys, shards, tmp_path):
    config = TrainConfig(graphs=str(shards), run_dir=str(tmp_path), batch_size=4)
    other = dataclasses.replace(config, model=dataclasses.replace(config.model, dim=32))
    saved = checkpoint.save(tmp_path / "finsta" / "checkpoint_000000", build_model(other), other)
    one_line_error(capsys, pretrain.main, ["--graphs", str(shards), "--run-dir", str(tmp_path), "--batch-size", "4"],
                   f"checkpoint {saved}", "--name")
    torch.save({"model": build_model(config).state_dict()}, saved)  # the same settings: the check passes
    from model.checks import check_resume

    check_resume(config, build_model(config))


@pytest.mark.parametrize("job", JOBS)
def test_every_flag_of_every_job_has_help_and_its_default(capsys, job):
    module = importlib.import_module(f"jobs.{job}")
    with pytest.raises(SystemExit) as exit_:
        module.main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out.split("options:", 1)[1]
    entries = [e for e in text.split("\n  -") if e.strip()]
    for entry in entries:
        if entry.startswith("h, --help"):
            continue
        assert "(default:" in entry, f"{job}: {entry.strip()[:200]}"
        head, _, rest = entry.partition("  ")
        assert rest.replace("(default:", "").strip(), f"{job}: no help for {head}"


def test_finsta_dispatches_to_the_jobs(capsys, generic):
    assert finsta.main(["build-graphs"] + generic + ["--num-frames", "0"]) == 2
    assert capsys.readouterr().err.startswith("error: --num-frames 0")
    with pytest.raises(SystemExit) as exit_:
        finsta.main(["nope"])
    assert exit_.value.code == 2 and "invalid choice: 'nope'" in capsys.readouterr().err
    assert set(finsta.COMMANDS) >= {"build-graphs", "pretrain", "eval", "report"}


def test_a_bad_input_fails_fast_in_a_fresh_process(tmp_path):
    """The whole command line: one line, exit code 2, in the time it takes to import the pipeline (no Ray)."""
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "jobs.build_graphs", "--dataset", "nope", "--data-root",
                           str(tmp_path), "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("error: DATASET 'nope'") and time.monotonic() - started < 60


def test_nothing_to_do_says_so():
    assert Progress(total=0, already=12).plan("out/x") == "[build-graphs] nothing to do: 12 samples already built " \
                                                           "in out/x"
    assert Progress(total=3, already=1).plan("out/x").startswith("[build-graphs] 3 samples to build, 1 already")


def test_eta_counts_the_steady_rate_not_the_start_up(monkeypatch):
    from model import trainer

    now = [0.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    progress = Progress(total=12, already=0)

    def shard() -> dict:  # a sink's result for a shard of two ok samples, written now
        return {"rows": 2, "ok": 2, "error": 0, "causes": {}, "written_at": now[0]}

    now[0] = 100.0  # the first shard after 100 s of start-up
    progress.update(shard())
    assert progress.line().endswith("ETA ? (after the second batch)")
    now[0] = 101.0  # the second 1 s later
    progress.update(shard())
    assert progress.line().endswith("ETA 4s")  # 8 left at 2 samples/s, not at 4 per 101 s
    monkeypatch.setattr(time, "perf_counter", lambda: 10.0)
    assert trainer.eta((6.0, 1), 3, 5) == "4s" and trainer.eta(None, 1, 5) == "?"
