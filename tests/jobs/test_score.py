"""jobs.score: anyone's captions parsed and scored against the shards' clips by a trained run."""

import json

import pyarrow.parquet as pq
import pytest

from jobs import score
from model import checkpoint
from model.data import ShardStream
from model.eval.retrieval import score_pairs
from model.finsta import FinstaConfig
from model.synthetic import write_tiny_shards
from model.trainer import TrainConfig, fit


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("score")
    graphs = write_tiny_shards(folder / "graphs")
    config = TrainConfig(graphs=str(graphs), run_dir=str(folder / "runs"), max_steps=1, image_size=32, num_frames=4,
                         batch_size=4, loader_workers=0, model=FinstaConfig(dim=32, num_layers=1))
    model = fit(config)
    checkpoint.save(folder / "run", model, config)
    return folder, graphs, model


def test_score_prints_finsta_and_host_scores_per_pair(trained, capsys):
    folder, graphs, model = trained
    row = next(r for r in pq.read_table(graphs / "tsg").to_pylist() if r["split"] == "val")
    negative = row["caption"].replace("left", "LEFT").replace("right", "left").replace("LEFT", "right")
    pairs = folder / "pairs.jsonl"
    pairs.write_text("\n".join(json.dumps({"sample_id": row["sample_id"], "caption": c})
                               for c in (row["caption"], negative, row["caption"])) + "\n")
    assert score.main(["--run", str(folder / "run"), "--graphs", str(graphs), "--pairs", str(pairs)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    header = lines.index("sample_id\tfinsta (with graphs)\thost (no graphs)\tcaption")
    printed = [line.split("\t") for line in lines[header + 1:]]
    assert [p[3] for p in printed] == [row["caption"], negative, row["caption"]]
    assert printed[0][1:3] == printed[2][1:3] and all(float(p[1]) == float(p[1]) for p in printed)
    # the host path reads only the caption and the clip: it must equal the shards' own pair scored directly
    own = next(p for p in ShardStream(graphs, "val", image_size=32, num_frames=4) if p[0].sample_id == row["sample_id"])
    assert float(printed[0][2]) == pytest.approx(score_pairs(model, [own])["backbone"].item(), abs=1e-4)


def test_an_unknown_clip_ends_in_one_error_line(trained, capsys):
    folder, graphs, _ = trained
    pairs = folder / "unknown.jsonl"
    pairs.write_text(json.dumps({"sample_id": "v_nowhere#0", "caption": "a red circle moves left"}) + "\n")
    with pytest.raises(SystemExit) as exit_info:
        score.main(["--run", str(folder / "run"), "--graphs", str(graphs), "--pairs", str(pairs)])
    assert exit_info.value.code == 2 and "error: sample_id(s) ['v_nowhere#0']" in capsys.readouterr().err
