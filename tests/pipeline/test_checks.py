"""pipeline.checks: each bad input of build-graphs is refused in the driver, naming the input and the fix."""

import dataclasses
import json

import pytest

from pipeline import checks
from pipeline.demo import layout
from pipeline.runner import BuildGraphsConfig


@pytest.fixture
def config(tmp_path):
    (tmp_path / "clips.jsonl").write_text(json.dumps({"video": "a.mp4", "caption": "a red box"}) + "\n")
    return BuildGraphsConfig(dataset="generic", data_root=str(tmp_path), out=str(tmp_path / "out"),
                             annotations="clips.jsonl", weights=str(layout.WEIGHTS))


def test_a_good_config_passes(config):
    checks.check_build(config)


@pytest.mark.parametrize("name, value", [("num_frames", 0), ("keyframe_size", 0), ("conf", 1.5), ("iou", -0.1),
                                         ("jpeg_quality", 101), ("sample_fps", 0.0), ("imgsz", 16),
                                         ("rows_per_shard", 0), ("dsg_batch_size", 0), ("limit", 0),
                                         ("max_caption_chars", 0), ("relation_head_threshold", 2.0)])
def test_each_setting_out_of_range_is_named_with_its_range(config, name, value):
    flag = "--" + name.replace("_", "-")
    with pytest.raises(ValueError, match=rf"^{flag} {value} is out of range — give a value (at least|above|between)"):
        checks.check_build(dataclasses.replace(config, **{name: value}))


def test_the_edges_of_a_range_pass(config):
    checks.check_ranges(dataclasses.replace(config, num_frames=1, conf=0.0, iou=1.0, jpeg_quality=100,
                                            sample_fps=None, limit=None), checks.RANGES)


def test_an_unknown_dataset_is_named_before_the_weights_it_would_need(config):
    with pytest.raises(ValueError, match="^DATASET 'nope' is not a dataset .* — pass --dataset one of activitynet"):
        checks.check_build(dataclasses.replace(config, dataset="nope", weights=None))


def test_generic_without_annotations_and_a_missing_data_root(config, tmp_path):
    with pytest.raises(ValueError, match="needs its annotation file — pass --annotations"):
        checks.check_build(dataclasses.replace(config, annotations=None))
    with pytest.raises(FileNotFoundError, match=f"DATA_ROOT {tmp_path / 'nope'} is not a folder"):
        checks.check_build(dataclasses.replace(config, data_root=str(tmp_path / "nope")))


def test_out_must_be_a_writable_folder(config, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match=f"^OUT {tmp_path / 'file'} is a file"):
        checks.check_writable(tmp_path / "file")
    with pytest.raises(NotADirectoryError, match="its parent .* is a file"):
        checks.check_writable(tmp_path / "file" / "graphs")
    # /proc refuses new files even to root, for whom a chmod'ed folder is still writable.
    with pytest.raises(PermissionError, match="^OUT /proc/graphs: cannot write in /proc"):
        checks.check_writable("/proc/graphs")
    checks.check_writable(tmp_path / "new" / "graphs")
    assert not (tmp_path / "new").exists()


def test_a_device_that_is_not_one(config):
    with pytest.raises(ValueError, match="--device 'gpu0' is not a device"):
        checks.check_build(dataclasses.replace(config, device="gpu0"))
    checks.check_build(dataclasses.replace(config, device="cuda:1"))


def test_the_spacy_model_must_be_installed(config):
    with pytest.raises(OSError, match="spaCy model 'no_such_model' is not installed .* — install its package"):
        checks.check_build(dataclasses.replace(config, spacy_model="no_such_model"))


def test_the_weights_must_be_a_loadable_detector(config, tmp_path):
    text = tmp_path / "weights.pt"
    text.write_text("not a checkpoint\n")
    with pytest.raises(ValueError, match=f"^--weights {text} is not a usable detector .* — pass an ultralytics"):
        checks.check_build(dataclasses.replace(config, weights=str(text)))
    with pytest.raises(FileNotFoundError, match="detector weights .*absent.pt not found — pass --weights"):
        checks.check_build(dataclasses.replace(config, weights=str(tmp_path / "absent.pt")))
    checks.check_build(dataclasses.replace(config, weights=str(text), stages="tsg"))  # no detector is loaded
    with pytest.raises(ValueError, match="^--stages 'tsg,audio' names"):
        checks.check_build(dataclasses.replace(config, stages="tsg,audio"))
    with pytest.raises(ValueError, match="dataset 'generic' needs detector weights — pass --weights"):
        checks.check_build(dataclasses.replace(config, weights=None))


def test_the_relation_head_must_load(config, tmp_path):
    head = tmp_path / "head.pt"
    head.write_text("not a head\n")
    with pytest.raises(ValueError, match=f"^--relation-head {head} is not a relation head"):
        checks.check_build(dataclasses.replace(config, relation_head=str(head)))
    with pytest.raises(FileNotFoundError, match="relation head .*absent.pt not found"):
        checks.check_build(dataclasses.replace(config, relation_head=str(tmp_path / "absent.pt")))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ray_address_where_nothing_answers_is_refused_at_once(monkeypatch):
    import time

    import ray

    from pipeline import ray_connect

    address = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("RAY_ADDRESS", address)
    started = time.monotonic()
    with pytest.raises(ConnectionError, match=f"^RAY_ADDRESS={address}: nothing answers there .* — start the cluster"):
        ray_connect.connect(timeout_s=2)
    assert time.monotonic() - started < 5 and not ray.is_initialized()


def test_a_stale_head_in_rays_temp_folder_is_named_not_waited_for(monkeypatch):
    from ray._private import services

    from pipeline import ray_connect

    stale = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("RAY_ADDRESS", "auto")
    monkeypatch.setattr(services, "canonicalize_bootstrap_address", lambda address: stale)
    with pytest.raises(ConnectionError, match=f"{stale}: nothing answers there"):
        ray_connect.connect(timeout_s=2)


def test_a_cluster_of_other_versions_is_refused_naming_both():
    import platform

    import ray

    from pipeline import ray_connect

    ray_connect.check_versions("10.0.0.1:6379", {"ray_version": ray.__version__,
                                                 "python_version": platform.python_version()})
    with pytest.raises(ValueError, match=rf"the cluster runs Ray 2.9.0 on Python 3.10.1, this driver Ray "
                                         rf"{ray.__version__} on Python {platform.python_version()}"):
        ray_connect.check_versions("10.0.0.1:6379", {"ray_version": "2.9.0", "python_version": "3.10.1"})
    with pytest.raises(ValueError, match="on Python 3.11.0"):
        ray_connect.check_versions("10.0.0.1:6379", {"ray_version": ray.__version__, "python_version": "3.11.0"})


def test_without_ray_address_the_driver_starts_its_own_ray(monkeypatch):
    import ray

    from pipeline import ray_connect

    calls = []
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kwargs: calls.append(kwargs))
    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 2.0})
    assert ray_connect.connect().startswith("[ray] started a local Ray of this process's own: 2 CPUs, 0 GPUs")
    assert calls[0]["address"] == "local"
    # Its workers find their own dashboard, not another Ray instance on the machine.
    assert calls[0]["runtime_env"]["env_vars"]["RAY_API_SERVER_ADDRESS"] == \
        f"http://127.0.0.1:{calls[0]['dashboard_port']}"
