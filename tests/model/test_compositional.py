"""The compositional benchmark: pairwise accuracy, a tiny end-to-end run to its CSVs, and the HSG cross edges."""

import csv

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from model.data import ShardStream
from model.eval import compositional, controls, statistics
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
    assert result["pairwise_relation"] == pytest.approx(100.0)
    assert result["pairwise_attribute"] == pytest.approx(0.0)
    assert result["pairwise_order"] == pytest.approx(0.0)
    diverged = compositional.pairwise_accuracy(torch.tensor([float("nan")]), torch.tensor([0.0]), torch.tensor([0]),
                                               ["relation"])
    assert diverged["pairwise"] == 0.0


def node(kind: str, text: str, start: int, end: int) -> dict:
    return {"kind": kind, "text": text, "lemma": text, "token_start": start, "token_end": end}


def edge(source: int, target: int, kind: str) -> dict:
    return {"source": source, "target": target, "kind": kind}


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


def split_map(graphs) -> dict:
    """The tiny shards' 4 val videos dealt to the splits: 2 dev, 1 held-out wording, 1 held-out composition."""
    videos = sorted({r["video_id"] for r in pq.read_table(graphs / "tsg").to_pylist() if r["split"] == "val"})
    return dict(zip(videos, ["dev", "dev", "heldout-wording", "heldout-composition"]))


QUICK = compositional.PRESETS["quick"]


def test_samples_take_their_split_from_their_video(tiny_shards, tmp_path):
    negatives, count = write_negatives(tiny_shards, tmp_path / "negatives.parquet")
    split_of = split_map(tiny_shards)
    data = compositional.load_data(tiny_shards, negatives, split_of, image_size=32, num_frames=4)
    assert len(data.train) == 8 and {k: len(v) for k, v in data.evaluation.items()} == {
        "dev": 2, "heldout-wording": 1, "heldout-composition": 1}
    for split, samples in data.evaluation.items():
        assert all(split_of[s.text["video_id"]] == split and s.clip[0] == s.text["video_id"] for s in samples)
        assert {r["clip_sample_id"] for r in data.negatives[split]} == {s.text["sample_id"] for s in samples}
    with pytest.raises(ValueError, match="has no benchmark split"):
        compositional.load_data(tiny_shards, negatives, dict(list(split_of.items())[1:]), 32, 4)


