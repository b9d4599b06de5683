import pytest
import torch
from torch import nn

from model import structure
from model.backbones import build_backbone
from model.data import ShardStream, loader
from model.eval import retrieval as retrieval_module
from model.eval.retrieval import retrieval, score_pairs
from model.finsta import FinstaConfig, FinstaModel
from model.hsg import CoreferenceScorer
from model.structure import TextParts, VideoParts

E = torch.eye(4)


def subject_state(rows: torch.Tensor) -> torch.Tensor:
    """A stand-in video predicate head: [s, o, s - o] -> s (a relation reads its subject's state)."""
    return rows[:, :4]


def heads(use_cross_edges: bool = True) -> structure.Heads:
    """Coreference = cosine / 0.01 (CoreferenceScorer at reset): its softmax over orthogonal tracks is one-hot."""
    return structure.Heads(subject_state, CoreferenceScorer(4, temperature=0.01), use_cross_edges)


def clips(*tracks: torch.Tensor, edges=(), frames=None) -> VideoParts:
    """Clips whose track i has state tracks[c][i], one node per track; track i grounds phrase direction i.
    edges: DSG relations as (words, subject track, object track or -1), tracks numbered over all clips."""
    nodes = torch.cat(tracks)
    owner = torch.cat([torch.full((len(t),), c) for c, t in enumerate(tracks)])
    grounding = torch.cat([torch.eye(len(t), 4) for t in tracks])
    return VideoParts(pooled=torch.ones(len(tracks), 4), nodes=nodes, node_video=owner, grounding=grounding,
                      summary=nodes, track_video=owner,
                      edge_words=torch.stack([w for w, _, _ in edges]) if edges else torch.zeros(0, 4),
                      edge_subject=torch.tensor([s for _, s, _ in edges], dtype=torch.long),
                      edge_object=torch.tensor([o for _, _, o in edges], dtype=torch.long),
                      edge_frame=torch.tensor([float(f) for f in frames or [0] * len(edges)]))


def caption(objects: torch.Tensor, grounding: torch.Tensor, relations=None, subject=(), object_=(),
            relation_words=None, before=()) -> TextParts:
    relations = torch.zeros(0, 4) if relations is None else relations
    relation_words = torch.zeros_like(relations) if relation_words is None else relation_words
    return TextParts(pooled=torch.ones(1, 4), objects=objects, object_text=torch.zeros(len(objects), dtype=torch.long),
                     grounding=grounding, relations=relations, relation_words=relation_words,
                     relation_text=torch.zeros(len(relations), dtype=torch.long),
                     subject=torch.tensor(subject, dtype=torch.long), object=torch.tensor(object_, dtype=torch.long),
                     before_first=torch.tensor([a for a, _ in before], dtype=torch.long),
                     before_second=torch.tensor([b for _, b in before], dtype=torch.long),
                     before_text=torch.zeros(len(before), dtype=torch.long))


def score(text: TextParts, videos: VideoParts, clip: int = 0, use_cross_edges: bool = True) -> float:
    index = torch.tensor([0])
    return structure.pair_scores(text, videos, index, torch.tensor([clip]), heads(use_cross_edges)).item()


def test_object_term_rewards_the_caption_whose_objects_are_in_the_clip():
    video = clips(E[:2])
    assert score(caption(E[:2], torch.eye(2, 4)), video) == pytest.approx(1.0)
    assert score(caption(E[2:4], torch.eye(2, 4)), video) == pytest.approx(0.5)  # only the coarse term agrees


def test_predicate_term_reads_the_grounded_subject_track():
    video = clips(E[:2])
    # the relation's text predicate equals track 1's state; its subject phrase grounds to track 1 or to track 0
    right = caption(E[:2], torch.eye(2, 4), relations=E[1:2], subject=[1], object_=[-1])
    wrong = caption(E[:2], torch.eye(2, 4).flip(0), relations=E[1:2], subject=[1], object_=[-1])
    # terms: coarse 1, objects 1, predicate 1 or 0, DSG relation words 0 (the clip has no DSG relations)
    assert score(right, video) == pytest.approx(3 / 4)
    assert score(wrong, video) == pytest.approx(2 / 4)
    # without cross edges a relation sees the clip's mean track: grounding no longer matters
    assert score(right, video, use_cross_edges=False) == score(wrong, video, use_cross_edges=False)


