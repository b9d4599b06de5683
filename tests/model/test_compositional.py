"""The compositional benchmark: pairwise accuracy, a tiny end-to-end run to its CSVs, and the HSG cross edges."""

import csv

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from model.eval import compositional
from model.eval.cross_edges import coreference_for_rows
from model.finsta import FinstaConfig
from model.trainer import TrainConfig, fit, load_trained
from schemas import tsg

SMALL = {"image_size": 32, "num_frames": 4, "batch_size": 4, "loader_workers": 0}
SMALL_MODEL = FinstaConfig(dim=32, num_layers=1)


def test_pairwise_accuracy_counts_wins_per_kind_and_ties_as_wrong():
    true_scores = torch.tensor([0.9, 0.2])
    negative_scores = torch.tensor([0.5, 0.95, 0.1, 0.2])
    negative_of = torch.tensor([0, 0, 1, 1])
    kinds = ["relation", "attribute", "relation", "order"]
    result = compositional.pairwise_accuracy(true_scores, negative_scores, negative_of, kinds)
    assert result["pairwise"] == pytest.approx(50.0)  # wins: 0.9>0.5, 0.2>0.1; loses 0.9<0.95; tie 0.2=0.2
    assert result["pairwise relation"] == pytest.approx(100.0)
    assert result["pairwise attribute"] == pytest.approx(0.0)
    assert result["pairwise order"] == pytest.approx(0.0)


def write_negatives(graphs, path):
    """Swap the direction word of every val caption of the tiny shards: one 'relation' negative per clip."""
    rows = [r for r in pq.read_table(graphs / "tsg").to_pylist() if r["split"] == "val" and r["status"] == "ok"]
    negatives = []
    for r in rows:
        swap = {"moves right": "moves left", "moves left": "moves right"}
        nodes = [{**n, "text": swap.get(n["text"], n["text"])} for n in r["nodes"]]
        caption = r["caption"].replace("right", "LEFT").replace("left", "right").replace("LEFT", "left")
        negatives.append({**r, "sample_id": r["sample_id"] + "/negative-0", "caption": caption, "nodes": nodes})
    table = pa.Table.from_pylist(negatives, schema=tsg.SCHEMA)
    table = table.append_column("clip_sample_id", pa.array([r["sample_id"] for r in rows]))
    table = table.append_column("negative_index", pa.array([0] * len(rows), pa.int32()))
    table = table.append_column("kind", pa.array(["relation"] * len(rows)))
    pq.write_table(table, path)
    return path, len(rows)


def test_benchmark_writes_table_csvs_and_plot(tiny_shards, tmp_path):
    negatives, count = write_negatives(tiny_shards, tmp_path / "negatives.parquet")
    data = compositional.load_data(tiny_shards, negatives, image_size=32, num_frames=4)
    assert len(data.train) == 8 and len(data.val) == 4 and len(data.negatives) == count == 4
    bench = compositional.BenchmarkConfig(out=str(tmp_path / "eval"), seeds=1, keep=str(tmp_path / "keep"),
                                          configurations=("backbone only", "backbone + Finsta"), max_steps=2,
                                          image_size=32, num_frames=4, batch_size=4, dim=32, num_layers=1)
    rows = compositional.run_benchmark(bench, tiny_shards, data)
    assert [(r["configuration"], r["path"]) for r in rows] == [
        ("backbone only", "backbone"), ("backbone + Finsta", "backbone"), ("backbone + Finsta", "graph"),
        ("backbone + Finsta", "structure")]
    assert all(0.0 <= r["pairwise"] <= 100.0 and 0.0 <= r["t2v R@1"] <= r["t2v R@5"] <= 100.0 for r in rows)
    with open(tmp_path / "eval" / "compositional.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert list(table[0]) == ["configuration", "path", "seeds", *compositional.METRICS]
    assert [(r["configuration"], r["path"]) for r in table] == [
        ("backbone only", "backbone (headline)"), ("backbone + Finsta", "structure (headline)"),
        ("backbone + Finsta", "backbone"), ("backbone + Finsta", "graph")]
    assert all(" ± " in r["t2v R@1"] and r["seeds"] == "1" for r in table)
    assert (tmp_path / "eval" / "compositional.png").stat().st_size > 10_000
    assert "Finsta vs backbone alone" in (tmp_path / "eval" / "targets.txt").read_text()
    assert "NOT MET" in compositional.verdict(compositional.summarise(rows), margin=101.0)[0]
    model, config = load_trained(tmp_path / "keep")
    assert config.finsta and config.max_steps == 2 and config.model.dim == 32 and hasattr(model, "gtrm")


def test_benchmark_preset_keeps_the_training_defaults_it_does_not_name(tmp_path):
    config = compositional.BenchmarkConfig(out=str(tmp_path)).train_config(tmp_path, "- OSC", seed=4)
    defaults = TrainConfig(graphs=str(tmp_path), run_dir=str(tmp_path))
    assert (config.max_steps, config.lr, config.image_size, config.seed) == (300, 3e-4, 32, 4)
    assert (config.batch_size, config.num_frames, config.backbone) == (defaults.batch_size, defaults.num_frames,
                                                                       defaults.backbone)
    assert config.model == FinstaConfig(use_osc=False)
    assert compositional.BenchmarkConfig(out=str(tmp_path)).train_config(tmp_path, "backbone only", 0).finsta is False


def test_unknown_configuration_is_rejected():
    with pytest.raises(ValueError, match="Unknown configuration"):
        compositional.BenchmarkConfig(out="/tmp/x", configurations=("- everything",))


def test_coreference_for_rows_returns_object_nodes_and_tracks_of_the_pair(tiny_shards, tmp_path):
    tsg_row = next(r for r in pq.read_table(tiny_shards / "tsg").to_pylist() if r["status"] == "ok")
    dsg_row = next(r for r in pq.read_table(tiny_shards / "dsg").to_pylist() if r["sample_id"] == tsg_row["sample_id"])
    tracks = {o["track_id"] for o in dsg_row["objects"]}
    for use_modifiers in (True, False):  # without modifiers the text graph renumbers nodes: indices must map back
        config = TrainConfig(graphs=str(tiny_shards), run_dir=str(tmp_path), max_steps=1,
                             model=FinstaConfig(dim=32, num_layers=1, cross_edge_k=2), use_modifiers=use_modifiers,
                             **SMALL)
        model = fit(config)
        edges = coreference_for_rows(model, tsg_row, dsg_row, config)
        objects = [i for i, n in enumerate(tsg_row["nodes"]) if n["kind"] == "object"]
        assert len(edges) == 2 * len(objects)  # top-2 of the clip's 2 tracks for each object node
        assert {e["text_node"] for e in edges} == set(objects)
        assert {e["track_id"] for e in edges} == tracks
        assert all(-1.0 - 1e-5 <= e["score"] <= 1.0 + 1e-5 for e in edges)
    backbone_only = fit(TrainConfig(graphs=str(tiny_shards), run_dir=str(tmp_path), max_steps=1, finsta=False,
                                    model=SMALL_MODEL, **SMALL))
    assert coreference_for_rows(backbone_only, tsg_row, dsg_row, config) == []
