"""The benchmark's controls, the rows Finsta has to beat without being Finsta:

  host+negatives    the host trained alone with NegCLIP-style hard negatives: its own caption, edited in the ways
                    model/negatives.py edits a TSG (attribute swap; relation flipped, subject/object exchanged or
                    replaced; the two events of a "before" exchanged), as one more text candidate of each clip
  dsg-text-matcher  no learning: the DSG written out as text ("golden ball; golden ball goes down; ...") against the
                    caption, both through the same frozen text tower

The host reads captions only, so its negatives are strings: the edits act on the caption's token spans (the TSG's
token_start/token_end over a word/punctuation split, checked against each node's text; a caption whose spans do not
match keeps the edits that do).
"""

import random
import re

import torch
from torch import nn

from model import losses
from model.finsta import BackboneOnly, BackboneOutput
from model.negatives import flip_opposite

TOKEN = re.compile(r"\w+|[^\w\s]")
NEGATIVE_VARIANTS = 4  # edits drawn per caption and kind (the trainer picks one per caption and step)


def node_spans(caption: str, nodes: list[dict]) -> list[tuple[int, int] | None]:
    """Character range of each node's tokens in the caption, or None where the tokens do not spell the node's text."""
    tokens = list(TOKEN.finditer(caption))
    spans = []
    for node in nodes:
        start, end = node["token_start"], node["token_end"]
        if not 0 <= start < end <= len(tokens):
            spans.append(None)
            continue
        chars = (tokens[start].start(), tokens[end - 1].end())
        words = " ".join(t.group() for t in tokens[start:end]).lower()
        spans.append(chars if words == node["text"].lower() else None)
    return spans


def apply_edits(caption: str, edits: list[tuple[tuple[int, int], str]]) -> str | None:
    """The caption with each character range replaced; None when ranges overlap or nothing changes."""
    edits = sorted(edits)
    if any(a[0][1] > b[0][0] for a, b in zip(edits, edits[1:])):
        return None
    edited = caption
    for (start, end), text in reversed(edits):
        edited = edited[:start] + text + edited[end:]
    return edited if edited != caption else None


def noun_phrase(node: int, nodes, edges, spans) -> tuple[int, int] | None:
    """The characters of an object node with its attribute nodes, when they are one contiguous run of tokens."""
    members = [node] + [e["target"] for e in edges if e["kind"] == "attribute" and e["source"] == node]
    if any(spans[m] is None for m in members):
        return None
    tokens = sorted((nodes[m]["token_start"], nodes[m]["token_end"]) for m in members)
    if any(a[1] != b[0] for a, b in zip(tokens, tokens[1:])):
        return None
    return min(spans[m][0] for m in members), max(spans[m][1] for m in members)


def caption_negatives(row: dict, predicates: list[str], rng: random.Random) -> dict[str, str]:
    """One caption-string hard negative per kind the TSG row allows: {kind: caption} (relation, attribute, order)."""
    caption, nodes, edges = row["caption"], row["nodes"] or [], row["edges"] or []
    spans = node_spans(caption, nodes)
    text = [caption[s[0]:s[1]] if s else None for s in spans]
    negatives = {}

    attribute_of = [(e["source"], e["target"]) for e in edges if e["kind"] == "attribute" and spans[e["target"]]]
    pairs = [(a, b) for (oa, a) in attribute_of for (ob, b) in attribute_of
             if oa < ob and text[a].lower() != text[b].lower()]
    if pairs:
        a, b = rng.choice(pairs)
        negatives["attribute"] = apply_edits(caption, [(spans[a], text[b]), (spans[b], text[a])])

    relations = [i for i, n in enumerate(nodes) if n["kind"] == "relation" and spans[i]]
    if relations:
        relation = rng.choice(relations)
        subject = next((e["source"] for e in edges if e["kind"] == "subject" and e["target"] == relation), None)
        obj = next((e["target"] for e in edges if e["kind"] == "object" and e["source"] == relation), None)
        ways = {"flip": flip_opposite(text[relation], rng)}
        others = sorted({p for p in predicates if p.lower() != nodes[relation]["text"].lower()})
        if others:
            ways["other"] = rng.choice(others)
        if subject is not None and obj is not None:
            s, o = noun_phrase(subject, nodes, edges, spans), noun_phrase(obj, nodes, edges, spans)
            if s and o:
                ways["swap"] = (s, o)
        ways = {k: v for k, v in ways.items() if v}
        if ways:
            way = rng.choice(sorted(ways))
            if way == "swap":
                s, o = ways["swap"]
                edits = [(s, caption[o[0]:o[1]]), (o, caption[s[0]:s[1]])]
            else:
                edits = [(spans[relation], ways[way])]
            negatives["relation"] = apply_edits(caption, edits)

    events = [(e["source"], e["target"]) for e in edges if e["kind"] == "before"
              and spans[e["source"]] and spans[e["target"]]]
    if events:
        first, then = rng.choice(events)
        negatives["order"] = apply_edits(caption, [(spans[first], text[then]), (spans[then], text[first])])
    return {kind: c for kind, c in negatives.items() if c}


