import math

import torch

from model.losses import (
    hard_negative_nce,
    info_nce,
    osc_loss,
    ptc_loss,
    retrieval_logits,
    similarity_distillation,
)


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


def test_hard_negative_nce_penalises_a_negative_close_to_the_video():
    video = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    far = hard_negative_nce(video, video, torch.tensor([[-1.0, 0.0]]), temperature=0.1)
    close = hard_negative_nce(video, video, torch.tensor([[1.0, 0.05]]), temperature=0.1)
    assert far.item() < 0.01 and close.item() > 0.3  # video 0 cannot tell its caption from the negative: ~log(2) / 2
    assert torch.isclose(far, info_nce(video, video, temperature=0.1), atol=1e-3)


def test_similarity_distillation_is_the_kl_from_teacher_to_student():
    student = torch.tensor([[0.0, 0.0]])
    teacher = torch.tensor([[math.log(3.0), 0.0]])  # p_T = (3/4, 1/4), p_S = (1/2, 1/2)
    expected = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    assert abs(similarity_distillation(student, teacher).item() - expected) < 1e-6
    assert similarity_distillation(teacher + 5.0, teacher).abs().item() < 1e-6  # softmax ignores a shift


def test_similarity_distillation_ignores_invalid_candidates_and_empty_rows():
    torch.manual_seed(0)
    student, teacher = torch.randn(3, 4), torch.randn(3, 4)
    valid = torch.tensor([[True, True, False, True], [True, False, True, True], [False] * 4])
    loss = similarity_distillation(student, teacher, valid)
    moved_student, moved_teacher = student.clone(), teacher.clone()
    moved_student[0, 2] += 7.0
    moved_teacher[1, 1] -= 7.0
    moved_student[2] += torch.randn(4)
    torch.testing.assert_close(similarity_distillation(moved_student, moved_teacher, valid), loss)
    assert torch.isfinite(loss) and loss.item() > 0


def test_similarity_distillation_trains_the_host_and_never_the_teacher():
    torch.manual_seed(0)
    clip_features, caption_features = torch.randn(4, 6), torch.randn(6, 6)  # 4 captions + 2 hard negatives
    video_head, text_head = torch.nn.Linear(6, 8), torch.nn.Linear(6, 8)
    teacher_head = torch.nn.Linear(6, 8)
    teacher = retrieval_logits(teacher_head(clip_features), teacher_head(caption_features[:4]),
                               teacher_head(caption_features[4:]), temperature=0.1)
    optimiser = torch.optim.Adam([*video_head.parameters(), *text_head.parameters()], lr=0.05)

    def kl():
        text = text_head(caption_features)
        return similarity_distillation(retrieval_logits(video_head(clip_features), text[:4], text[4:], 0.1), teacher)

    before = kl()
    before.backward()
    assert video_head.weight.grad.abs().sum() > 0 and text_head.weight.grad.abs().sum() > 0
    assert teacher_head.weight.grad is None
    for _ in range(20):
        optimiser.zero_grad()
        loss = kl()
        loss.backward()
        optimiser.step()
    assert kl().item() < 0.5 * before.item()
    assert teacher_head.weight.grad is None


def test_retrieval_logits_put_negatives_after_the_batch():
    video, text, negatives = torch.eye(2), torch.eye(2), torch.tensor([[1.0, 1.0]])
    logits = retrieval_logits(video, text, negatives, temperature=1.0)
    torch.testing.assert_close(logits, torch.tensor([[1.0, 0.0, 2**-0.5], [0.0, 1.0, 2**-0.5]]))
