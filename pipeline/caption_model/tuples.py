"""Scene-graph tuples as FACTUAL's scorer sees them: lower-cased, lemmatised, determiners and punctuation dropped.

Mirrors ../shared/eval/tsg_score.py (the scorer of record) so that training labels and the dev figures printed
by training agree with it; per-kind counts (objects, attributes, relations) are added.
"""

import csv
import re
from pathlib import Path

from pipeline.parse_captions import to_json_record

KINDS = ("obj", "attr", "rel")
# FACTUAL's splits and scorer, in the shared folder beside the repository.
FACTUAL_DIR = Path(__file__).resolve().parents[3] / "shared" / "eval"
FACTUAL_TRAIN = FACTUAL_DIR / "factual_sg_train.csv"
FACTUAL_DEV = FACTUAL_DIR / "factual_sg_dev.csv"


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


class PhraseNormaliser:
    """norm(phrase) of the scorer, with the tagger and lemmatiser of an already loaded spaCy pipeline."""

    def __init__(self, nlp):
        self.nlp = nlp
        self.cache: dict[str, str] = {}

    def __call__(self, phrase) -> str:
        phrase = str(phrase).strip().lower()
        if phrase not in self.cache:
            with self.nlp.select_pipes(disable=[p for p in ("parser", "ner") if p in self.nlp.pipe_names]):
                doc = self.nlp(phrase)
            self.cache[phrase] = " ".join(t.lemma_.lower() for t in doc if t.pos_ != "DET" and not t.is_punct
                                          and t.lemma_.strip())
        return self.cache[phrase]


def read_factual(path: Path) -> list[dict]:
    """Rows of a FACTUAL csv (columns caption, scene_graph)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FACTUAL csv '{path}' not found; expected e.g. ../shared/eval/factual_sg_train.csv "
                                "with columns caption and scene_graph.")
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if rows and not {"caption", "scene_graph"} <= set(rows[0]):
        raise ValueError(f"'{path}' has columns {sorted(rows[0])}, expected caption and scene_graph.")
    return rows


def gold_tuples(scene_graph: str, norm) -> set:
    tuples = set()
    for part in re.findall(r"\(([^()]*)\)", scene_graph):
        items = [p.strip() for p in part.split(" , ")]
        if len(items) == 1:
            tuples.add(("obj", norm(items[0])))
        elif len(items) == 3:
            subject, predicate, obj = items
            tuples.add(("obj", norm(subject)))
            if predicate == "is":
                tuples.add(("attr", norm(subject), norm(obj)))
            else:
                tuples.add(("obj", norm(obj)))
                tuples.add(("rel", norm(subject), norm(predicate), norm(obj)))
    return tuples


def record_tuples(record: dict, norm) -> set:
    """The tuples of a scorer record {"objects", "attributes", "relations"}."""
    tuples = {("obj", norm(o)) for o in record.get("objects", [])}
    for obj, attribute in record.get("attributes", []):
        tuples |= {("obj", norm(obj)), ("attr", norm(obj), norm(attribute))}
    for subject, predicate, obj in record.get("relations", []):
        tuples |= {("obj", norm(subject)), ("obj", norm(obj)), ("rel", norm(subject), norm(predicate), norm(obj))}
    return tuples


def score(gold: list[set], predicted: list[set]) -> dict:
    """Micro P/R/F1 over all tuples and per kind: {"all"|"obj"|"attr"|"rel": (p, r, f1, n_pred, n_gold)}."""
    if len(gold) != len(predicted):
        raise ValueError(f"score: {len(gold)} gold graphs but {len(predicted)} predictions; they must pair up.")
    out = {}
    for key in ("all",) + KINDS:
        tp = n_pred = n_gold = 0
        for g, p in zip(gold, predicted):
            g = {t for t in g if key in ("all", t[0])}
            p = {t for t in p if key in ("all", t[0])}
            tp, n_pred, n_gold = tp + len(g & p), n_pred + len(p), n_gold + len(g)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_gold if n_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[key] = (precision, recall, f1, n_pred, n_gold)
    return out


def format_scores(scores: dict, label: str = "") -> str:
    names = {"all": "all", "obj": "objects", "attr": "attributes", "rel": "relations"}
    return "\n".join(f"{label}{names[k]:>10}: P={p:.3f} R={r:.3f} F1={f:.3f} (pred {n_p}, gold {n_g})"
                     for k, (p, r, f, n_p, n_g) in scores.items())