def negatives_of_rows(rows: list[dict], seed: int) -> dict[str, dict[str, list[str]]]:
    """{sample_id: {kind: distinct caption negatives}} of TSG rows, NEGATIVE_VARIANTS draws per caption; predicates
    for the "other" relation edit come from the rows themselves."""
    predicates = sorted({n["text"] for r in rows for n in r["nodes"] or [] if n["kind"] == "relation"})
    rng = random.Random(seed)
    found = {}
    for row in rows:
        kinds: dict[str, set] = {}
        for _ in range(NEGATIVE_VARIANTS):
            for kind, caption in caption_negatives(row, predicates, rng).items():
                kinds.setdefault(kind, set()).add(caption)
        if kinds:
            found[row["sample_id"]] = {k: sorted(v) for k, v in kinds.items()}
    return found


class HostWithNegatives(BackboneOnly):
    """The host trained alone, NegCLIP-style: its InfoNCE plus video->text InfoNCE whose candidates are the batch's
    captions and one caption negative per caption (of a kind drawn among those it has), as Finsta's hard-negative term:
        L = InfoNCE(v, t) + CE(softmax(cos(v_i, [t; n]) / tau), i)
    The same module and parameter names as BackboneOnly (its forward is the backbone path), so checkpoints and
    per-group learning rates carry over."""

    def __init__(self, backbone: nn.Module, dim: int, temperature: float,
                 negatives: dict[str, dict[str, list[str]]], seed: int = 0):
        super().__init__(backbone, dim, temperature)
        self.negatives = negatives
        self.rng = random.Random(seed)

    @classmethod
    def around(cls, host: BackboneOnly, negatives: dict[str, dict[str, list[str]]], seed: int = 0):
        """A HostWithNegatives holding `host`'s modules (its weights, shared)."""
        model = cls(host.backbone, host.video_head.out_features, host.temperature, negatives, seed)
        model.video_head, model.text_head = host.video_head, host.text_head
        return model

    def compute_losses(self, text, video) -> dict:
        out = self(text, video)
        terms = {"backbone_nce": losses.info_nce(out.backbone_video, out.backbone_text, self.temperature)}
        drawn = [self.rng.choice(self.negatives[s][self.rng.choice(sorted(self.negatives[s]))])
                 for s in text.sample_id if s in self.negatives]
        if drawn:
            embed = self.text_head(self.backbone.encode_text(drawn).pooled)
            terms["hard_negatives"] = losses.hard_negative_nce(out.backbone_video, out.backbone_text, embed,
                                                               self.temperature)
        terms["loss"] = sum(terms.values())
        return terms


def serialise_dsg(graph) -> str:
    """A VideoGraph's labels as text: its distinct detections ("golden ball"), then its distinct relations
    ("golden ball beneath maroon asterisk", "golden ball goes down"), in order of appearance, joined by '; '."""
    names = graph.object_text
    parts = list(dict.fromkeys(names))
    source, target = graph.edge_index.tolist()
    parts += [f"{names[s]} {p} {names[t]}" for s, t, p in zip(source, target, graph.edge_predicate)]
    parts += [f"{names[s]} {p}" for s, p in zip(graph.unary_index.tolist(), graph.unary_predicate)]
    return "; ".join(dict.fromkeys(parts))


class DsgTextMatcher(nn.Module):
    """No learning: cos(text tower(caption), text tower(serialise_dsg(clip))) through a backbone's text tower, as the
    backbone path (BackboneOutput), so retrieval and score_pairs score it like any model."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.encoded: dict[str, torch.Tensor] = {}  # the tower is frozen: a clip's text is encoded once

    @torch.no_grad()
    def forward(self, text, video) -> BackboneOutput:
        clips = [serialise_dsg(g) for g in video.to_data_list()]
        new = sorted(set(clips) - set(self.encoded))
        if new:
            self.encoded.update(zip(new, self.backbone.encode_text(new).pooled))
        return BackboneOutput(backbone_video=torch.stack([self.encoded[c] for c in clips]),
                              backbone_text=self.backbone.encode_text(list(text.caption)).pooled)
