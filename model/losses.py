"""Finsta's losses. Each takes plain tensors; FinstaModel switches them on and off (use_coarse, use_osc, ...)."""

import torch
import torch.nn.functional as F


def info_nce(video: torch.Tensor, text: torch.Tensor, temperature: float = 0.07) -> torch.Tensor:
    """Symmetric InfoNCE over a batch of pairs (row i of video with row i of text).

    s_ij = cos(v_i, t_j) / tau;   L = (CE(s, diag) + CE(s^T, diag)) / 2.   video, text [B, d] -> scalar
    """
    logits = F.normalize(video, dim=-1) @ F.normalize(text, dim=-1).t() / temperature
    target = torch.arange(logits.shape[0], device=logits.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target)) / 2


def retrieval_logits(video: torch.Tensor, text: torch.Tensor, negatives: torch.Tensor | None = None,
                     temperature: float = 0.07) -> torch.Tensor:
    """s_ij = cos(v_i, t_j) / tau over the candidates t = [text; negatives].
    video, text [B, d], negatives [M, d] -> [B, B + M]"""
    candidates = text if negatives is None else torch.cat([text, negatives])
    return F.normalize(video, dim=-1) @ F.normalize(candidates, dim=-1).t() / temperature


def hard_negative_nce(video: torch.Tensor, text: torch.Tensor, negatives: torch.Tensor,
                      temperature: float = 0.07) -> torch.Tensor:
    """Video -> text InfoNCE whose candidates are the batch's captions plus hard negatives (structure-swapped captions).

    s = retrieval_logits(video, text, negatives);   L = CE(s, diag).
    video, text [B, d], negatives [M, d] -> scalar
    """
    logits = retrieval_logits(video, text, negatives, temperature)
    return F.cross_entropy(logits, torch.arange(video.shape[0], device=video.device))


def osc_loss(text_objects: torch.Tensor, video_nodes: torch.Tensor, positive: torch.Tensor,
             temperature: float = 0.07) -> torch.Tensor:
    """Object-centred spatial contrasting: each text object node against every video node of the batch.

    L_t = -log( sum_{v in P(t)} exp(s_tv / tau) / sum_v exp(s_tv / tau) ),   s = cosine,
    P(t) = the video nodes coreferent with t (HSG edges), which belong to t's own clip; the other nodes, of its
    clip and of the other clips, are negatives. Rows with no positive are left out.
    text_objects [Nt, d], video_nodes [Nv, d], positive [Nt, Nv] bool -> scalar
    """
    has_positive = positive.any(dim=1)
    if not has_positive.any():
        return text_objects.sum() * 0.0
    logits = F.normalize(text_objects, dim=-1) @ F.normalize(video_nodes, dim=-1).t() / temperature
    logits, positive = logits[has_positive], positive[has_positive]
    positive_part = torch.logsumexp(logits.masked_fill(~positive, float("-inf")), dim=1)
    return (torch.logsumexp(logits, dim=1) - positive_part).mean()


def ptc_loss(text_predicates: torch.Tensor, video_predicates: torch.Tensor, hard_negatives: list[torch.Tensor],
             hard_valid: list[torch.Tensor], clip_of: torch.Tensor, temperature: float = 0.07,
             predicate_of: torch.Tensor | None = None) -> torch.Tensor:
    """Predicate-centred temporal contrasting.

    A text predicate node p (its GTrm state) is matched with the video predicate made from the temporal evolution of
    its coreferent subject and object tracks, v_p, against hard negatives built from the same clip (frame order
    shuffled; subject and object swapped) and the video predicates of other clips that say something else
    (same clip or same predicate word, `predicate_of`, would be false negatives):
        L_p = -log( exp(s(p, v_p)) / (exp(s(p, v_p)) + sum_h exp(s(p, h_p)) + sum_{q in N(p)} exp(s(p, v_q))) )
        N(p) = {q: clip(q) != clip(p) and word(q) != word(p)}
    text_predicates, video_predicates [R, d]; hard_negatives: list of [R, d] with hard_valid: list of [R] bool;
    clip_of [R], predicate_of [R] (ids of the predicate words) -> scalar
    """
    if text_predicates.shape[0] == 0:
        return text_predicates.sum() * 0.0
    text = F.normalize(text_predicates, dim=-1)
    positive = (text * F.normalize(video_predicates, dim=-1)).sum(-1, keepdim=True) / temperature
    columns = [positive]
    for negative, valid in zip(hard_negatives, hard_valid):
        score = (text * F.normalize(negative, dim=-1)).sum(-1, keepdim=True) / temperature
        columns.append(score.masked_fill(~valid.unsqueeze(1), float("-inf")))
    in_batch = text @ F.normalize(video_predicates, dim=-1).t() / temperature
    same = clip_of.unsqueeze(1) == clip_of.unsqueeze(0)
    if predicate_of is not None:
        same |= predicate_of.unsqueeze(1) == predicate_of.unsqueeze(0)
    columns.append(in_batch.masked_fill(same, float("-inf")))
    logits = torch.cat(columns, dim=1)
    return (torch.logsumexp(logits, dim=1) - positive.squeeze(1)).mean()


def similarity_distillation(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                            valid: torch.Tensor | None = None) -> torch.Tensor:
    """Pull the host's retrieval distribution toward the structure path's (the teacher, detached).

    For each query row i (a clip, or a caption) over its valid candidates j (the batch's captions and their hard
    negatives, or the batch's clips):
        p^T_i = softmax_j(teacher_ij),   p^S_i = softmax_j(student_ij)
        L = mean_i KL(p^T_i || p^S_i) = mean_i sum_j p^T_ij (log p^T_ij - log p^S_ij)
    Rows without a valid candidate are left out. The logits carry their own temperatures (host: cos / tau; teacher:
    structure score / tau_teacher).
    student_logits, teacher_logits [Q, C], valid [Q, C] bool -> scalar
    """
    if valid is None:
        valid = torch.ones_like(student_logits, dtype=torch.bool)
    rows = valid.any(dim=1)
    if not rows.any():
        return student_logits.sum() * 0.0
    student, teacher, valid = student_logits[rows], teacher_logits.detach()[rows], valid[rows]
    log_student = torch.log_softmax(student.masked_fill(~valid, float("-inf")), dim=1)
    log_teacher = torch.log_softmax(teacher.masked_fill(~valid, float("-inf")), dim=1)
    terms = torch.where(valid, log_teacher.exp() * (log_teacher - log_student), 0.0)
    return terms.sum(dim=1).mean()
