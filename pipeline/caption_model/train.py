"""Train the learned parser's decisions on FACTUAL train, choose thresholds on dev, print dev F1, save weights.

Labels come from the gold graphs: a candidate is kept when its tuple is gold, renamed when the gold graph joins
the same subject and object by another predicate, dropped otherwise. spaCy parses and rule graphs are cached
under `cache_dir` (built once, reused by every run).
"""

import collections
import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from pipeline.caption_model import DEFAULT_WEIGHTS
from pipeline.caption_model.features import (
    ATTRIBUTE_CLASSES,
    COMPOUND_CLASSES,
    RELATION_DROP,
    RELATION_KEEP,
    candidates,
    feature_ids,
)
from pipeline.caption_model.model import HashedFeatureClassifier, pack
from pipeline.caption_model.parse import TASKS, apply_decisions, class_probabilities, decide
from pipeline.caption_model.repairs import repaired_rule_graph
from pipeline.caption_model.tuples import (
    FACTUAL_DEV,
    FACTUAL_TRAIN,
    PhraseNormaliser,
    format_scores,
    gold_tuples,
    read_factual,
    record_tuples,
    score,
    scorer_record,
)
from pipeline.caption_rules.parse import DEFAULT_MODEL, load_spacy, parse_doc


@dataclass(frozen=True)
class TrainConfig:
    train_csv: str = field(default=str(FACTUAL_TRAIN),
                           metadata={"help": "FACTUAL train split (caption, scene_graph): the only training data"})
    dev_csv: str = field(default=str(FACTUAL_DEV),
                         metadata={"help": "FACTUAL dev split: thresholds and epochs are chosen here"})
    weights: str = field(default=str(DEFAULT_WEIGHTS), metadata={"help": "where to write the weights (.pt)"})
    cache_dir: str = field(default="out/caption_model", metadata={"help": "cached spaCy parses and rule graphs"})
    spacy_model: str = field(default=DEFAULT_MODEL, metadata={"help": "spaCy pipeline the features come from"})
    n_buckets: int = field(default=1 << 16, metadata={"help": "feature hash buckets per decision"})
    dim: int = field(default=32, metadata={"help": "hidden width of each classifier"})
    epochs: int = field(default=4, metadata={"help": "passes over the train candidates"})
    batch_size: int = field(default=128, metadata={"help": "candidates per optimiser step"})
    lr: float = field(default=3e-3, metadata={"help": "Adam learning rate"})
    min_rename_count: int = field(default=3, metadata={"help": "a gold predicate becomes a rename class when the "
                                                                   "train labels ask for it this often"})
    threads: int = field(default=1, metadata={"help": "torch CPU threads"})
    seed: int = field(default=0, metadata={"help": "random seed (initialisation and shuffling)"})


def cached_split(nlp, csv_path: str, cache_dir: Path) -> tuple[list, list, list]:
    """(rows, docs, rule graphs) of one split; parses and graphs cached on disk beside each other."""
    from spacy.tokens import DocBin

    rows = read_factual(Path(csv_path))
    stem = cache_dir / Path(csv_path).stem
    docs_path, graphs_path = stem.with_suffix(".spacy"), stem.with_suffix(".rules.json")
    if docs_path.is_file():
        docs = list(DocBin().from_disk(docs_path).get_docs(nlp.vocab))
    else:
        docs = list(nlp.pipe([r["caption"] for r in rows], batch_size=256))
        cache_dir.mkdir(parents=True, exist_ok=True)
        DocBin(docs=docs).to_disk(docs_path)
    if len(docs) != len(rows):
        raise ValueError(f"cache {docs_path} holds {len(docs)} parses for {len(rows)} captions; delete it and rerun.")
    if graphs_path.is_file():
        graphs = json.loads(graphs_path.read_text())
    else:
        graphs = [parse_doc(doc, nlp) for doc in docs]
        graphs_path.write_text(json.dumps(graphs))
    return rows, docs, graphs


def _names(node: dict, norm) -> set:
    return {norm(node["text"]), norm(node["text"].split()[-1])}


def label(cand, tsg: dict, gold: set, norm) -> str | None:
    """The gold decision for one candidate; None when the gold graph does not say."""
    nodes = tsg["nodes"]
    node = nodes[cand.node]
    if cand.task == "compound":
        gold_objects = {t[1] for t in gold if t[0] == "obj"}
        full, head = norm(node["text"]), norm(node["text"].split()[-1])
        if full in gold_objects:
            return "keep"
        if head in gold_objects:
            modifier = norm(" ".join(node["text"].split()[:-1]))
            return "head_and_attribute" if ("attr", head, modifier) in gold else "head"
        return None
    if cand.task == "attribute":
        owner = next(e["source"] for e in tsg["edges"] if e["kind"] == "attribute" and e["target"] == cand.node)
        value = norm(node["lemma"])
        return "keep" if any(("attr", o, value) in gold for o in _names(nodes[owner], norm)) else "drop"
    subject = next(e["source"] for e in tsg["edges"] if e["kind"] == "subject" and e["target"] == cand.node)
    obj = next(e["target"] for e in tsg["edges"] if e["kind"] == "object" and e["source"] == cand.node)
    subjects, objects = _names(nodes[subject], norm), _names(nodes[obj], norm)
    predicates = sorted(t[2] for t in gold if t[0] == "rel" and t[1] in subjects and t[3] in objects)
    if norm(node["lemma"]) in predicates:
        return RELATION_KEEP
    return predicates[0] if predicates else RELATION_DROP


