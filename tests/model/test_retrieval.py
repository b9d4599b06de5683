"""Retrieval R@K that counts right: items are clips (copies deduplicated), ties with wrong items and NaN are misses."""

import pytest
import torch

from model.backbones import build_backbone
from model.data import ShardStream, collate
from model.eval.retrieval import directions, recall_at_k, retrieval
from model.finsta import BackboneOnly, FinstaConfig

NAN = float("nan")


def test_a_caption_hits_any_copy_of_its_clip_and_ties_with_a_wrong_clip_count_against_it():
    # rows 0 and 1 show clip A (two captions of one segment), row 2 clip B; similarity [caption, row]
    similarity = torch.tensor([[0.9, 0.9, 0.1],    # caption 0 (A): both copies of A top, B low -> rank 1
                               [0.2, 0.2, 0.5],    # caption 1 (A): B above A -> rank 2
                               [0.3, 0.3, 0.3]])   # caption 2 (B): A ties B -> rank 2
    found = directions(similarity, ["A", "A", "B"], ks=(1, 2))
    assert found["t2v"] == pytest.approx({"R@1": 100 / 3, "R@2": 100.0})
    # clip A's hits are captions 0 and 1 (best 0.9 beats caption 2's 0.3); clip B's caption 2 (0.3) is beaten by 0.5
    assert found["v2t"] == pytest.approx({"R@1": 50.0, "R@2": 100.0})


def test_recall_at_k_with_the_default_diagonal_counts_ties_against_the_query():
    similarity = torch.tensor([[0.9, 0.1, 0.0], [0.5, 0.4, 0.0], [0.3, 0.3, 0.3]])
    assert recall_at_k(similarity, ks=(1, 2)) == pytest.approx({"R@1": 100 / 3, "R@2": 200 / 3})


def test_non_finite_scores_are_misses():
    assert recall_at_k(torch.full((3, 3), NAN), ks=(1, 3)) == {"R@1": 0.0, "R@3": 0.0}
    similarity = torch.tensor([[NAN, 0.1], [NAN, 0.5]])  # query 0: its clip NaN; query 1: a wrong clip NaN
    assert recall_at_k(similarity, ks=(1, 2)) == {"R@1": 0.0, "R@2": 50.0}
    assert recall_at_k(torch.tensor([[float("inf"), 0.0], [0.0, 1.0]]), ks=(1,)) == {"R@1": 50.0}


def test_a_query_without_a_relevant_item_is_an_error():
    with pytest.raises(ValueError, match="no relevant item"):
        recall_at_k(torch.zeros(2, 2), torch.tensor([[True, False], [False, False]]))


def test_retrieval_deduplicates_rows_of_the_same_clip(tiny_shards):
    torch.manual_seed(0)
    model = BackboneOnly(build_backbone("tiny", image_size=32), FinstaConfig(dim=32, temperature=0.07))
    pairs = list(ShardStream(tiny_shards, "val", image_size=32, num_frames=4))
    once = retrieval(model, [collate(pairs)], ks=(1,))["backbone"]
    twice = [collate(pairs + pairs)]
    deduplicated = retrieval(model, twice, ks=(1,), clips=list(range(len(pairs))) * 2)["backbone"]
    assert deduplicated == once
    # every row its own item: each caption ties with the other copy of its clip, so no query can rank first
    assert retrieval(model, twice, ks=(1,))["backbone"]["t2v"]["R@1"] == 0.0