def test_relation_words_meet_the_dsg_relations_of_the_grounded_tracks():
    # track 1 "moves up" (words E[3]) and is "left of" track 0 (words E[2])
    video = clips(E[:2], edges=[(E[3], 1, -1), (E[2], 1, 0)])
    unary = dict(relations=E[1:2], subject=[1], object_=[-1])
    assert score(caption(E[:2], torch.eye(2, 4), relation_words=E[3:4], **unary), video) == pytest.approx(1.0)
    assert score(caption(E[:2], torch.eye(2, 4), relation_words=E[0:1], **unary), video) == pytest.approx(3 / 4)
    binary = dict(relations=E[1:2], subject=[1], object_=[0])
    # "left of" the grounded object: found among track 1's relations towards track 0 (and its unary ones)
    assert score(caption(E[:2], torch.eye(2, 4), relation_words=E[2:3], **binary), video) == pytest.approx(1.0)
    # ... but not among the relations of track 1 towards another object (here: itself)
    other = dict(relations=E[1:2], subject=[1], object_=[1])
    assert score(caption(E[:2], torch.eye(2, 4), relation_words=E[2:3], **other), video) == pytest.approx(3 / 4)
    # the subject grounded to track 0, which has no DSG relation: the words term is 0
    flipped = caption(E[:2], torch.eye(2, 4).flip(0), relation_words=E[3:4], **unary)
    assert score(flipped, video) == pytest.approx((1 + 1 + 0 + 0) / 4)


def test_order_term_compares_before_edges_with_when_the_dsg_relations_happen():
    # track 0 "moves up" (E[2]) on keyframe 1, track 1 "moves down" (E[3]) on keyframe 4
    video = clips(E[:2], edges=[(E[2], 0, -1), (E[3], 1, -1)], frames=[1, 4])
    events = dict(relations=torch.stack([E[0], E[1]]), subject=[0, 1], object_=[-1, -1],
                  relation_words=torch.stack([E[2], E[3]]))
    in_order = score(caption(E[:2], torch.eye(2, 4), before=[(0, 1)], **events), video)
    reversed_ = score(caption(E[:2], torch.eye(2, 4), before=[(1, 0)], **events), video)
    tanh3 = torch.tanh(torch.tensor(3.0)).item()
    assert in_order == pytest.approx((4 + tanh3) / 5) and reversed_ == pytest.approx((4 - tanh3) / 5)


def test_pairs_only_see_their_own_clip():
    videos = clips(E[:2], E[2:4])
    text = caption(E[2:4], torch.eye(2, 4))
    assert score(text, videos, clip=1) == pytest.approx(1.0) and score(text, videos, clip=0) == pytest.approx(0.5)


def test_score_matrix_and_hard_negative_loss():
    videos = clips(E[:2], E[2:4])
    texts = structure.concat_texts([caption(E[:2], torch.eye(2, 4)), caption(E[2:4], torch.eye(2, 4))])
    matrix = structure.score_matrix(texts, videos, heads(), budget=5)  # pairs scored 1 at a time
    assert matrix.flatten().tolist() == pytest.approx([1.0, 0.5, 0.5, 1.0])
    swapped = structure.concat_texts([caption(E[2:4], torch.eye(2, 4)), caption(E[:2], torch.eye(2, 4))])
    same = texts
    of = torch.tensor([0, 1])
    easy = structure.hard_negative_loss(texts, swapped, of, videos, heads(), 0.1)
    hard = structure.hard_negative_loss(texts, same, of, videos, heads(), 0.1)
    assert hard.item() == pytest.approx(torch.log(torch.tensor(2.0)).item()) and easy < hard
    # a clip without negatives is left out of the mean
    only_first = structure.hard_negative_loss(texts, caption(E[2:4], torch.eye(2, 4)), torch.tensor([0]), videos,
                                              heads(), 0.1)
    assert only_first.item() == pytest.approx(easy.item())


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return FinstaModel(build_backbone("tiny", image_size=32), FinstaConfig(dim=32, num_layers=1))


