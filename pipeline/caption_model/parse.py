"""The learned caption parser: the rules' TSG of each caption, then learned decisions on its candidates.

    parser = LearnedParser()                       # loads spaCy and weights/tsg_learned.pt
    graphs = parser.parse(["a laptop computer on the desk"])   # [{"nodes": [...], "edges": [...]}]
    tsg = parser.parse_doc(doc)                    # drop-in for pipeline.caption_rules.parse.parse_doc(doc, nlp)
    parser.parse(["They hit the ball."], previous_captions=[["Two girls stand on a court."]])

Graphs have exactly the structure of the rules' parse_doc (schemas/tsg.py nodes and edges).
"""

import copy
from pathlib import Path

import torch

from pipeline.caption_model import DEFAULT_WEIGHTS
from pipeline.caption_model.features import RELATION_DROP, RELATION_KEEP, candidates, feature_ids
from pipeline.caption_model.model import HashedFeatureClassifier, pack
from pipeline.caption_model.repairs import (
    drop_inserted_tokens,
    main_subject,
    name_as_antecedent,
    paragraph_pronoun,
    repaired_rule_graph,
    resolve_paragraph_subject,
)
from pipeline.caption_rules.parse import DEFAULT_MODEL, load_spacy

TASKS = ("compound", "relation", "attribute")


def load_weights(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"learned parser weights '{path}' not found; build them with `make tsg-parser` "
                                "(python -m jobs.train_tsg_parser) or pass weights= the path of a tsg_learned.pt.")
    return torch.load(path, map_location="cpu", weights_only=True)


def build_classifiers(weights: dict) -> dict:
    classifiers = {}
    for task in TASKS:
        model = HashedFeatureClassifier(len(weights["classes"][task]), weights["n_buckets"], weights["dim"])
        model.load_state_dict({k: v.float() for k, v in weights["state"][task].items()})
        classifiers[task] = model.eval()
    return classifiers


def class_probabilities(classifiers: dict, n_buckets: int, cands: list) -> list:
    """Softmax class probabilities (a list of floats) of each candidate, in order."""
    out = [None] * len(cands)
    with torch.inference_mode():
        for task, model in classifiers.items():
            index = [i for i, c in enumerate(cands) if c.task == task]
            if not index:
                continue
            ids, offsets = pack([feature_ids(cands[i].features, n_buckets) for i in index])
            probs = torch.softmax(model(ids, offsets), dim=1).tolist()
            for i, p in zip(index, probs):
                out[i] = p
    return out


def decide(cands: list, probabilities: list, classes: dict, thresholds: dict) -> dict:
    """{(task, node): class name} for the candidates whose decision is not "keep"."""
    decisions = {}
    for cand, probs in zip(cands, probabilities):
        names = classes[cand.task]
        if cand.task == "compound":
            choice = names[max(range(len(names)), key=probs.__getitem__)]
        elif cand.task == "attribute":
            choice = "drop" if probs[names.index("drop")] > thresholds["attribute_drop"] else "keep"
        else:
            drop = names.index(RELATION_DROP)
            if probs[drop] > thresholds["relation_drop"] and cand.clause_verb is None:
                choice = RELATION_DROP
            else:
                allowed = [i for i, name in enumerate(names) if i != drop and (
                    cand.clause_verb is None or name == RELATION_KEEP or name.split()[0] == cand.clause_verb)]
                choice = names[max(allowed, key=probs.__getitem__)]
        if choice != RELATION_KEEP:
            decisions[(cand.task, cand.node)] = choice
    return decisions


def apply_decisions(tsg: dict, decisions: dict) -> dict:
    """A new TSG with compounds renamed, relations renamed or dropped, attributes dropped."""
    nodes, edges = copy.deepcopy(tsg["nodes"]), [dict(e) for e in tsg["edges"]]
    removed = set()
    for (task, index), choice in decisions.items():
        node = nodes[index]
        if task == "compound":
            text, lemma = node["text"].split(), node["lemma"].split()
            node.update(text=text[-1], lemma=lemma[-1], token_start=node["token_end"] - 1)
            if choice == "head_and_attribute":
                nodes.append({"kind": "attribute", "text": " ".join(text[:-1]), "lemma": " ".join(lemma[:-1]),
                              "token_start": node["token_end"] - len(text), "token_end": node["token_end"] - 1})
                edges.append({"source": index, "target": len(nodes) - 1, "kind": "attribute"})
        elif choice in (RELATION_DROP, "drop"):
            removed.add(index)
        else:
            node["lemma"] = choice
    for edge in edges:
        if edge["kind"] == "modifier" and edge["source"] in removed:
            removed.add(edge["target"])
    kept = [i for i in range(len(nodes)) if i not in removed]
    new_index = {old: new for new, old in enumerate(kept)}
    return {"nodes": [nodes[i] for i in kept],
            "edges": [{**e, "source": new_index[e["source"]], "target": new_index[e["target"]]}
                      for e in edges if e["source"] in new_index and e["target"] in new_index]}


