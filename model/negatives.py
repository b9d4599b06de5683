"""Structural hard negatives of a caption, made from its own TSG: each differs from it in structure only.

FinstaModel and the host alone train against them (use_hard_negatives); they are the compositional benchmark's
negative kinds (relation, attribute, order), made from training graphs only: the benchmark's own negatives are never
read. Each negative also carries its caption rewritten the same way (negative_caption), so that a host that reads only
the caption text sees the negative too; where the caption's wording does not show the changed words, it is "".
"""

import random
import re

from model.data import EDGE_KINDS, NODE_KINDS, TextGraph, text_graph

# Opposite spatial and motion words. Flipping one ("slide up" -> "slide down") makes a relation negative that differs
# from its caption in a single word: the fine difference that pooled text embeddings wash out.
OPPOSITES = (("left", "right"), ("up", "down"), ("above", "below"), ("over", "under"), ("in front of", "behind"),
             ("toward", "away from"), ("towards", "away from"), ("closer to", "farther from"),
             ("approach", "move away from"), ("appear", "disappear"), ("come into view", "go out of view"),
             ("enter", "leave"), ("rise", "fall"), ("push", "pull"), ("open", "close"), ("upward", "downward"),
             ("leftward", "rightward"), ("upwards", "downwards"), ("leftwards", "rightwards"))
OPPOSITE = {a: b for a, b in OPPOSITES} | {b: a for a, b in OPPOSITES if b not in dict(OPPOSITES)}
OPPOSITE_PATTERN = re.compile(r"\b(" + "|".join(sorted(map(re.escape, OPPOSITE), key=len, reverse=True)) + r")\b")


def flip_opposite(text: str, rng: random.Random) -> str | None:
    """The relation text with one of its direction words replaced by its opposite, or None when it has none."""
    found = list(OPPOSITE_PATTERN.finditer(text))
    if not found:
        return None
    match = rng.choice(found)
    return text[:match.start()] + OPPOSITE[match.group(1)] + text[match.end():]


TEMPORAL_OPPOSITE = {"before": "after", "after": "before"}


def whole_word(text: str) -> re.Pattern:
    return re.compile(r"\b" + re.escape(text) + r"\b", re.IGNORECASE)


def exchange(caption: str, a: str, b: str) -> str | None:
    """The caption with every whole-word occurrence of a and of b exchanged, or None when either is missing."""
    if not whole_word(a).search(caption) or not whole_word(b).search(caption):
        return None
    pattern = re.compile(r"\b(" + re.escape(a) + "|" + re.escape(b) + r")\b", re.IGNORECASE)
    return pattern.sub(lambda m: keep_case(m.group(0), b if m.group(0).lower() == a.lower() else a), caption)


def keep_case(found: str, replacement: str) -> str:
    return replacement[:1].upper() + replacement[1:] if found[:1].isupper() else replacement


def replace_once(caption: str, old: str, new: str) -> str | None:
    """The caption with its one whole-word occurrence of `old` replaced by `new`; None unless exactly one exists."""
    found = list(whole_word(old).finditer(caption))
    if len(found) != 1:
        return None
    match = found[0]
    return caption[:match.start()] + keep_case(match.group(0), new) + caption[match.end():]


def flip_in_caption(caption: str, relation: str, flipped: str) -> str | None:
    """The relation's direction word flipped where the caption says it: the relation text itself when the caption
    holds it once, else the one changed word when the caption holds that once."""
    if (edited := replace_once(caption, relation, flipped)) is not None:
        return edited
    old = [w for w in relation.split() if w not in flipped.split()]
    new = [w for w in flipped.split() if w not in relation.split()]
    if len(old) == 1 and len(new) == 1:
        return replace_once(caption, old[0], new[0])
    return None


def reverse_order_words(caption: str) -> str | None:
    """'after' and 'before' exchanged (the caption's events in the other order), or None when it has neither."""
    pattern = re.compile(r"\b(before|after)\b", re.IGNORECASE)
    if not pattern.search(caption):
        return None
    return pattern.sub(lambda m: keep_case(m.group(0), TEMPORAL_OPPOSITE[m.group(0).lower()]), caption)


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
    own kinds, made here from training graphs only (the benchmark's negatives are never read). Each negative's
    `caption` is the caption changed the same way (the two attribute words, the two object phrases, the flipped or
    replaced relation words, "before" <-> "after" exchanged), or "" where its words are not found in the caption."""
    row = graph_row(graph)
    nodes, edges, caption = row["nodes"], row["edges"], row["caption"]
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
        words = exchange(caption, texts[a][0], texts[b][0]) if len(texts[a]) == len(texts[b]) == 1 else None
        negatives["attribute"] = {**row, "edges": swapped, "caption": words or ""}

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
            first, second = edges[subject[0]]["source"], edges[object_[0]]["target"]
            swapped[subject[0]]["source"], swapped[object_[0]]["target"] = second, first
            phrase = {o: " ".join([*texts.get(o, []), nodes[o]["text"]]) for o in (first, second)}
            words = exchange(caption, phrase[first], phrase[second]) if phrase[first] != phrase[second] else None
            negatives["relation"] = {**row, "edges": swapped, "caption": words or ""}
        elif way is not None:
            renamed = [dict(n) for n in nodes]
            renamed[relation]["text"] = flip_opposite(text, rng) if way == "flip" else rng.choice(others)
            words = (flip_in_caption(caption, text, renamed[relation]["text"]) if way == "flip"
                     else replace_once(caption, text, renamed[relation]["text"]))
            negatives["relation"] = {**row, "nodes": renamed, "caption": words or ""}

    if any(e["kind"] == "before" for e in edges):
        reversed_ = [{**e, "source": e["target"], "target": e["source"]} if e["kind"] == "before" else e
                     for e in edges]
        negatives["order"] = {**row, "edges": reversed_, "caption": reverse_order_words(caption) or ""}
    return {kind: text_graph(row) for kind, row in negatives.items()}


def batch_negatives(text, rng: random.Random) -> list[tuple[int, TextGraph]]:
    """One structural negative per caption of a text Batch that allows one, of a kind drawn among those its graph
    allows (each kind is seen as often over training, at a third of the cost of all of them every step); relation
    replacements draw from the batch's predicates. -> [(caption index, negative)]"""
    graphs = text.to_data_list()
    predicates = [t for g in graphs for t, k in zip(g.node_text, g.node_kind.tolist()) if NODE_KINDS[k] == "relation"]
    return [(i, rng.choice(list(negatives.values()))) for i, g in enumerate(graphs)
            if (negatives := structural_negatives(g, predicates, rng))]