def test_model_trains_and_reports_the_structure_path(model, tiny_shards):
    batch = next(iter(loader(ShardStream(tiny_shards, "train", image_size=32, num_frames=4), batch_size=8)))
    terms = model.compute_losses(*batch)
    assert "structure_negatives" in terms and torch.isfinite(terms["structure_negatives"])
    model.zero_grad()
    terms["structure_negatives"].backward()
    for part in (model.gtrm, model.rgtrm, model.video_predicate, model.text_predicate):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters()), part

    stream = ShardStream(tiny_shards, "val", image_size=32, num_frames=4)
    results = retrieval(model, loader(stream, batch_size=3))
    assert set(results) == {"num_pairs", "backbone", "graph", "structure"}
    pairs = list(stream)
    scores = score_pairs(model, [(pairs[0][0], pairs[1][1]), (pairs[0][0], pairs[0][1])])
    assert scores["structure"].shape == (2,) and scores["structure"].abs().max() <= 1.0 + 1e-6
    # a pair scored alone agrees with its entry of the all-against-all matrix
    alone = score_pairs(model, [(pairs[1][0], pairs[2][1])])["structure"]
    with torch.no_grad():
        t, v = next(iter(loader(stream, batch_size=4)))
        matrix = model.structure_scores(*model.structure_parts(t, v, model(t, v)))
    assert matrix.shape == (4, 4) and matrix[1, 2].item() == pytest.approx(alone.item(), abs=1e-5)


def test_backbone_only_has_no_structure_path(tiny_shards):
    from model.finsta import BackboneOnly

    base = BackboneOnly(build_backbone("tiny", image_size=32), FinstaConfig(dim=32))
    results = retrieval(base, loader(ShardStream(tiny_shards, "val", image_size=32, num_frames=4), batch_size=4))
    assert "structure" not in results and isinstance(base, nn.Module)


def test_rerank_puts_the_rescored_top_k_first():
    similarity = torch.tensor([[0.9, 0.5, 0.1], [0.2, 0.3, 0.8]])
    rescored = structure.rerank(similarity, lambda q, i: torch.where(i == 1, 0.5, -0.5), k=2)
    # query 0: items 0 and 1 rescored, item 1 now first; item 2 (not in the top 2) stays below both
    assert rescored[0].argsort(descending=True).tolist() == [1, 0, 2]
    assert rescored[1].argsort(descending=True).tolist() == [1, 2, 0]


def test_above_the_pair_limit_the_structure_path_reranks_the_graph_path(model, tiny_shards, monkeypatch, capsys):
    batches = list(loader(ShardStream(tiny_shards, "val", image_size=32, num_frames=4), batch_size=4))
    every_pair = retrieval(model, batches)["structure"]
    monkeypatch.setattr(retrieval_module, "MAX_STRUCTURE_PAIRS", 15)  # 4 val captions x 4 clips = 16 pairs
    monkeypatch.setattr(retrieval_module, "RERANK_TOP_K", 4)  # the top 4 of 4: re-ranking must equal scoring every pair
    assert retrieval(model, batches)["structure"] == every_pair
    assert "the graph path's top 4 re-ranked" in capsys.readouterr().out
    monkeypatch.setattr(retrieval_module, "RERANK_TOP_K", 1)
    top1 = retrieval(model, batches)
    assert top1["structure"]["t2v"]["R@1"] == top1["graph"]["t2v"]["R@1"]  # re-ranking one item changes no order
