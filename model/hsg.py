"""The holistic scene graph (HSG) of a (caption, clip) pair: TSG + DSG + cross-modal coreference edges.

A text object node ("red circle") refers to a video track: the coreference edges join it to every node of the k
tracks of its own clip whose grounding embedding is closest in cosine similarity,
    sim(t, g) = cos(e_t, mean_{v in track g} e_v),   edges t -> v for v in the top-k tracks g of t's clip,
where e are the backbone's text embeddings of the object phrase and of the detections' "attributes class" text.
The losses (OSC, PTC) read their positives off these edges.

HSGEncoder is the learned version: coreference scores from learned node features (CoreferenceScorer), and the HSG of
each (caption, clip) pair encoded by graph-Transformer layers whose cross-modal messages are weighted by them.
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import TransformerConv
from torch_geometric.utils import scatter, softmax

from model.graph_encoder import with_reverse_and_self_loops


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


def copies_per_pair(owner: torch.Tensor, num_owners: int, owner_of_pair: torch.Tensor):
    """Rows copied once per pair of their owner: for each pair p, in order, the rows r with owner[r] = owner_of_pair[p]
    in ascending order. owner [N], owner_of_pair [P] -> (pair [M], row [M], rank [N]) with rank[r] the place of r
    among its owner's rows, so pair p's copy of row r sits at (start of p's copies) + rank[r]."""
    order = torch.argsort(owner, stable=True)
    counts = torch.bincount(owner, minlength=num_owners)
    starts = counts.cumsum(0) - counts
    rank = torch.empty_like(owner)
    rank[order] = torch.arange(owner.shape[0], device=owner.device) - starts[owner[order]]
    per_pair = counts[owner_of_pair]
    pair = torch.repeat_interleave(torch.arange(owner_of_pair.shape[0], device=owner.device), per_pair)
    within = torch.arange(pair.shape[0], device=owner.device) - (per_pair.cumsum(0) - per_pair)[pair]
    return pair, order[starts[owner_of_pair[pair]] + within], rank


def count_of(index: torch.Tensor) -> int:
    return int(index.max()) + 1 if index.numel() else 0


def copy_starts(pair: torch.Tensor, num_pairs: int) -> torch.Tensor:
    counts = torch.bincount(pair, minlength=num_pairs)
    return counts.cumsum(0) - counts


class CoreferenceScorer(nn.Module):
    """Learned cross-modal coreference of text object nodes and video tracks.

        s_tg = cos(W_q h_t, W_k h_g) / tau,    h_g = mean_{v in track g} h_v
    for the (text object t, track g) candidates given (those of one pair). W_q = W_k = I at reset, so before training
    s is the cosine of the node states, which carry the projected word embeddings of the phrase and of the detection.
    text [C, dim], track [C, dim] (the two sides of each candidate) -> s [C]
    """

    def __init__(self, dim: int = 64, temperature: float = 0.1):
        super().__init__()
        self.temperature = temperature
        self.query = nn.Linear(dim, dim, bias=False)
        self.key = nn.Linear(dim, dim, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.eye_(self.query.weight)
        nn.init.eye_(self.key.weight)

    def forward(self, text: torch.Tensor, track: torch.Tensor) -> torch.Tensor:
        return F.cosine_similarity(self.query(text), self.key(track), dim=-1) / self.temperature

    def matrix(self, text: torch.Tensor, track: torch.Tensor) -> torch.Tensor:
        """s of every text row against every track row: text [R, dim], track [G, dim] -> [R, G]."""
        return F.normalize(self.query(text), dim=-1) @ F.normalize(self.key(track), dim=-1).t() / self.temperature


@dataclass
class HSGOutput:
    """The encoded HSGs of P pairs. Rows are copies of input nodes, grouped by pair in pair order; for pairs
    (i, i) of a matched batch, text and video rows are the input nodes in their own order."""
    text: torch.Tensor          # [Nt', dim] text node states
    text_node: torch.Tensor     # [Nt'] the input text node each row copies
    text_pair: torch.Tensor     # [Nt']
    video: torch.Tensor         # [Nv', dim] video node states
    video_node: torch.Tensor    # [Nv']
    video_pair: torch.Tensor    # [Nv']
    video_track: torch.Tensor   # [Nv'] row of `track` of each video row
    track: torch.Tensor         # [G', dim] mean video state per (pair, track)
    track_group: torch.Tensor   # [G'] the input track (hsg.track_groups id)
    track_pair: torch.Tensor    # [G']
    cross_text: torch.Tensor    # [C] text row of each coreference candidate (a text object node)
    cross_track: torch.Tensor   # [C] its track row, of the same pair
    scores: torch.Tensor        # [C] coreference logits s_tg (differentiable)
    weights: torch.Tensor       # [C] a_tg = softmax of s over each text row's candidates

    def top_k(self, k: int = 1):
        """The k best tracks of each text object row -> (text row [M], track row [M], rank [M]), rank 0 the best."""
        if self.scores.numel() == 0:
            return self.cross_text, self.cross_track, self.cross_text
        order = torch.argsort(self.scores.detach(), descending=True, stable=True)
        order = order[torch.argsort(self.cross_text[order], stable=True)]
        rank = torch.arange(order.shape[0], device=order.device) - copy_starts(
            self.cross_text[order], self.text.shape[0])[self.cross_text[order]]
        keep = rank < k
        return self.cross_text[order][keep], self.cross_track[order][keep], rank[keep]


class HSGEncoder(nn.Module):
    """Encodes the holistic scene graph of each (caption, clip) pair: TSG nodes, DSG nodes, coreference edges.

    For pair p = (caption i, clip j), the union graph holds copies of caption i's nodes and clip j's nodes. The
    coreference candidates join each text object node t to every track g of clip j, scored by CoreferenceScorer on the
    input states: a_tg = softmax_g(s_tg). Per layer, with h_g = mean_{v in g} LN(h)_v:
        h   = h + TransformerConv(LN(h), E)        E: TSG edges (kind embeddings), DSG relations (predicate features),
                                                   temporal links (E_link), all both ways (E_reverse), self loops
        h_t = h_t + W_tv sum_g a_tg h_g                             text object t hears what it refers to
        h_v = h_v + W_vt sum_t a_{t g(v)} LN(h)_t                   video node v hears the text that refers to its track
        h   = h + FFN(LN(h))
    then LN. With num_layers = 0 (the -HSG encoding ablation) the states are the inputs, the scores still computed.
    text_x [Nt, dim], text_edge_index [2, Et], text_edge_kind [Et], text_graph_of [Nt], is_object [Nt] bool;
    video_x [Nv, dim], video_edge_index [2, Ev], video_edge_attr [Ev, dim], link_index [2, L], video_graph_of [Nv],
    group [Nv] (track_groups), group_graph_of [G]; pair_text, pair_video [P] (default: pair i = (caption i, clip i))
    -> HSGOutput
    """

    def __init__(self, dim: int = 64, num_edge_kinds: int = 6, num_layers: int = 1, num_heads: int = 4,
                 coreference_temperature: float = 0.1):
        super().__init__()
        self.coreference = CoreferenceScorer(dim, coreference_temperature)
        self.edge_kind = nn.Embedding(num_edge_kinds, dim)
        self.edge_roles = nn.Embedding(3, dim)  # reverse, self, temporal link
        self.norm_attention = nn.ModuleList(nn.LayerNorm(dim) for _ in range(num_layers))
        self.attention = nn.ModuleList(TransformerConv(dim, dim // num_heads, heads=num_heads, edge_dim=dim)
                                       for _ in range(num_layers))
        # No biases: a node nothing refers to (or that refers to nothing) hears nothing.
        self.text_from_video = nn.ModuleList(nn.Linear(dim, dim, bias=False) for _ in range(num_layers))
        self.video_from_text = nn.ModuleList(nn.Linear(dim, dim, bias=False) for _ in range(num_layers))
        self.norm_ffn = nn.ModuleList(nn.LayerNorm(dim) for _ in range(num_layers))
        self.ffn = nn.ModuleList(nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
                                 for _ in range(num_layers))
        self.norm = nn.LayerNorm(dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.coreference.reset_parameters()
        nn.init.normal_(self.edge_kind.weight, std=0.02)
        nn.init.normal_(self.edge_roles.weight, std=0.02)
        for layers in (self.norm_attention, self.attention, self.text_from_video, self.video_from_text,
                       self.norm_ffn):
            for layer in layers:
                layer.reset_parameters()
        for ffn in self.ffn:
            ffn[0].reset_parameters()
            ffn[2].reset_parameters()
        self.norm.reset_parameters()

    def forward(self, text_x, text_edge_index, text_edge_kind, text_graph_of, is_object, video_x, video_edge_index,
                video_edge_attr, link_index, video_graph_of, group, group_graph_of, pair_text=None,
                pair_video=None) -> HSGOutput:
        num_graphs = max(count_of(text_graph_of), count_of(video_graph_of), count_of(group_graph_of))
        if pair_text is None:
            pair_text = pair_video = torch.arange(num_graphs, device=text_x.device)
        num_pairs = pair_text.shape[0]
        text_pair, text_node, text_rank = copies_per_pair(text_graph_of, num_graphs, pair_text)
        video_pair, video_node, video_rank = copies_per_pair(video_graph_of, num_graphs, pair_video)
        track_pair, track_group, track_rank = copies_per_pair(group_graph_of, num_graphs, pair_video)
        text_start, video_start = copy_starts(text_pair, num_pairs), copy_starts(video_pair, num_pairs)
        track_start = copy_starts(track_pair, num_pairs)
        video_track = track_start[video_pair] + track_rank[group[video_node]]
        num_text, num_tracks = text_node.shape[0], track_group.shape[0]

        def copied(edge_index, owner, pairs, start, rank, offset):
            edge_pair, edge, _ = copies_per_pair(owner[edge_index[0]], num_graphs, pairs)
            return start[edge_pair] + rank[edge_index[:, edge]] + offset, edge

        text_edges, text_edge = copied(text_edge_index, text_graph_of, pair_text, text_start, text_rank, 0)
        relation_edges, relation_edge = copied(video_edge_index, video_graph_of, pair_video, video_start, video_rank,
                                               num_text)
        temporal_edges, _ = copied(link_index, video_graph_of, pair_video, video_start, video_rank, num_text)
        reverse, self_loop, link = self.edge_roles.weight
        edge_index, edge_attr = with_reverse_and_self_loops(
            torch.cat([text_edges, relation_edges, temporal_edges], dim=1),
            torch.cat([self.edge_kind(text_edge_kind[text_edge]), video_edge_attr[relation_edge].to(text_x.dtype),
                       link.expand(temporal_edges.shape[1], -1)]),
            num_text + video_node.shape[0], reverse, self_loop)

        objects = is_object[text_node].nonzero(as_tuple=True)[0]
        candidate, cross_track, _ = copies_per_pair(track_pair, num_pairs, text_pair[objects])
        cross_text = objects[candidate]
        h = torch.cat([text_x[text_node], video_x[video_node]])
        track_input = scatter(h[num_text:], video_track, dim=0, dim_size=num_tracks, reduce="mean")
        scores = self.coreference(h[cross_text], track_input[cross_track])
        weights = softmax(scores, cross_text, num_nodes=num_text)

        for norm, attention, text_from_video, video_from_text, norm_ffn, ffn in zip(
                self.norm_attention, self.attention, self.text_from_video, self.video_from_text, self.norm_ffn,
                self.ffn):
            h = h + attention(norm(h), edge_index, edge_attr)
            normed = norm(h)
            track = scatter(normed[num_text:], video_track, dim=0, dim_size=num_tracks, reduce="mean")
            heard = scatter(weights.unsqueeze(1) * track[cross_track], cross_text, dim=0, dim_size=num_text)
            told = scatter(weights.unsqueeze(1) * normed[cross_text], cross_track, dim=0, dim_size=num_tracks)
            h = h + torch.cat([text_from_video(heard), video_from_text(told)[video_track]])
            h = h + ffn(norm_ffn(h))
        if self.ffn:
            h = self.norm(h)
        video = h[num_text:]
        return HSGOutput(
            text=h[:num_text], text_node=text_node, text_pair=text_pair, video=video, video_node=video_node,
            video_pair=video_pair, video_track=video_track,
            track=scatter(video, video_track, dim=0, dim_size=num_tracks, reduce="mean"), track_group=track_group,
            track_pair=track_pair, cross_text=cross_text, cross_track=cross_track, scores=scores, weights=weights)
