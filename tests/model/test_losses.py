import math

import torch

from model.losses import distillation_loss, hard_negative_nce, info_nce, osc_loss, ptc_loss


def test_info_nce_prefers_aligned_pairs_and_has_gradients():
    torch.manual_seed(0)
    video = torch.randn(4, 8, requires_grad=True)
    aligned = info_nce(video, video.detach() + 0.01 * torch.randn(4, 8))
    shuffled = info_nce(video, video.detach()[[1, 2, 3, 0]])
    assert aligned.item() < 0.1 < math.log(4) < shuffled.item()
    shuffled.backward()
    assert video.grad.abs().sum() > 0


def test_osc_counts_only_coreferent_nodes_as_positives():
    text = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    video = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    positive = torch.tensor([[True, False, False], [False, True, False]])
    good = osc_loss(text, video, positive, temperature=0.1)
    wrong = osc_loss(text, video, positive[[1, 0]], temperature=0.1)
    assert good.item() < 0.01 and wrong.item() > 5.0


def test_osc_leaves_out_rows_without_positive():
    text = torch.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    video = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    positive = torch.tensor([[True, False], [False, False]])
    loss = osc_loss(text, video, positive, temperature=0.1)
    torch.testing.assert_close(loss, osc_loss(text[:1], video, positive[:1], temperature=0.1))
    loss.backward()
    assert text.grad[1].abs().sum() == 0
    empty = osc_loss(text, video, torch.zeros(2, 2, dtype=torch.bool))
    assert empty.item() == 0.0 and empty.requires_grad


def test_ptc_hard_negatives_and_masks():
    text = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    video = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    shuffled = torch.tensor([[0.9, 0.1], [0.0, 1.0]])  # a hard negative close to the positive
    clip_of = torch.tensor([0, 1])
    no_hard = ptc_loss(text, video, [], [], clip_of, temperature=0.1)
    with_hard = ptc_loss(text, video, [shuffled], [torch.tensor([True, False])], clip_of, temperature=0.1)
    masked = ptc_loss(text, video, [shuffled], [torch.tensor([False, False])], clip_of, temperature=0.1)
    assert with_hard.item() > no_hard.item() + 0.1
    torch.testing.assert_close(masked, no_hard)
    # Predicates of the same clip are not in-batch negatives of each other.
    same_clip = ptc_loss(text, video, [], [], torch.tensor([0, 0]), temperature=0.1)
    assert same_clip.item() < 1e-6


def test_ptc_gradients_reach_text_and_video():
    torch.manual_seed(0)
    text, video = torch.randn(3, 4, requires_grad=True), torch.randn(3, 4, requires_grad=True)
    ptc_loss(text, video, [torch.randn(3, 4)], [torch.ones(3, dtype=torch.bool)], torch.arange(3)).backward()
    assert text.grad.abs().sum() > 0 and video.grad.abs().sum() > 0


def test_distillation_moves_the_student_only():
    student = torch.tensor([[1.0, 0.0]], requires_grad=True)
    teacher = torch.tensor([[0.0, 1.0]], requires_grad=True)
    loss = distillation_loss(student, teacher)
    assert abs(loss.item() - 1.0) < 1e-6
    loss.backward()
    assert student.grad.abs().sum() > 0 and teacher.grad is None


def test_hard_negative_nce_penalises_a_negative_close_to_the_video():
    video = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    far = hard_negative_nce(video, video, torch.tensor([[-1.0, 0.0]]), temperature=0.1)
    close = hard_negative_nce(video, video, torch.tensor([[1.0, 0.05]]), temperature=0.1)
    assert far.item() < 0.01 and close.item() > 0.3  # video 0 cannot tell its caption from the negative: ~log(2) / 2
    assert torch.isclose(far, info_nce(video, video, temperature=0.1), atol=1e-3)
