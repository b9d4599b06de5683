"""Retrieval evaluation: text->video and video->text R@K on both paths, and scores of arbitrary (clip, caption) pairs.

`score_pairs` takes any list of (TextGraph, VideoGraph) pairs, so a compositional benchmark can score one clip
against its caption and its hard-negative captions (TSGs of the negatives) with the same model.
"""

import torch

from model.data import collate
from model.finsta import embed

PATHS = {"backbone": ("backbone_video", "backbone_text"), "graph": ("graph_video", "graph_text")}


def recall_at_k(similarity: torch.Tensor, ks=(1, 5, 10)) -> dict:
    """similarity [N queries, N items] with the match of query i at item i -> {"R@k": percent}.

    Ties count against the query (an item scoring equal to the match ranks before it)."""
    target = similarity.diagonal().unsqueeze(1)
    rank = (similarity >= target).sum(dim=1) - 1
    return {f"R@{k}": 100.0 * (rank < k).float().mean().item() for k in ks}


@torch.no_grad()
def embed_all(model, batches, device="cpu") -> dict:
    """Concatenated normalised embeddings of every batch (a loader of (text Batch, video Batch))."""
    model.eval()
    parts: dict[str, list[torch.Tensor]] = {}
    for text, video in batches:
        for key, value in embed(model, text.to(device), video.to(device)).items():
            parts.setdefault(key, []).append(value.cpu())
    return {k: torch.cat(v) for k, v in parts.items()}


def retrieval(model, batches, device="cpu", ks=(1, 5, 10)) -> dict:
    """{"backbone": {"t2v": {"R@1": ..}, "v2t": {..}}, "graph": {...}, "num_pairs": N} over all pairs of `batches`."""
    embeddings = embed_all(model, batches, device)
    results = {"num_pairs": len(next(iter(embeddings.values()))) if embeddings else 0}
    for path, (video_key, text_key) in PATHS.items():
        if video_key not in embeddings:
            continue
        similarity = embeddings[text_key] @ embeddings[video_key].t()
        results[path] = {"t2v": recall_at_k(similarity, ks), "v2t": recall_at_k(similarity.t(), ks)}
    return results


@torch.no_grad()
def score_pairs(model, pairs: list, batch_size: int = 32, device="cpu") -> dict:
    """Cosine similarity of each (TextGraph, VideoGraph) pair on each path -> {"backbone": [N], "graph": [N]}."""
    model.eval()
    scores: dict[str, list[torch.Tensor]] = {}
    for start in range(0, len(pairs), batch_size):
        text, video = collate(pairs[start:start + batch_size])
        embeddings = embed(model, text.to(device), video.to(device))
        for path, (video_key, text_key) in PATHS.items():
            if video_key in embeddings:
                score = (embeddings[video_key] * embeddings[text_key]).sum(-1)
                scores.setdefault(path, []).append(score.cpu())
    return {k: torch.cat(v) for k, v in scores.items()}


def format_retrieval(results: dict) -> str:
    lines = [f"retrieval on {results['num_pairs']} pairs"]
    for path in PATHS:
        if path in results:
            for direction in ("t2v", "v2t"):
                recalls = "  ".join(f"{k} {v:5.1f}" for k, v in results[path][direction].items())
                lines.append(f"  {path:8s} {direction}  {recalls}")
    return "\n".join(lines)