def test_the_controls_and_finsta_rows_run_and_write_every_file(tiny_shards, tmp_path):
    negatives, _ = write_negatives(tiny_shards, tmp_path / "negatives.parquet")
    data = compositional.load_data(tiny_shards, negatives, split_map(tiny_shards), image_size=32, num_frames=4)
    names = ("host+negatives", "finsta-untrained", "dsg-text-matcher", "dsg-text-trained", "finsta-host", "finsta")
    bench = compositional.BenchmarkConfig(out=str(tmp_path / "eval"), keep=str(tmp_path / "keep"),
                                          configurations=names, **QUICK)
    rows = compositional.run_benchmark(bench, tiny_shards, data)
    assert {(r["configuration"], r["seed"], r["split"]) for r in rows} == {
        (c, s, sp) for c in names for s in (0, 1) for sp in compositional.EVALUATION_SPLITS}
    untrained = [r for r in rows if r["configuration"] in ("finsta-untrained", "dsg-text-matcher")]
    assert all(r["steps"] == 0 for r in untrained) and all(r["steps"] == QUICK["steps"] for r in rows
                                                           if r not in untrained)
    assert {r["path"] for r in rows if r["configuration"] in ("finsta-host", "dsg-text-trained")} == {"backbone"}
    assert {r["path"] for r in rows if r["configuration"] == "finsta"} == {"structure"}
    assert all(0.0 <= r["pairwise"] <= 100.0 and 0.0 <= r["t2v_r1"] <= r["t2v_r5"] <= 100.0 for r in rows)
    with open(tmp_path / "eval" / "compositional_seeds.csv", newline="") as f:
        seeds = list(csv.DictReader(f))
    assert len(seeds) == len(rows) and {"configuration", "backbone", "seed", "split", "t2v_r1", "v2t_r1",
                                        "pairwise"} <= set(seeds[0])
    with open(tmp_path / "eval" / "compositional.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(names) * 3 and all(r["seeds"] == "2" for r in table)
    assert float(next(r for r in table if r["split"] == "dev")["r1_step"]) == pytest.approx(50.0)  # 2 dev captions
    assert (tmp_path / "eval" / "compositional.png").stat().st_size > 10_000
    targets = (tmp_path / "eval" / "targets.txt").read_text()
    assert "[tiny] heldout-composition: finsta-host vs host+negatives, pairwise" in targets
    assert "better control: " in targets and "heldout-wording: finsta-host vs" not in targets  # tiny: compositions
    model, config = load_trained(tmp_path / "keep")
    assert config.finsta and hasattr(model, "gtrm")


def full_row(configuration: str, seed: int, value: float) -> dict:
    return {"configuration": configuration, "backbone": "tiny", "seed": seed, "split": "heldout-composition",
            "path": "backbone", "host_steps": 10, "steps": 5, "queries": 40,
            **{m: value for m in compositional.METRICS}}


def test_runs_split_by_seed_combine_into_the_table_one_run_gives(tmp_path, capsys):
    rows = [full_row(c, seed, v + 10 * seed) for seed in (0, 1, 2) for c, v in (("finsta-host", 60.0),
                                                                                ("host+negatives", 50.0))]
    compositional.write_results(rows, tmp_path / "one")
    for seed in (0, 1, 2):
        compositional.write_rows([r for r in rows if r["seed"] == seed], tmp_path / f"seed{seed}.csv")
    combined = compositional.combine([tmp_path / f"seed{seed}.csv" for seed in (0, 1, 2)], tmp_path / "all")
    assert len(combined) == 6
    for name in ("compositional.csv", "targets.txt"):
        assert (tmp_path / "all" / name).read_text() == (tmp_path / "one" / name).read_text(), name
    assert "finsta-host vs host+negatives" in capsys.readouterr().out
    with pytest.raises(ValueError, match="in both"):
        compositional.combine([tmp_path / "seed0.csv", tmp_path / "seed0.csv"], tmp_path / "twice")


def seed_rows(configuration: str, values: dict[int, float]) -> list[dict]:
    return [{"configuration": configuration, "backbone": "tiny", "seed": seed, "split": "heldout-composition",
             "queries": 40, "pairwise": v, "t2v_r1": v} for seed, v in values.items()]


T_1 = 12.706204736174698  # Student t, 97.5 % quantile, 1 degree of freedom


def test_mean_and_ci_of_two_seeds_and_both_verdicts():
    rows = seed_rows("finsta-host", {0: 60.0, 1: 70.0}) + seed_rows("host+negatives", {0: 50.0, 1: 52.0})
    summary = statistics.summarise(rows, ("pairwise",), compositional.CONFIGURATIONS)
    assert [s["configuration"] for s in summary] == ["host+negatives", "finsta-host"]
    assert summary[1]["pairwise_mean"] == 65.0 and summary[1]["pairwise_ci95"] == pytest.approx(T_1 * 5.0)
    assert summary[0]["r1_step"] == 2.5
    # differences 10 and 18: mean 14, sd sqrt(32), half-width t * 4 -> the interval crosses zero
    difference = statistics.paired_difference(rows, "finsta-host", "host+negatives", "tiny", "heldout-composition",
                                              "pairwise")
    assert difference["mean"] == 14.0 and difference["low"] == pytest.approx(14.0 - T_1 * 4.0)
    met, line = statistics.target(rows, "finsta-host", "host+negatives", "tiny", "heldout-composition", "pairwise", 5)
    assert not met and line.endswith("NOT MET") and "+14.0" in line
    # differences 10 and 10.5: mean 10.25, half-width t * 0.25 = 3.18 -> [7.07, 13.43], above zero and >= 5
    rows = seed_rows("finsta-host", {0: 60.0, 1: 62.5}) + seed_rows("host+negatives", {0: 50.0, 1: 52.0})
    met, line = statistics.target(rows, "finsta-host", "host+negatives", "tiny", "heldout-composition", "pairwise", 5)
    assert met and line.endswith(": MET") and "95% CI +7.1 .. +13.4" in line
    assert not statistics.target(rows, "finsta-host", "host+negatives", "tiny", "heldout-composition", "pairwise",
                                 11)[0]  # the mean 10.25 is below an 11-point margin


def test_verdict_judges_finsta_against_the_better_control():
    rows = (seed_rows("finsta", {0: 40.0, 1: 42.0}) + seed_rows("finsta-untrained", {0: 20.0, 1: 22.0})
            + seed_rows("dsg-text-matcher", {0: 35.0, 1: 36.0}))
    line = next(x for x in compositional.verdict(rows) if "better control" in x)
    assert "finsta vs dsg-text-matcher" in line and "NOT MET" in line  # +5.5 over the matcher, not +20 over untrained
    trained = seed_rows("dsg-text-trained", {0: 38.0, 1: 39.0})
    line = next(x for x in compositional.verdict(rows + trained) if "better control" in x)
    assert "finsta vs dsg-text-trained" in line and "+2.5" in line  # the trained matcher is the stronger control


def test_ablation_overrides_skip_fields_finsta_config_lacks(tmp_path, capsys):
    bench = compositional.BenchmarkConfig(out=str(tmp_path))
    config = bench.train_config(tmp_path, "tiny", 3, finsta=True, overrides={"model": {"use_osc": False,
                                                                                       "no_such_flag": 0}})
    assert config.model.use_osc is False and config.seed == 3 and config.max_steps == bench.steps
    assert "no field 'no_such_flag'" in capsys.readouterr().out
    assert bench.train_config(tmp_path, "tiny", 0, True, compositional.ABLATIONS["finsta-no-modifiers"]).use_modifiers \
        is False
    sentence = bench.train_config(tmp_path, "sentence", 0, finsta=False)
    assert (sentence.max_steps, sentence.backbone_lr) == (bench.sentence_steps, bench.sentence_backbone_lr)


def test_the_benchmarks_chosen_finsta_settings_reach_every_row_and_an_override_wins(tmp_path):
    bench = compositional.BenchmarkConfig(out=str(tmp_path), graph_text_grad=True)
    assert bench.train_config(tmp_path, "tiny", 0, finsta=True).model.graph_text_grad is True
    overridden = bench.train_config(tmp_path, "tiny", 0, True, {"model": {"graph_text_grad": False, "dim": 16}})
    assert (overridden.model.graph_text_grad, overridden.model.dim) == (False, 16)
    assert compositional.BenchmarkConfig(out=str(tmp_path), graph_text_grad=False).train_config(
        tmp_path, "tiny", 0, finsta=True).model.graph_text_grad is False


def test_unknown_configuration_is_rejected():
    with pytest.raises(ValueError, match="Unknown configuration"):
        compositional.BenchmarkConfig(out="/tmp/x", configurations=("finsta-no-everything",))


def test_split_names_agree_with_the_demo():
    from pipeline.demo import splits

    assert compositional.EVALUATION_SPLITS == splits.EVALUATION_SPLITS


def test_dsg_serialised_as_text(tiny_shards):
    pairs = list(ShardStream(tiny_shards, "val", image_size=32, num_frames=4))
    text = controls.serialise_dsg(pairs[0][1])
    parts = text.split("; ")
    assert len(parts) == len(set(parts)) and all(p in text for p in pairs[0][1].object_text)
    assert any(p.endswith(pairs[0][1].unary_predicate[0]) for p in parts)
    assert any(f" {pairs[0][1].edge_predicate[0]} " in p for p in parts)


def test_trained_dsg_text_matcher_loads_the_host_and_learns_dsg_text_against_captions(tiny_shards):
    from model.backbones import build_backbone
    from model.data import collate
    from model.finsta import BackboneOnly

    torch.manual_seed(0)
    config = FinstaConfig(dim=32, use_hard_negatives=True)
    host = BackboneOnly(build_backbone("tiny", image_size=32), config)
    learner = controls.DsgTextLearner(build_backbone("tiny", image_size=32), config)
    learner.load_state_dict(host.state_dict())  # same modules and names: the host checkpoint loads as it is
    text, video = collate(list(ShardStream(tiny_shards, "train", image_size=32, num_frames=4))[:8])
    optimizer = torch.optim.AdamW(learner.parameters(), lr=3e-3)
    first = learner.compute_losses(text, video)
    assert {"backbone_nce", "host_negatives"} <= set(first)
    for _ in range(20):
        optimizer.zero_grad()
        learner.compute_losses(text, video)["loss"].backward()
        optimizer.step()
    assert learner.compute_losses(text, video)["backbone_nce"] < first["backbone_nce"] / 2
    assert all(p.grad is None for p in learner.backbone.video.parameters())  # the clip side is its DSG text


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
