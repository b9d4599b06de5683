"""The benchmark's controls, the rows Finsta has to beat without being Finsta:

  host+negatives    the host trained alone with NegCLIP-style hard negatives: BackboneOnly with use_hard_negatives,
                    whose negatives are the same structure-swapped captions Finsta sees (model/negatives.py
                    batch_negatives, their rewritten caption texts), one more text candidate of each clip
  dsg-text-matcher  no learning: the DSG written out as text ("golden ball; golden ball goes down; ...") against the
                    caption, both through the same frozen text tower
  dsg-text-trained  the same DSG text and captions, learnt: the host's text tower and heads trained from the host
                    checkpoint with its InfoNCE and the same hard-negative captions, for the same steps (a trained
                    string matcher: what the graphs' labels give without Finsta's graph machinery)
"""

import re

import torch
from torch import nn

from model.finsta import BackboneOnly, BackboneOutput

TOKEN = re.compile(r"\w+|[^\w\s]")
NEGATIVE_VARIANTS = 4  # edits drawn per caption and kind (the trainer picks one per caption and step)


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


class DsgTextLearner(BackboneOnly):
    """A trained string matcher: video_head(text tower(serialise_dsg(clip))) vs text_head(text tower(caption)), trained
    as the host is (BackboneOnly's losses: InfoNCE, and with config.use_hard_negatives the rewritten negative captions
    Finsta sees). Its modules and names are the host's, so the host checkpoint loads into it; the video tower is never
    used."""

    def forward(self, text, video) -> BackboneOutput:
        clips = [serialise_dsg(g) for g in video.to_data_list()]
        return BackboneOutput(backbone_video=self.video_head(self.backbone.encode_text(clips).pooled),
                              backbone_text=self.text_head(self.backbone.encode_text(list(text.caption)).pooled))
