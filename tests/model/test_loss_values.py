"""Loss values by hand: info_nce and hard_negative_nce on 2-d vectors, and each ablation's effect on the total."""

import math

import pytest
import torch

from model.backbones import build_backbone
from model.data import ShardStream, loader
from model.finsta import FinstaConfig, FinstaModel
from model.losses import hard_negative_nce, info_nce

VIDEO = torch.tensor([[2.0, 0.0], [0.0, 3.0]])  # unit vectors once normalised: (1, 0), (0, 1)
TEXT = torch.tensor([[1.0, 0.0], [1.0, 1.0]])  # (1, 0), (1, 1) / sqrt 2


def softplus(x: float) -> float:
    return math.log(1 + math.exp(x))


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_info_nce_is_the_mean_of_both_directions_cross_entropies(temperature):
    # cosines: video 0 - text 0 1, video 0 - text 1 r, video 1 - text 0 0, video 1 - text 1 r (r = 1/sqrt 2);
    # CE(row with the positive a, the other b) = log(1 + exp((b - a) / tau)).
    r = 1 / math.sqrt(2)
    video_to_text = (softplus((r - 1) / temperature) + softplus((0 - r) / temperature)) / 2
    text_to_video = (softplus((0 - 1) / temperature) + softplus((r - r) / temperature)) / 2
    expected = (video_to_text + text_to_video) / 2
    assert info_nce(VIDEO, TEXT, temperature).item() == pytest.approx(expected, rel=1e-6)


def test_hard_negative_nce_adds_the_negatives_to_the_candidates():
    negatives = torch.tensor([[0.0, 1.0]])  # the same as video 1: a negative as close as its own caption
    r = 1 / math.sqrt(2)
    first = math.log(1 + math.exp(r - 1) + math.exp(0 - 1))  # video 0: positive 1, others r and 0
    second = math.log(1 + math.exp(0 - r) + math.exp(1 - r))  # video 1: positive r, others 0 and 1
    assert hard_negative_nce(VIDEO, TEXT, negatives, 1.0).item() == pytest.approx((first + second) / 2, rel=1e-6)


@pytest.fixture(scope="module")
def batch(tiny_shards):
    return next(iter(loader(ShardStream(tiny_shards, "train", image_size=32, num_frames=4), batch_size=8)))


def losses_of(batch, **flags) -> dict:
    torch.manual_seed(0)
    model = FinstaModel(build_backbone("tiny", image_size=32), FinstaConfig(dim=32, num_layers=1, **flags)).eval()
    torch.manual_seed(1)
    with torch.no_grad():
        return {k: v.item() for k, v in model.compute_losses(*batch).items()}


# coupled: terms that legitimately change with the flag (distillation's distributions span the hard negatives)
@pytest.mark.parametrize(("flag", "removed", "coupled"), [
    ("use_coarse", {"graph_nce"}, set()), ("use_osc", {"osc"}, set()), ("use_distill", {"distill"}, set()),
    ("use_hard_negatives", {"hard_negatives", "structure_negatives", "host_negatives"}, {"distill"})])
def test_an_ablated_loss_leaves_the_total_by_exactly_its_own_value(batch, flag, removed, coupled):
    full, ablated = losses_of(batch), losses_of(batch, **{flag: False})
    assert full["loss"] == pytest.approx(sum(v for k, v in full.items() if k != "loss"), rel=1e-6)
    assert set(full) - set(ablated) == removed
    for term, value in ablated.items():  # the same weights and batch: every other term is unchanged
        if term != "loss" and term not in coupled:
            assert value == pytest.approx(full[term], rel=1e-5), term
    assert ablated["loss"] == pytest.approx(sum(v for k, v in ablated.items() if k != "loss"), rel=1e-6)
    assert ablated["loss"] == pytest.approx(full["loss"] - sum(full[term] for term in removed | coupled)
                                            + sum(ablated[term] for term in coupled), rel=1e-5)
