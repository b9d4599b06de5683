"""End to end: demo dataset -> Ray pipeline -> validated shards -> pandas -> a few training steps -> checkpoint."""

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

from model import checkpoint
from model.trainer import TrainConfig, train
from pipeline.demo.generate import DemoConfig, generate
from pipeline.runner import BuildGraphsConfig, run
from schemas import dsg, manifest, tsg


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    generate(root, DemoConfig(num_videos=6, seed=3), detection=False, verbose=False)
    return root


def test_demo_to_shards_to_training(demo, tmp_path, local_ray):
    graphs = tmp_path / "graphs"
    summary = run(BuildGraphsConfig(dataset="demo", data_root=str(demo), out=str(graphs), rows_per_shard=8))
    annotations = [json.loads((demo / name).read_text()) for name in ("train.json", "val_1.json")]
    segments = sum(len(entry["sentences"]) for split in annotations for entry in split.values())
    document = manifest.read(graphs)
    assert summary["samples"] == segments and len(document["shards"]) == -(-segments // 8)
    assert document["pipeline_config"]["imgsz"] == 320  # the size the demo detector was trained at
    for shard in document["shards"]:
        tsg.validate(pq.read_table(graphs / shard["tsg_path"]))
        dsg.validate(pq.read_table(graphs / shard["dsg_path"]))
    text, video = pd.read_parquet(graphs / "tsg"), pd.read_parquet(graphs / "dsg")
    assert len(text) == len(video) == segments
    assert (text["status"] == "ok").all() and (video["status"] == "ok").all()
    # The demo detector finds the shapes: every clip has objects, and tracks link across keyframes.
    assert video["objects"].map(len).min() > 0 and video["temporal_links"].map(len).sum() > 0

    result = train(TrainConfig(graphs=str(graphs), run_dir=str(tmp_path / "runs"), name="e2e", max_steps=4,
                               batch_size=4, checkpoint_every=2))
    assert result.error is None and result.checkpoint is not None
    state = checkpoint.load(result.checkpoint.path)
    assert state["step"] == 4
    assert {"backbone_t2v_R@1", "graph_t2v_R@1"} <= set(result.metrics)
