"""Retrieval evaluation: text->video and video->text R@K on both paths, and scores of arbitrary (clip, caption) pairs.

`score_pairs` takes any list of (TextGraph, VideoGraph) pairs, so a compositional benchmark can score one clip
against its caption and its hard-negative captions (TSGs of the negatives) with the same model.
Paths: `backbone` and `graph` compare pooled embeddings; `structure` (FinstaModel only) scores every caption
against every clip part by part (model/structure.py).
"""

import torch

from model import structure
from model.data import collate

POOLED_PATHS = ("backbone", "graph")  # BackboneOutput.paths / FinstaOutput.paths
STRUCTURE = "structure"
MAX_STRUCTURE_PAIRS = 4_000_000  # every pair scored up to a 2k x 2k retrieval; beyond, the graph path's top k
RERANK_TOP_K = 50


def recall_at_k(similarity: torch.Tensor, ks=(1, 5, 10)) -> dict:
    """similarity [N queries, N items] with the match of query i at item i -> {"R@k": percent}.

    Ties count against the query (an item scoring equal to the match ranks before it)."""
    target = similarity.diagonal().unsqueeze(1)
    rank = (similarity >= target).sum(dim=1) - 1
    return {f"R@{k}": 100.0 * (rank < k).float().mean().item() for k in ks}


@torch.no_grad()
def encode_all(model, batches, device="cpu") -> tuple[dict, list, list]:
    """Concatenated normalised pooled (video, text) embeddings per path of every batch (a loader of (text Batch,
    video Batch)), and for a FinstaModel the structure parts of each batch's captions and clips (else two empty
    lists)."""
    model.eval()
    parts: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {}
    texts, videos = [], []
    for text, video in batches:
        text, video = text.to(device), video.to(device)
        out = model(text, video)
        for path, (video_embed, text_embed) in out.paths().items():
            parts.setdefault(path, []).append((video_embed.cpu(), text_embed.cpu()))
        if hasattr(model, "structure_parts"):
            t, v = model.structure_parts(text, video, out)
            texts.append(t)
            videos.append(v)
    embeddings = {path: (torch.cat([v for v, _ in pairs]), torch.cat([t for _, t in pairs]))
                  for path, pairs in parts.items()}
    return embeddings, texts, videos


def retrieval(model, batches, device="cpu", ks=(1, 5, 10)) -> dict:
    """{"backbone": {"t2v": {"R@1": ..}, "v2t": {..}}, "graph": ..., "structure": ..., "num_pairs": N} over all pairs
    of `batches`."""
    embeddings, texts, videos = encode_all(model, batches, device)
    results = {"num_pairs": len(next(iter(embeddings.values()))[0]) if embeddings else 0}
    similarities = {path: text_embed @ video_embed.t() for path, (video_embed, text_embed) in embeddings.items()}
    if texts:
        texts, videos = structure.concat_texts(texts), structure.concat_videos(videos)
        with torch.no_grad():
            if len(texts) * len(videos) <= MAX_STRUCTURE_PAIRS:
                similarities[STRUCTURE] = model.structure_scores(texts, videos).cpu()
            else:
                # Too many pairs to score each part by part: the structure path re-ranks the graph path's top k.
                print(f"retrieval: structure path = the graph path's top {RERANK_TOP_K} re-ranked part by part "
                      f"({len(texts) * len(videos):,} pairs are more than {MAX_STRUCTURE_PAIRS:,})", flush=True)
                graph = similarities["graph"].to(texts.pooled.device)
                t2v = structure.rerank(graph, lambda t, v: model.structure_scores(texts, videos, t, v),
                                       RERANK_TOP_K)
                v2t = structure.rerank(graph.t(), lambda v, t: model.structure_scores(texts, videos, t, v),
                                       RERANK_TOP_K)
                results[STRUCTURE] = {"t2v": recall_at_k(t2v.cpu(), ks), "v2t": recall_at_k(v2t.cpu(), ks)}
    for path, similarity in similarities.items():
        results[path] = {"t2v": recall_at_k(similarity, ks), "v2t": recall_at_k(similarity.t(), ks)}
    return results


@torch.no_grad()
def score_pairs(model, pairs: list, batch_size: int = 32, device="cpu") -> dict:
    """Score of each (TextGraph, VideoGraph) pair on each path -> {"backbone": [N], "graph": [N], "structure": [N]}."""
    model.eval()
    scores: dict[str, list[torch.Tensor]] = {}
    for start in range(0, len(pairs), batch_size):
        text, video = collate(pairs[start:start + batch_size])
        text, video = text.to(device), video.to(device)
        out = model(text, video)
        for path, (video_embed, text_embed) in out.paths().items():
            scores.setdefault(path, []).append((video_embed * text_embed).sum(-1).cpu())
        if hasattr(model, "structure_parts"):
            aligned = torch.arange(text.num_graphs, device=text.batch.device)
            score = model.structure_scores(*model.structure_parts(text, video, out), aligned, aligned)
            scores.setdefault(STRUCTURE, []).append(score.cpu())
    return {k: torch.cat(v) for k, v in scores.items()}


def format_retrieval(results: dict) -> str:
    lines = [f"retrieval on {results['num_pairs']} pairs"]
    for path in (*POOLED_PATHS, STRUCTURE):
        if path in results:
            for direction in ("t2v", "v2t"):
                recalls = "  ".join(f"{k} {v:5.1f}" for k, v in results[path][direction].items())
                lines.append(f"  {path:8s} {direction}  {recalls}")
    return "\n".join(lines)
