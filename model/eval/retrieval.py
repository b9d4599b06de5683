"""Retrieval evaluation: text->video and video->text R@K on every path, and scores of arbitrary (clip, caption) pairs.

`score_pairs` takes any list of (TextGraph, VideoGraph) pairs, so a compositional benchmark can score one clip
against its caption and its hard-negative captions (TSGs of the negatives) with the same model.
Paths: `backbone` and `graph` compare pooled embeddings; `structure` (FinstaModel only) scores every caption
against every clip part by part (model/structure.py).

Items are clips, not rows: rows that show the same clip (several captions of one video segment, as MSR-VTT's 20 per
video) are one item. Text->video: a caption's hit is its own clip. Video->text: a clip's hit is any of its captions.
"""

from collections.abc import Hashable, Sequence

import torch

from model import structure
from model.data import collate

POOLED_PATHS = ("backbone", "graph")  # BackboneOutput.paths / FinstaOutput.paths
STRUCTURE = "structure"
MAX_STRUCTURE_PAIRS = 4_000_000  # every pair scored up to a 2k x 2k retrieval; beyond, the graph path's top k
RERANK_TOP_K = 50


def recall_at_k(similarity: torch.Tensor, relevant: torch.Tensor | None = None, ks=(1, 5, 10)) -> dict:
    """similarity [Q queries, I items], relevant [Q, I] bool (default: the diagonal) -> {"R@k": percent of queries}.

    rank = 1 + the number of wrong items scoring >= the best correct item, so a tie with a wrong item counts against
    the query, and copies of the correct item never do. A query whose best correct score is not finite is a miss, and
    a wrong item scoring NaN counts as ranked above the correct one (a diverged model scores 0, not 100).
    """
    if relevant is None:
        relevant = torch.eye(*similarity.shape, dtype=torch.bool, device=similarity.device)
    if relevant.shape != similarity.shape:
        raise ValueError(f"relevant has shape {tuple(relevant.shape)}, similarity {tuple(similarity.shape)}; "
                         "expected one flag per (query, item).")
    if not relevant.any(dim=1).all():
        raise ValueError("a query has no relevant item; every caption needs its clip among the items.")
    similarity = similarity.double()
    best = torch.where(relevant & ~similarity.isnan(), similarity, float("-inf")).max(dim=1).values
    wrong = ~relevant & ((similarity >= best.unsqueeze(1)) | similarity.isnan())
    rank = 1 + wrong.sum(dim=1)
    hit = best.isfinite()
    return {f"R@{k}": 100.0 * (hit & (rank <= k)).double().mean().item() for k in ks}


def clip_items(clips: Sequence[Hashable]) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows -> distinct clips: (the first row of each distinct clip [I], relevant [rows, I]: row r shows item i)."""
    first: dict[Hashable, int] = {}
    for row, clip in enumerate(clips):
        first.setdefault(clip, row)
    index = {clip: i for i, clip in enumerate(first)}
    owner = torch.tensor([index[c] for c in clips], dtype=torch.long)
    relevant = owner.unsqueeze(1) == torch.arange(len(first)).unsqueeze(0)
    return torch.tensor(list(first.values()), dtype=torch.long), relevant


def directions(t2v: torch.Tensor, clips: Sequence[Hashable], ks, v2t: torch.Tensor | None = None) -> dict:
    """{"t2v": R@k, "v2t": R@k} from t2v [captions, rows] (and v2t [rows, captions], default t2v^T) where row j shows
    clip clips[j] and caption i belongs to clips[i]: the rows are deduplicated to distinct clips first."""
    first, relevant = clip_items(clips)
    v2t = t2v.t() if v2t is None else v2t
    return {"t2v": recall_at_k(t2v[:, first], relevant, ks), "v2t": recall_at_k(v2t[first], relevant.t(), ks)}


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


def retrieval(model, batches, device="cpu", ks=(1, 5, 10), clips: Sequence[Hashable] | None = None) -> dict:
    """{"backbone": {"t2v": {"R@1": ..}, "v2t": {..}}, "graph": ..., "structure": ..., "num_pairs": N} over all pairs
    of `batches`. clips[i] names the clip of row i (e.g. (video_id, start, end)): rows naming the same clip are one
    item; default: every row its own clip."""
    embeddings, texts, videos = encode_all(model, batches, device)
    num_pairs = len(next(iter(embeddings.values()))[0]) if embeddings else 0
    results = {"num_pairs": num_pairs}
    clips = list(range(num_pairs)) if clips is None else list(clips)
    if len(clips) != num_pairs:
        raise ValueError(f"{len(clips)} clip keys for {num_pairs} pairs; expected one per (caption, clip) row.")
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
                results[STRUCTURE] = directions(t2v.cpu(), clips, ks, v2t.cpu())
    for path, similarity in similarities.items():
        results[path] = directions(similarity, clips, ks)
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
