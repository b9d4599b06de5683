"""Score the caption parser on a FACTUAL-style gold set with the shared scorer (tsg_score.py beside the CSV)."""

import csv
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.parse_captions import DEFAULT_MODEL, load_spacy, parse_doc, to_json_record

REPO = Path(__file__).resolve().parents[2]
DEFAULT_GOLD = REPO.parent / "shared" / "eval" / "factual_sg_dev.csv"


@dataclass(frozen=True)
class EvalTSGConfig:
    gold: str = field(default=str(DEFAULT_GOLD), metadata={
        "help": "gold csv with a 'caption' column (default: ../shared/eval/factual_sg_dev.csv from the repo root)"})
    pred: str = field(default=str(REPO / "out" / "tsg_eval" / "pred.jsonl"),
                      metadata={"help": "where to write the predictions (jsonl)"})
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "spaCy model name or path"})
    scorer: str | None = field(default=None, metadata={"help": "tsg_score.py (default: beside the gold csv)"})


def scorer_record(tsg: dict) -> dict:
    """The scorer's keys, objects named as the caption writes them (the scorer lemmatises both sides itself).

    An event without an object ("the square disappears") has no triple to score and is left out.
    """
    record = to_json_record(tsg, object_names="text")
    return {
        "objects": record["objects"],
        "attributes": record["attributes"],
        "relations": [r for r in record["relations"] if r[2] is not None],
    }


def evaluate(gold: str | Path, pred: str | Path, model: str = DEFAULT_MODEL, scorer: str | Path | None = None) -> str:
    """Parse the gold captions, write predictions to `pred`, run the scorer; return its report."""
    gold_csv, pred_jsonl = Path(gold), Path(pred)
    if not gold_csv.is_file():
        raise FileNotFoundError(f"gold scene graphs '{gold_csv}' not found; expected a FACTUAL scene-graph csv "
                                "(columns image_id, region_id, caption, scene_graph; the README's 'Looking at the "
                                "results' describes the format) with its scorer tsg_score.py beside it: "
                                "make eval-tsg GOLD=path/to/factual_sg_dev.csv.")
    scorer = Path(scorer) if scorer else gold_csv.parent / "tsg_score.py"
    if not scorer.is_file():
        raise FileNotFoundError(f"scorer '{scorer}' not found; pass --scorer with the path of tsg_score.py.")
    with open(gold_csv, newline="", encoding="utf-8") as f:
        captions = [row["caption"] for row in csv.DictReader(f)]
    nlp = load_spacy(model)
    start = time.perf_counter()
    pred_jsonl.parent.mkdir(parents=True, exist_ok=True)
    with open(pred_jsonl, "w", encoding="utf-8") as f:
        for doc in nlp.pipe(captions, batch_size=256):
            f.write(json.dumps(scorer_record(parse_doc(doc, nlp))) + "\n")
    print(f"parsed {len(captions)} captions in {time.perf_counter() - start:.1f} s -> {pred_jsonl}", file=sys.stderr)
    result = subprocess.run([sys.executable, str(scorer), str(gold_csv), str(pred_jsonl)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"scorer {scorer} failed (exit {result.returncode}): {result.stderr.strip()}")
    return result.stdout