def graph_tuples(graphs: list, norm) -> list[set]:
    return [record_tuples(scorer_record(tsg), norm) for tsg in graphs]


def train_classifier(examples: list, n_classes: int, config: TrainConfig) -> HashedFeatureClassifier:
    model = HashedFeatureClassifier(n_classes, config.n_buckets, config.dim)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = nn.CrossEntropyLoss()
    order = list(range(len(examples)))
    rng = random.Random(config.seed)
    for _ in range(config.epochs):
        rng.shuffle(order)
        for start in range(0, len(order), config.batch_size):
            batch = [examples[i] for i in order[start:start + config.batch_size]]
            ids, offsets = pack([ids for ids, _ in batch])
            loss = loss_fn(model(ids, offsets), torch.tensor([y for _, y in batch]))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return model.eval()


def choose_thresholds(classifiers, classes, n_buckets, docs, graphs, gold, norm) -> tuple[dict, list]:
    """The drop thresholds with the best dev all-tuple F1 (relation F1 breaking ties), and the graphs they give."""
    per_doc = [candidates(doc, tsg) for doc, tsg in zip(docs, graphs)]
    flat = [c for cands in per_doc for c in cands]
    flat_probs = class_probabilities(classifiers, n_buckets, flat)
    probs, at = [], 0
    for cands in per_doc:
        probs.append(flat_probs[at:at + len(cands)])
        at += len(cands)
    best = None
    for relation_drop in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01):
        for attribute_drop in (0.3, 0.5, 0.7, 0.9, 1.01):
            thresholds = {"relation_drop": relation_drop, "attribute_drop": attribute_drop}
            out = [apply_decisions(tsg, decide(c, p, classes, thresholds)) for c, p, tsg in zip(per_doc, probs, graphs)]
            scores = score(gold, graph_tuples(out, norm))
            key = (round(scores["all"][2], 4), scores["rel"][2])
            if best is None or key > best[0]:
                best = (key, thresholds, out)
    return best[1], best[2]


def train(config: TrainConfig) -> dict:
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    start = time.perf_counter()
    nlp = load_spacy(config.spacy_model)
    norm = PhraseNormaliser(nlp)
    cache_dir = Path(config.cache_dir)
    train_rows, train_docs, train_graphs = cached_split(nlp, config.train_csv, cache_dir)
    dev_rows, dev_docs, dev_graphs = cached_split(nlp, config.dev_csv, cache_dir)
    rules_dev_graphs = dev_graphs
    train_docs, train_graphs, _ = zip(*(repaired_rule_graph(nlp, d, g) for d, g in zip(train_docs, train_graphs)))
    dev_docs, dev_graphs, _ = zip(*(repaired_rule_graph(nlp, d, g) for d, g in zip(dev_docs, dev_graphs)))
    print(f"parses and rule graphs ready ({time.perf_counter() - start:.0f} s)", flush=True)

    labelled = {task: [] for task in TASKS}
    for row, doc, tsg in zip(train_rows, train_docs, train_graphs):
        gold = gold_tuples(row["scene_graph"], norm)
        for cand in candidates(doc, tsg):
            y = label(cand, tsg, gold, norm)
            if y is not None:
                labelled[cand.task].append((feature_ids(cand.features, config.n_buckets), y))
    renames = collections.Counter(y for _, y in labelled["relation"] if y not in (RELATION_KEEP, RELATION_DROP))
    classes = {"compound": list(COMPOUND_CLASSES), "attribute": list(ATTRIBUTE_CLASSES),
               "relation": [RELATION_KEEP, RELATION_DROP] + sorted(
                   p for p, n in renames.items() if n >= config.min_rename_count)}
    classifiers = {}
    for task in TASKS:
        index = {name: i for i, name in enumerate(classes[task])}
        examples = [(ids, index[y]) for ids, y in labelled[task] if y in index]
        counts = collections.Counter(classes[task][y] for _, y in examples).most_common(4)
        print(f"{task}: {len(examples)} train candidates, {len(classes[task])} classes, most common {counts}",
              flush=True)
        classifiers[task] = train_classifier(examples, len(classes[task]), config)
    print(f"trained ({time.perf_counter() - start:.0f} s)", flush=True)

    dev_gold = [gold_tuples(r["scene_graph"], norm) for r in dev_rows]
    thresholds, learned = choose_thresholds(classifiers, classes, config.n_buckets, dev_docs, dev_graphs, dev_gold,
                                            norm)
    rules = score(dev_gold, graph_tuples(rules_dev_graphs, norm))
    ours = score(dev_gold, graph_tuples(learned, norm))
    print(f"dev thresholds {thresholds}")
    print(format_scores(rules, "dev rules   "))
    print(format_scores(ours, "dev learned "))
    weights = Path(config.weights)
    weights.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"classes": classes, "thresholds": thresholds, "n_buckets": config.n_buckets, "dim": config.dim,
                "config": asdict(config),
                "state": {task: {k: v.half() for k, v in m.state_dict().items()} for task, m in classifiers.items()}},
               weights)
    print(f"wrote {weights} ({weights.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - start:.0f} s in all)")
    return {"rules": rules, "learned": ours, "thresholds": thresholds}
