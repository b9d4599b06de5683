"""The holistic scene graph (HSG) of a (caption, clip) pair: TSG + DSG + cross-modal coreference edges.

A text object node ("red circle") refers to a video track: the coreference edges join it to every node of the k
tracks of its own clip whose grounding embedding is closest in cosine similarity,
    sim(t, g) = cos(e_t, mean_{v in track g} e_v),   edges t -> v for v in the top-k tracks g of t's clip,
where e are the backbone's text embeddings of the object phrase and of the detections' "attributes class" text.
The losses (OSC, PTC) read their positives off these edges.
"""

import torch
import torch.nn.functional as F
from torch_geometric.utils import scatter


def track_groups(graph_of: torch.Tensor, track: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Node -> id of its (graph, track) pair, numbered 0..G-1; returns (group [N], G)."""
    if graph_of.numel() == 0:
        return graph_of.clone(), 0
    key = graph_of * (int(track.max()) + 1) + track
    unique, group = torch.unique(key, return_inverse=True)
    return group, unique.numel()


def coreference(text_embed: torch.Tensor, text_graph_of: torch.Tensor, video_embed: torch.Tensor,
                video_group: torch.Tensor, group_graph_of: torch.Tensor, num_groups: int, k: int = 1):
    """Top-k tracks of the same clip for each text object node.

    text_embed [Nt, d], text_graph_of [Nt]; video_embed [Nv, d], video_group [Nv]; group_graph_of [G]
    -> (text_index [M], group_index [M], rank [M]) with rank 0 for each text node's best track.
    """
    empty = torch.zeros(0, dtype=torch.long, device=text_embed.device)
    if text_embed.shape[0] == 0 or num_groups == 0:
        return empty, empty, empty
    track_embed = scatter(video_embed, video_group, dim=0, dim_size=num_groups, reduce="mean")
    sim = F.normalize(text_embed, dim=-1) @ F.normalize(track_embed, dim=-1).t()
    sim = sim.masked_fill(text_graph_of.unsqueeze(1) != group_graph_of.unsqueeze(0), float("-inf"))
    values, groups = sim.topk(min(k, num_groups), dim=1)
    rank = torch.arange(groups.shape[1], device=groups.device).expand_as(groups)
    text_index = torch.arange(text_embed.shape[0], device=groups.device).unsqueeze(1).expand_as(groups)
    keep = torch.isfinite(values)
    return text_index[keep], groups[keep], rank[keep]


def coreference_edges(text_index: torch.Tensor, group_index: torch.Tensor, video_group: torch.Tensor) -> torch.Tensor:
    """Expand (text node, track) pairs to (text node, video node) edges [2, E] over every node of each track."""
    match = group_index.unsqueeze(1) == video_group.unsqueeze(0)
    pair, video_node = match.nonzero(as_tuple=True)
    return torch.stack([text_index[pair], video_node])

