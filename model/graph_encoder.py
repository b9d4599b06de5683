"""Graph encoders: GTrm over the textual scene graph, R-GTrm (RecurrentGTrm) with STGD over the dynamic one.

Both run on torch-geometric batches (one big disconnected graph, `batch` maps node -> graph) and use
TransformerConv, whose attention is restricted to graph edges and whose keys/values see edge features:
    alpha_ij = softmax_j((W_q h_i)^T (W_k h_j + W_e e_ij) / sqrt(d))
    h_i' = W_s h_i + sum_j alpha_ij (W_v h_j + W_e e_ij)
"""

import numpy as np
import torch
from torch import nn
from torch_geometric.nn import TransformerConv
from torch_geometric.utils import scatter


def laplacian_pe(edge_index: torch.Tensor, num_nodes: int, k: int = 4) -> torch.Tensor:
    """Laplacian positional encoding of one graph, free of the sign and basis choice of eigenvectors.

    With L = I - D^-1/2 A D^-1/2 (undirected), eigenvalues lambda_1 < lambda_2 < ... (distinct, ascending, the
    zero ones skipped) and P_j = sum_{i: lambda_i = lambda_j} phi_i phi_i^T the projector on their eigenspace,
        pe[v] = [P_1[v, v], ..., P_k[v, v], lambda_1, ..., lambda_k]         (zero-padded when fewer exist)
    so permuting the nodes permutes the rows of pe, nothing else. Returns [num_nodes, 2k].
    """
    pe = np.zeros((num_nodes, 2 * k), dtype=np.float32)
    if num_nodes == 0:
        return torch.from_numpy(pe)
    adjacency = np.zeros((num_nodes, num_nodes))
    src, dst = edge_index.cpu().numpy()
    adjacency[src, dst] = adjacency[dst, src] = 1.0
    np.fill_diagonal(adjacency, 0.0)
    degree = adjacency.sum(1)
    scale = np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1e-12)), 0.0)
    laplacian = np.eye(num_nodes) - scale[:, None] * adjacency * scale[None, :]
    values, vectors = np.linalg.eigh(laplacian)
    rounded = np.round(values, 6)
    distinct = [v for v in np.unique(rounded) if v > 1e-6][:k]
    for j, value in enumerate(distinct):
        members = vectors[:, rounded == value]
        pe[:, j] = (members**2).sum(1)
        pe[:, k + j] = value
    return torch.from_numpy(pe)


