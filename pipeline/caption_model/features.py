"""Candidates and their features: what the rules proposed in one caption's TSG, described by the spaCy parse.

Three kinds of decision are learned, one per candidate:
- a compound object ("laptop computer"): keep the name, or name the head alone, with or without the modifier as
  an attribute (FACTUAL writes "computer" with attribute "laptop" but keeps "school bus");
- a relation node: keep it, drop it, or rename its predicate ("with" -> "have", "beneath" -> "under");
- an attribute node: keep it or drop it.
A feature is a string ("pred=sit on|obj=bench"), hashed into a fixed number of buckets (model.py).
"""

import zlib
from dataclasses import dataclass

COMPOUND_CLASSES = ("keep", "head_and_attribute", "head")
RELATION_KEEP, RELATION_DROP = "keep", "drop"
ATTRIBUTE_CLASSES = ("keep", "drop")


@dataclass(frozen=True)
class Candidate:
    """One decision to take: `node` is the TSG node index the decision is about."""

    task: str  # "compound" | "relation" | "attribute"
    node: int
    features: tuple[str, ...]
    # A clause's own event ("they hit the ball"): its predicate's first word. Such a relation is never dropped and
    # is renamed only to a predicate with the same verb; region captions rarely show the sentences of a video.
    clause_verb: str | None = None


def feature_ids(features, n_buckets: int) -> list[int]:
    """Stable bucket ids (crc32, not Python's salted hash) of feature strings."""
    return [zlib.crc32(f.encode("utf-8")) % n_buckets for f in features]


def _bucket(n: int) -> str:
    return str(n) if n < 4 else "4-6" if n < 7 else "7+"


def _token_features(prefix: str, token) -> list[str]:
    return [f"{prefix}.lemma={token.lemma_.lower()}", f"{prefix}.dep={token.dep_}", f"{prefix}.tag={token.tag_}",
            f"{prefix}.head_dep={token.head.dep_}", f"{prefix}.head_pos={token.head.pos_}",
            f"{prefix}.dep_head={token.dep_}|{token.head.lemma_.lower()}"]


def _head(doc, node: dict):
    return doc[node["token_end"] - 1]


def _caption_features(doc, tsg: dict) -> list[str]:
    kinds = [n["kind"] for n in tsg["nodes"]]
    return ["bias", f"n_tokens={_bucket(len(doc) // 2)}", f"n_relations={_bucket(kinds.count('relation'))}",
            f"root_pos={next((t.pos_ for t in doc if t.dep_ == 'ROOT'), '')}"]


def compound_candidates(doc, tsg: dict) -> list[Candidate]:
    out = []
    for i, node in enumerate(tsg["nodes"]):
        if node["kind"] != "object" or node["token_end"] - node["token_start"] < 2:
            continue
        head = _head(doc, node)
        words = node["lemma"].split()
        modifier, head_word = " ".join(words[:-1]), words[-1]
        feats = [f"name={node['lemma']}", f"modifier={modifier}", f"head={head_word}", f"n_words={len(words)}",
                 f"modifier_tag={doc[node['token_start']].tag_}", f"modifier_dep={doc[node['token_start']].dep_}",
                 f"modifier_shape={doc[node['token_start']].shape_}", f"head_tag={head.tag_}",
                 f"head_dep={head.dep_}", f"modifier_suffix={modifier[-3:]}", f"head_suffix={head_word[-3:]}"]
        out.append(Candidate("compound", i, tuple(feats + _caption_features(doc, tsg))))
    return out


def _ends(tsg: dict, node: int, kind: str) -> list[int]:
    edges = tsg["edges"]
    if kind == "subject":
        return [e["source"] for e in edges if e["kind"] == "subject" and e["target"] == node]
    return [e["target"] for e in edges if e["kind"] == kind and e["source"] == node]


def relation_candidates(doc, tsg: dict) -> list[Candidate]:
    out = []
    nodes = tsg["nodes"]
    for i, node in enumerate(nodes):
        if node["kind"] != "relation":
            continue
        objects = _ends(tsg, i, "object")
        subjects = _ends(tsg, i, "subject")
        if not objects or not subjects:
            continue  # an event without an object scores no triple and is left as the rules made it
        subject, obj = nodes[subjects[0]], nodes[objects[0]]
        first = doc[node["token_start"]]
        pred = node["lemma"]
        s_head, o_head = _head(doc, subject), _head(doc, obj)
        s_word, o_word = subject["lemma"].split()[-1], obj["lemma"].split()[-1]
        between = [t.lower_ for t in doc[min(s_head.i, o_head.i) + 1:max(s_head.i, o_head.i)]]
        feats = [f"pred={pred}", f"pred_first={first.lower_}", f"pred_n={len(pred.split())}",
                 f"pred|obj={pred}|{o_word}", f"pred|subj={pred}|{s_word}", f"subj|obj={s_word}|{o_word}",
                 f"pred|subj|obj={pred}|{s_word}|{o_word}", f"subj={s_word}", f"obj={o_word}",
                 f"order={'so' if s_head.i < o_head.i else 'os'}", f"gap={_bucket(abs(s_head.i - o_head.i))}",
                 f"between={' '.join(between[:5])}", f"pred|between={pred}|{' '.join(between[:5])}",
                 f"n_subjects={_bucket(len(subjects))}", f"n_objects={_bucket(len(objects))}",
                 f"obj_garment_tag={o_head.tag_}|{pred}", f"subj_is_object_of_other={s_head.dep_}|{pred}"]
        feats += _token_features("pred", first) + _token_features("subj", s_head) + _token_features("obj", o_head)
        own_event = first.pos_ in ("VERB", "AUX") and (first.dep_ in ("pcomp", "advcl") or any(
            c.dep_ in ("nsubj", "nsubjpass") for c in first.children))
        out.append(Candidate("relation", i, tuple(feats + _caption_features(doc, tsg)),
                             clause_verb=pred.split()[0] if own_event else None))
    return out


def attribute_candidates(doc, tsg: dict) -> list[Candidate]:
    out = []
    nodes = tsg["nodes"]
    for edge in tsg["edges"]:
        if edge["kind"] != "attribute":
            continue
        obj, attribute = nodes[edge["source"]], nodes[edge["target"]]
        token = doc[attribute["token_start"]]
        o_word = obj["lemma"].split()[-1]
        feats = [f"attr={attribute['lemma']}", f"attr|obj={attribute['lemma']}|{o_word}", f"obj={o_word}",
                 f"attr_n={attribute['token_end'] - attribute['token_start']}", f"attr_shape={token.shape_}",
                 f"side={'before' if token.i < _head(doc, obj).i else 'after'}"]
        feats += _token_features("attr", token) + _token_features("obj", _head(doc, obj))
        out.append(Candidate("attribute", edge["target"], tuple(feats + _caption_features(doc, tsg))))
    return out


def candidates(doc, tsg: dict) -> list[Candidate]:
    return compound_candidates(doc, tsg) + relation_candidates(doc, tsg) + attribute_candidates(doc, tsg)
