"""Structural hard negatives of a caption, made from its own TSG: each differs from it in structure only.

FinstaModel trains against them (use_hard_negatives); they are the compositional benchmark's negative kinds
(relation, attribute, order), made from training graphs only: the benchmark's own negatives are never read.
"""

import random
import re

from model.data import EDGE_KINDS, NODE_KINDS, TextGraph, text_graph

# Opposite spatial and motion words. Flipping one ("slide up" -> "slide down") makes a relation negative that differs
# from its caption in a single word: the fine difference that pooled text embeddings wash out.
OPPOSITES = (("left", "right"), ("up", "down"), ("above", "below"), ("over", "under"), ("in front of", "behind"),
             ("toward", "away from"), ("towards", "away from"), ("closer to", "farther from"),
             ("approach", "move away from"), ("appear", "disappear"), ("come into view", "go out of view"),
             ("enter", "leave"), ("rise", "fall"), ("push", "pull"), ("open", "close"))
OPPOSITE = {a: b for a, b in OPPOSITES} | {b: a for a, b in OPPOSITES if b not in dict(OPPOSITES)}
OPPOSITE_PATTERN = re.compile(r"\b(" + "|".join(sorted(map(re.escape, OPPOSITE), key=len, reverse=True)) + r")\b")


def flip_opposite(text: str, rng: random.Random) -> str | None:
    """The relation text with one of its direction words replaced by its opposite, or None when it has none."""
    found = list(OPPOSITE_PATTERN.finditer(text))
    if not found:
        return None
    match = rng.choice(found)
    return text[:match.start()] + OPPOSITE[match.group(1)] + text[match.end():]


def graph_row(graph: TextGraph) -> dict:
    """A TextGraph back to a TSG-like row (nodes, edges, caption, sample_id): what text_graph reads."""
    nodes = [{"text": t, "kind": NODE_KINDS[k]} for t, k in zip(graph.node_text, graph.node_kind.tolist())]
    edges = [{"source": s, "target": t, "kind": EDGE_KINDS[k]}
             for (s, t), k in zip(graph.edge_index.t().tolist(), graph.edge_kind.tolist())]
    return {"nodes": nodes, "edges": edges, "caption": graph.caption, "sample_id": graph.sample_id}


def structural_negatives(graph: TextGraph, predicates: list[str], rng: random.Random) -> dict[str, TextGraph]:
    """Hard negatives of one caption built from its own TSG, each differing from it in structure only:
        attribute   the attributes of two object nodes with different attributes are exchanged
        relation    one of: a direction word of a relation node flipped to its opposite (OPPOSITES: "slide up" ->
                    "slide down"), its subject and object exchanged, or its predicate replaced by another one from
                    `predicates` (e.g. the batch's)
        order       every "before" edge is reversed
    -> {kind: negative graph} for the kinds the graph allows (0-3 entries). These are the compositional negatives'
    own kinds, made here from training graphs only (the benchmark's negatives are never read)."""
    row = graph_row(graph)
    nodes, edges = row["nodes"], row["edges"]
    negatives = {}

    attributes: dict[int, list[int]] = {}
    for i, e in enumerate(edges):
        if e["kind"] == "attribute":
            attributes.setdefault(e["source"], []).append(i)
    texts = {o: sorted(nodes[edges[i]["target"]]["text"] for i in found) for o, found in attributes.items()}
    pairs = [(a, b) for a in sorted(texts) for b in sorted(texts) if a < b and texts[a] != texts[b]]
    if pairs:
        a, b = rng.choice(pairs)
        swapped = [dict(e) for e in edges]
        for i in attributes[a]:
            swapped[i]["source"] = b
        for i in attributes[b]:
            swapped[i]["source"] = a
        negatives["attribute"] = {**row, "edges": swapped}

    relations = [i for i, n in enumerate(nodes) if n["kind"] == "relation"]
    if relations:
        relation = rng.choice(relations)
        text = nodes[relation]["text"]
        others = sorted({p for p in predicates if p != text})
        subject = [i for i, e in enumerate(edges) if e["kind"] == "subject" and e["target"] == relation]
        object_ = [i for i, e in enumerate(edges) if e["kind"] == "object" and e["source"] == relation]
        ways = [w for w, possible in (("flip", flip_opposite(text, rng) is not None), ("swap", subject and object_),
                                      ("other", others)) if possible]
        way = rng.choice(ways) if ways else None
        if way == "swap":
            swapped = [dict(e) for e in edges]
            swapped[subject[0]]["source"], swapped[object_[0]]["target"] = (edges[object_[0]]["target"],
                                                                          edges[subject[0]]["source"])
            negatives["relation"] = {**row, "edges": swapped}
        elif way is not None:
            renamed = [dict(n) for n in nodes]
            renamed[relation]["text"] = flip_opposite(text, rng) if way == "flip" else rng.choice(others)
            negatives["relation"] = {**row, "nodes": renamed}

    if any(e["kind"] == "before" for e in edges):
        reversed_ = [{**e, "source": e["target"], "target": e["source"]} if e["kind"] == "before" else e
                     for e in edges]
        negatives["order"] = {**row, "edges": reversed_}
    return {kind: text_graph(row) for kind, row in negatives.items()}
