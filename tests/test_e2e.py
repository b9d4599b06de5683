"""End to end: demo dataset -> pipeline -> validated shards -> pandas -> a few training steps -> checkpoint.

The fast test runs the stages in this process (run_plain, trainer.fit); the slow one runs Ray Data and Ray Train."""

import dataclasses
import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from model import checkpoint
from model.data import loader
from model.eval.retrieval import retrieval
from model.trainer import TrainConfig, fit, load_trained, stream
from pipeline.runner import BuildGraphsConfig, run, run_plain
from schemas import dsg, manifest, read_graphs, tsg


def segments_of(demo) -> int:
    annotations = [json.loads((demo / name).read_text()) for name in ("train.json", "val_1.json")]
    return sum(len(entry["sentences"]) for split in annotations for entry in split.values())


def check_shards(graphs, demo, rows_per_shard: int) -> pd.DataFrame:
    """Every shard valid against schemas/, one ok row per caption segment; returns the joined rows."""
    segments = segments_of(demo)
    document = manifest.read(graphs)
    assert len(document["shards"]) == -(-segments // rows_per_shard)
    assert document["pipeline_config"]["imgsz"] == 320  # the size the demo detector was trained at
    for shard in document["shards"]:
        tsg.validate(pq.read_table(graphs / shard["tsg_path"]))
        dsg.validate(pq.read_table(graphs / shard["dsg_path"]))
    video = read_graphs(graphs).to_pandas()
    assert len(video) == segments
    assert (video["tsg_status"] == "ok").all() and (video["dsg_status"] == "ok").all()
    # The demo detector finds the shapes: every clip has objects, and tracks link across keyframes.
    assert video["objects"].map(len).min() > 0 and video["temporal_links"].map(len).sum() > 0
    return video


def test_demo_to_shards_to_a_few_training_steps_in_process(demo_data, tmp_path):
    graphs = tmp_path / "graphs"
    summary = run_plain(BuildGraphsConfig(dataset="demo", data_root=str(demo_data), out=str(graphs), num_frames=3,
                                          rows_per_shard=5))
    assert summary["samples"] == segments_of(demo_data)
    check_shards(graphs, demo_data, rows_per_shard=5)

    config = TrainConfig(graphs=str(graphs), run_dir=str(tmp_path / "runs"), max_steps=3, batch_size=4,
                         image_size=32, num_frames=3, loader_workers=0)
    untrained = fit(dataclasses.replace(config, epochs=0)).state_dict()
    model = fit(config)
    assert any(not torch.equal(untrained[k], v) for k, v in model.state_dict().items())
    checkpoint.save(tmp_path / "runs" / "e2e" / "checkpoint_0", model, config, step=3)
    loaded, loaded_config = load_trained(tmp_path / "runs")
    assert loaded_config == config and checkpoint.load(tmp_path / "runs")["step"] == 3
    results = retrieval(loaded, loader(stream(config, "val", shuffle=False), config.batch_size))
    assert results["num_pairs"] == read_graphs(graphs, split="val").num_rows
    assert set(results) == {"num_pairs", "backbone", "graph", "structure"}


@pytest.mark.slow
def test_demo_to_shards_to_training_with_ray(demo_data, tmp_path, local_ray):
    graphs = tmp_path / "graphs"
    summary = run(BuildGraphsConfig(dataset="demo", data_root=str(demo_data), out=str(graphs), rows_per_shard=8))
    assert summary["samples"] == segments_of(demo_data)
    check_shards(graphs, demo_data, rows_per_shard=8)

    from model.trainer import train

    result = train(TrainConfig(graphs=str(graphs), run_dir=str(tmp_path / "runs"), name="e2e", max_steps=4,
                               batch_size=4, checkpoint_every=2))
    assert result.error is None and result.checkpoint is not None
    state = checkpoint.load(result.checkpoint.path)
    assert state["step"] == 4
    assert {"backbone_t2v_R@1", "graph_t2v_R@1"} <= set(result.metrics)