class LearnedParser:
    """Captions or spaCy Docs -> TSGs: rules (pipeline.parse_captions), rule repairs, then learned decisions."""

    def __init__(self, nlp=None, model_name: str = DEFAULT_MODEL, weights: Path = DEFAULT_WEIGHTS):
        self.nlp = nlp if nlp is not None else load_spacy(model_name)
        state = load_weights(weights)
        self.classes = state["classes"]
        self.thresholds = state["thresholds"]
        self.n_buckets = state["n_buckets"]
        self.classifiers = build_classifiers(state)

    def refine(self, docs: list, graphs: list) -> list[dict]:
        """Learned decisions on the rules' graphs of `docs`, all candidates of the batch scored at once."""
        per_doc = [candidates(doc, tsg) for doc, tsg in zip(docs, graphs)]
        flat = [c for cands in per_doc for c in cands]
        probabilities = iter(class_probabilities(self.classifiers, self.n_buckets, flat))
        out = []
        for cands, tsg in zip(per_doc, graphs):
            probs = [next(probabilities) for _ in cands]
            out.append(apply_decisions(tsg, decide(cands, probs, self.classes, self.thresholds)))
        return out

    def parse_alone(self, docs) -> list[dict]:
        """TSGs of parsed captions, each on its own."""
        repaired = [repaired_rule_graph(self.nlp, doc) for doc in docs]
        parsed, graphs, inserted = ([r[k] for r in repaired] for k in range(3))
        return [drop_inserted_tokens(g, c) for g, c in zip(self.refine(parsed, graphs), inserted)]

    def parse_with_antecedent(self, doc, antecedent: dict | None) -> dict:
        """The TSG of `doc`, a pronoun subject opening it ("They hit the ball") named as `antecedent`."""
        replaced, pronoun = resolve_paragraph_subject(self.nlp, doc, antecedent)
        tsg = self.parse_alone([replaced])[0]
        return tsg if pronoun is None else name_as_antecedent(tsg, doc, pronoun, antecedent)

    def paragraph_subject(self, captions: list[str]) -> dict | None:
        """The object node a paragraph `captions` is about at its end: the subject of its last caption that does
        not open with a pronoun (one that does goes on about the same subject); None when there is none."""
        docs = list(self.nlp.pipe(captions))
        named = [doc for doc in docs if paragraph_pronoun(doc) is None]
        return main_subject(self.parse_alone(named[-1:])[0]) if named else None

    def parse_docs(self, docs, previous_captions: list | None = None) -> list[dict]:
        """TSGs of parsed captions. `previous_captions[i]`: the captions before caption i in its paragraph (the
        earlier sentences of its video, in order), or None; a pronoun subject opening caption i stands for the
        subject of the caption before it. Each graph depends on its own row only, however rows are batched."""
        docs = list(docs)
        if previous_captions is not None and len(previous_captions) != len(docs):
            raise ValueError(f"parse_docs: {len(previous_captions)} previous_captions for {len(docs)} captions; "
                             "give one list per caption (None for a caption on its own).")
        out = self.parse_alone(docs)
        for i, doc in enumerate(docs):
            earlier = previous_captions[i] if previous_captions is not None else None
            if earlier is not None and len(earlier) and paragraph_pronoun(doc) is not None:
                out[i] = self.parse_with_antecedent(doc, self.paragraph_subject([str(c) for c in earlier]))
        return out

    def parse_doc(self, doc) -> dict:
        return self.parse_alone([doc])[0]

    def parse(self, captions: list[str], previous_captions: list | None = None, batch_size: int = 256) -> list[dict]:
        return self.parse_docs(self.nlp.pipe(captions, batch_size=batch_size), previous_captions)