class GraphTransformerLayer(nn.Module):
    """Pre-norm block: h = h + TransformerConv(LN(h), e); h = h + FFN(LN(h)).   h [N, dim], e [E, dim]."""

    def __init__(self, dim: int, num_heads: int = 4):
        super().__init__()
        self.norm_attention = nn.LayerNorm(dim)
        self.attention = TransformerConv(dim, dim // num_heads, heads=num_heads, edge_dim=dim)
        self.norm_ffn = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def reset_parameters(self) -> None:
        self.norm_attention.reset_parameters()
        self.attention.reset_parameters()
        self.norm_ffn.reset_parameters()
        for layer in (self.ffn[0], self.ffn[2]):
            layer.reset_parameters()

    def forward(self, h: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        h = h + self.attention(self.norm_attention(h), edge_index, edge_attr)
        return h + self.ffn(self.norm_ffn(h))


def with_reverse_and_self_loops(edge_index: torch.Tensor, edge_attr: torch.Tensor, num_nodes: int,
                                reverse_attr: torch.Tensor, self_attr: torch.Tensor):
    """Messages flow both ways along each edge (the reverse one marked by `reverse_attr`) and every node sees itself."""
    loops = torch.arange(num_nodes, device=edge_index.device)
    index = torch.cat([edge_index, edge_index.flip(0), torch.stack([loops, loops])], dim=1)
    attr = torch.cat([edge_attr, edge_attr + reverse_attr, self_attr.expand(num_nodes, -1)], dim=0)
    return index, attr


class GTrm(nn.Module):
    """Graph Transformer over the TSG.

    h_0 = x + W_pe pe;   h_l = GraphTransformerLayer(h_{l-1}, E_type[edge kind])   (edges both ways, self loops)
    pooled = mean_{v in graph} h_L[v]
    x [N, dim], edge_index [2, E], edge_kind [E] in [0, num_edge_kinds), pe [N, pe_dim], batch [N]
    -> nodes [N, dim], pooled [num_graphs, dim]
    """

    def __init__(self, dim: int = 64, num_edge_kinds: int = 6, pe_dim: int = 8, num_layers: int = 2,
                 num_heads: int = 4):
        super().__init__()
        self.edge_kind = nn.Embedding(num_edge_kinds, dim)
        self.reverse = nn.Parameter(torch.zeros(dim))
        self.self_loop = nn.Parameter(torch.zeros(dim))
        self.positional = nn.Linear(pe_dim, dim)
        self.layers = nn.ModuleList(GraphTransformerLayer(dim, num_heads) for _ in range(num_layers))
        self.norm = nn.LayerNorm(dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.edge_kind.weight, std=0.02)
        nn.init.normal_(self.reverse, std=0.02)
        nn.init.normal_(self.self_loop, std=0.02)
        for layer in self.layers:
            layer.reset_parameters()

    def forward(self, x, edge_index, edge_kind, pe, batch, num_graphs: int):
        index, attr = with_reverse_and_self_loops(edge_index, self.edge_kind(edge_kind), x.shape[0], self.reverse,
                                                  self.self_loop)
        h = x + self.positional(pe)
        for layer in self.layers:
            h = layer(h, index, attr)
        h = self.norm(h)
        return h, scatter(h, batch, dim=0, dim_size=num_graphs, reduce="mean")


def box_centres(box: torch.Tensor) -> torch.Tensor:
    return (box[:, :2] + box[:, 2:]) / 2


def box_geometry(box: torch.Tensor) -> torch.Tensor:
    """[centre x, centre y, width, height] of boxes [N, 4] (x1, y1, x2, y2) -> [N, 4]."""
    return torch.cat([box_centres(box), box[:, 2:] - box[:, :2]], dim=1)


def predecessors(link_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    """The temporal predecessor of every node (source of the link into it), -1 for none -> [N]."""
    previous = torch.full((num_nodes,), -1, dtype=torch.long, device=link_index.device)
    previous[link_index[1]] = link_index[0]
    return previous


class STGD(nn.Module):
    """Spatio-temporal Gaussian differential kernel: how a node differs from what is near it in space and in time.

    For node v on keyframe t_v with features x_v, box geometry b_v = [centre c_v, size], spatial neighbours N(v) (the
    relation edges of its keyframe, both ways) and temporal predecessor p(v) (its track on an earlier keyframe):
        G^s_uv = exp(-|c_v - c_u|^2 / (2 sigma_s^2))            a near neighbour counts more than a far one
        G^t_v  = exp(-(t_v - t_p(v))^2 / (2 sigma_t^2))          a recent predecessor counts more than an old one
        D^s_v  = sum_{u in N(v)} G^s_uv (x_v - x_u) / max(1, |N(v)|)
        D^t_v  = G^t_v (x_v - x_p(v)),    B^t_v = G^t_v (b_v - b_p(v))       (0 without predecessor)
        r_v    = W_s D^s_v + W_t D^t_v + W_b B^t_v                       (no biases: no difference, no response)
    The temporal Gaussian is over the time gap only: the displacement of the track itself is the signal, so it is
    measured (B^t) rather than discounted. sigma_s, sigma_t are learnt.
    x [N, dim], edge_index [2, E] (spatial, one way), predecessor [N] (-1 for none), frame [N], box [N, 4]
    -> r [N, dim]
    """

    def __init__(self, dim: int = 64, sigma_space: float = 0.25, sigma_time: float = 2.0):
        super().__init__()
        self.initial_log_sigma = (float(np.log(sigma_space)), float(np.log(sigma_time)))
        self.log_sigma_space = nn.Parameter(torch.tensor(self.initial_log_sigma[0]))
        self.log_sigma_time = nn.Parameter(torch.tensor(self.initial_log_sigma[1]))
        self.spatial = nn.Linear(dim, dim, bias=False)
        self.temporal = nn.Linear(dim, dim, bias=False)
        self.geometry = nn.Linear(4, dim, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        with torch.no_grad():
            self.log_sigma_space.fill_(self.initial_log_sigma[0])
            self.log_sigma_time.fill_(self.initial_log_sigma[1])
        for layer in (self.spatial, self.temporal, self.geometry):
            layer.reset_parameters()

    def forward(self, x, edge_index, predecessor, frame, box) -> torch.Tensor:
        geometry = box_geometry(box).to(x.dtype)
        source, target = torch.cat([edge_index, edge_index.flip(0)], dim=1)
        distance = ((geometry[target, :2] - geometry[source, :2]) ** 2).sum(1)
        weight = torch.exp(-distance / (2 * torch.exp(2 * self.log_sigma_space)))
        spatial = scatter(weight.unsqueeze(1) * (x[target] - x[source]), target, dim=0, dim_size=x.shape[0],
                          reduce="sum")
        count = torch.bincount(target, minlength=x.shape[0]).clamp(min=1).unsqueeze(1).to(x.dtype)
        has = predecessor >= 0
        previous = predecessor.clamp(min=0)
        gap = (frame - frame[previous]).to(x.dtype)
        recency = torch.where(has, torch.exp(-gap**2 / (2 * torch.exp(2 * self.log_sigma_time))), 0.0).unsqueeze(1)
        temporal = recency * (x - x[previous])
        moved = recency * (geometry - geometry[previous])
        return self.spatial(spatial / count) + self.temporal(temporal) + self.geometry(moved)


def previous_keyframe_edges(graph_of: torch.Tensor, frame: torch.Tensor) -> torch.Tensor:
    """Edges u -> v from every node u on the latest earlier keyframe of v's clip that has nodes -> [2, C]."""
    num_nodes = frame.shape[0]
    if num_nodes == 0:
        return torch.zeros(2, 0, dtype=torch.long, device=frame.device)
    num_frames = int(frame.max()) + 1
    present = torch.zeros(int(graph_of.max()) + 1, num_frames, dtype=torch.bool, device=frame.device)
    present[graph_of, frame] = True
    positions = torch.arange(num_frames, device=frame.device).expand_as(present)
    latest = torch.where(present, positions, -1).cummax(dim=1).values
    earlier = torch.cat([torch.full_like(latest[:, :1], -1), latest[:, :-1]], dim=1)[graph_of, frame]
    key = graph_of * num_frames + frame
    order = torch.argsort(key, stable=True)
    counts = torch.bincount(key, minlength=present.numel())
    starts = counts.cumsum(0) - counts
    wanted = graph_of * num_frames + earlier.clamp(min=0)
    per_target = torch.where(earlier >= 0, counts[wanted], 0)
    target = torch.repeat_interleave(torch.arange(num_nodes, device=frame.device), per_target)
    within = torch.arange(target.shape[0], device=frame.device) - (per_target.cumsum(0) - per_target)[target]
    return torch.stack([order[starts[wanted[target]] + within], target])


class RecurrentGTrm(nn.Module):
    """R-GTrm: a graph Transformer run keyframe by keyframe, each step seeing the states carried from the last one.

    For the nodes V_t of keyframe t (t ascending in `frame`; carried states m are those of earlier keyframes):
        sources  s_u = LN_s(x_u) for u on keyframe t,   s_u = LN_s(m_u) for u on an earlier keyframe
        queries  q_v = LN_q(x_v) + STGD(x)_v                                    (STGD when use_stgd)
        c_v = x_v + TransformerConv((s, q), edges into V_t)
                    edges u -> v: relation edges of keyframe t (both ways; predicate embeddings, E_reverse), self loops
                    (E_self), every node of v's clip on its previous keyframe (E_carry) and v's predecessor p(v)
                    (E_link); TransformerConv: alpha_uv = softmax_u(q_v^T W_q^T (W_k s_u + W_e e_uv) / sqrt(d))
        c_v = c_v + FFN(LN(c_v))
        z_v = sigmoid(W_z [c_v, m_p(v)]),   m_v = (1 - z_v) * c_v + z_v * m_p(v)    (m_v = c_v without predecessor)
    Without temporal links there are no E_carry / E_link edges and m = c: every keyframe is encoded alone.
    x [N, dim], edge_index [2, E] (relations, one way), edge_attr [E, dim], link_index [2, L], frame [N],
    box [N, 4], graph_of [N] (clip of each node) -> LN(m) [N, dim]
    """

    def __init__(self, dim: int = 64, num_heads: int = 4, use_stgd: bool = True, use_temporal_links: bool = True,
                 sigma_space: float = 0.25, sigma_time: float = 2.0):
        super().__init__()
        self.use_stgd, self.use_temporal_links = use_stgd, use_temporal_links
        self.edge_roles = nn.Embedding(4, dim)  # reverse, self, carry, link
        self.norm_source = nn.LayerNorm(dim)
        self.norm_query = nn.LayerNorm(dim)
        self.attention = TransformerConv(dim, dim // num_heads, heads=num_heads, edge_dim=dim)
        self.norm_ffn = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.stgd = STGD(dim, sigma_space, sigma_time)
        self.gate = nn.Linear(2 * dim, dim)
        self.norm = nn.LayerNorm(dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.edge_roles.weight, std=0.02)
        for module in (self.norm_source, self.norm_query, self.attention, self.norm_ffn, self.ffn[0], self.ffn[2],
                       self.stgd, self.gate, self.norm):
            module.reset_parameters()

    def edges(self, edge_index, edge_attr, link_index, frame, graph_of):
        """Every edge of every step, with its features: ([2, E'], [E', dim])."""
        reverse, self_loop, carry, link = self.edge_roles.weight
        index, attr = with_reverse_and_self_loops(edge_index, edge_attr, frame.shape[0], reverse, self_loop)
        if not self.use_temporal_links:
            return index, attr
        carried = previous_keyframe_edges(graph_of, frame)
        carried = carried[:, predecessors(link_index, frame.shape[0])[carried[1]] != carried[0]]
        index = torch.cat([index, carried, link_index], dim=1)
        attr = torch.cat([attr, carry.expand(carried.shape[1], -1), link.expand(link_index.shape[1], -1)])
        return index, attr

    def forward(self, x, edge_index, edge_attr, link_index, frame, box, graph_of) -> torch.Tensor:
        num_nodes = x.shape[0]
        link_index = link_index if self.use_temporal_links else link_index[:, :0]
        previous = predecessors(link_index, num_nodes)
        query = self.norm_query(x)
        if self.use_stgd:
            query = query + self.stgd(x, edge_index, previous, frame, box)
        index, attr = self.edges(edge_index, edge_attr.to(x.dtype), link_index, frame, graph_of)
        memory = x
        local = torch.full((num_nodes,), -1, dtype=torch.long, device=x.device)
        for t in torch.unique(frame).tolist():
            nodes = (frame == t).nonzero(as_tuple=True)[0]
            local[nodes] = torch.arange(nodes.shape[0], device=x.device)
            step = frame[index[1]] == t
            heard, source = torch.unique(index[0, step], return_inverse=True)
            sources = self.norm_source(torch.where((frame[heard] < t).unsqueeze(1), memory[heard], x[heard]))
            step_index = torch.stack([source, local[index[1, step]]])
            candidate = x[nodes] + self.attention((sources, query[nodes]), step_index, attr[step])
            candidate = candidate + self.ffn(self.norm_ffn(candidate))
            has, before = previous[nodes] >= 0, memory[previous[nodes].clamp(min=0)]
            z = torch.sigmoid(self.gate(torch.cat([candidate, before], dim=1))) * has.unsqueeze(1)
            memory = memory.index_copy(0, nodes, (1 - z) * candidate + z * before)
        return self.norm(memory)
