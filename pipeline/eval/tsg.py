"""Score the caption parsers on a FACTUAL-style gold set: the shared scorer (tsg_score.py beside the CSV) gives the
figures of record (all tuples, relations); per-kind P/R/F1 (objects, attributes, relations) come from its mirror in
pipeline/caption_model/tuples.py, printed for each parser side by side."""

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.caption_model.tuples import (FACTUAL_DEV, KINDS, PhraseNormaliser, gold_tuples, read_factual,
                                           record_tuples, score, scorer_record)
from pipeline.caption_rules.parse import DEFAULT_MODEL, load_spacy, parse_doc
from pipeline.parse_captions import PARSERS

REPO = Path(__file__).resolve().parents[2]
KIND_NAMES = {"obj": "objects", "attr": "attributes", "rel": "relations", "all": "all"}


@dataclass(frozen=True)
class EvalTSGConfig:
    gold: str = field(default=str(FACTUAL_DEV), metadata={
        "help": "gold csv with columns caption and scene_graph (default: ../shared/eval/factual_sg_dev.csv from the "
                "repo root)"})
    pred: str = field(default=str(REPO / "out" / "tsg_eval" / "pred.jsonl"),
                      metadata={"help": "where to write the predictions (jsonl; pred.<parser>.jsonl per parser)"})
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "spaCy model name or path"})
    scorer: str | None = field(default=None, metadata={"help": "tsg_score.py (default: beside the gold csv)"})
    parser: str = field(default="both", metadata={
        "help": f"caption parser to score: {', '.join(PARSERS)}, or both side by side"})


def parse_graphs(nlp, captions: list[str], parser: str) -> list[dict]:
    docs = list(nlp.pipe(captions, batch_size=256))
    if parser == "rules":
        return [parse_doc(doc, nlp) for doc in docs]
    from pipeline.caption_model.parse import LearnedParser

    return LearnedParser(nlp=nlp).parse_docs(docs)


def run_scorer(scorer: Path, gold_csv: Path, pred_jsonl: Path) -> str:
    result = subprocess.run([sys.executable, str(scorer), str(gold_csv), str(pred_jsonl)],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"scorer {scorer} failed (exit {result.returncode}): {result.stderr.strip()}")
    return result.stdout


def per_kind_table(scores: dict) -> str:
    """One line per kind, each parser's P/R/F1 side by side; `scores`: {parser: tuples.score(...)}."""
    lines = [f"{'':>10}" + "".join(f"{name + ' P / R / F1':>24}" for name in scores)]
    for kind in KINDS + ("all",):
        lines.append(f"{KIND_NAMES[kind]:>10}" + "".join(
            f"    {s[kind][0]:6.3f} {s[kind][1]:6.3f} {s[kind][2]:6.3f}" for s in scores.values()))
    return "\n".join(lines) + "\n"


def evaluate(gold: str | Path, pred: str | Path, model: str = DEFAULT_MODEL, scorer: str | Path | None = None,
             parser: str = "both") -> str:
    """Parse the gold captions with each parser, write its predictions beside `pred`, run the scorer; return the
    scorer's report per parser and the per-kind table."""
    gold_csv, pred_jsonl = Path(gold), Path(pred)
    if parser not in PARSERS + ("both",):
        raise ValueError(f"parser '{parser}' is not one of {', '.join(PARSERS)} or both.")
    if not gold_csv.is_file():
        raise FileNotFoundError(f"gold scene graphs '{gold_csv}' not found; expected a FACTUAL scene-graph csv "
                                "(columns image_id, region_id, caption, scene_graph; the README's 'Looking at the "
                                "results' describes the format) with its scorer tsg_score.py beside it: "
                                "make eval-tsg GOLD=path/to/factual_sg_dev.csv.")
    scorer = Path(scorer) if scorer else gold_csv.parent / "tsg_score.py"
    if not scorer.is_file():
        raise FileNotFoundError(f"scorer '{scorer}' not found; pass --scorer with the path of tsg_score.py.")
    rows = read_factual(gold_csv)
    nlp = load_spacy(model)
    norm = PhraseNormaliser(nlp)
    gold_sets = [gold_tuples(row["scene_graph"], norm) for row in rows]
    report, scores = [], {}
    for name in (PARSERS[::-1] if parser == "both" else (parser,)):  # rules first: the baseline
        start = time.perf_counter()
        records = [scorer_record(tsg) for tsg in parse_graphs(nlp, [row["caption"] for row in rows], name)]
        path = pred_jsonl.with_suffix(f".{name}.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        print(f"{name}: parsed {len(rows)} captions in {time.perf_counter() - start:.1f} s -> {path}",
              file=sys.stderr)
        report.append(f"== {name} (scorer of record)\n" + run_scorer(scorer, gold_csv, path))
        scores[name] = score(gold_sets, [record_tuples(r, norm) for r in records])
    return "".join(report) + "== per kind (P R F1)\n" + per_kind_table(scores)
