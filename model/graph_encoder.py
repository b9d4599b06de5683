"""Graph encoders: GTrm over the textual scene graph, R-GTrm with the STGD motion kernel over the dynamic one.

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
        self.attention.reset_parameters()

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


class STGD(nn.Module):
    """Spatio-temporal Gaussian kernel on a track's motion between consecutive keyframes.

    For a node at t linked to its track's node at t-1, with box centres c and sizes s:
        delta = [c_t - c_{t-1}, s_t - s_{t-1}] / dt,     g = exp(-|delta|^2 / (2 sigma^2))  in (0, 1]
    g ~ 1 for a still object, ~ 0 for a fast one; sigma is learnt. Returns g [L] and the motion feature
    W [delta, 1 - g] [L, dim] that R-GTrm adds to the node's candidate state.
    """

    def __init__(self, dim: int = 64, sigma: float = 0.1):
        super().__init__()
        self.log_sigma = nn.Parameter(torch.tensor(float(np.log(sigma))))
        self.motion = nn.Linear(5, dim)

    def reset_parameters(self) -> None:
        self.motion.reset_parameters()

    def forward(self, box_prev: torch.Tensor, box_next: torch.Tensor, dt: torch.Tensor):
        size_prev, size_next = box_prev[:, 2:] - box_prev[:, :2], box_next[:, 2:] - box_next[:, :2]
        delta = torch.cat([box_centres(box_next) - box_centres(box_prev), size_next - size_prev], dim=1)
        delta = delta / dt.clamp(min=1.0).unsqueeze(1)
        kernel = torch.exp(-(delta**2).sum(1) / (2 * torch.exp(2 * self.log_sigma)))
        return kernel, self.motion(torch.cat([delta, (1 - kernel).unsqueeze(1)], dim=1))


class RGTrm(nn.Module):
    """Recurrent graph Transformer over the DSG.

    Spatial step, all keyframes at once (relation edges join objects of one keyframe):
        c = GraphTransformerLayer(x, predicate embedding of each relation edge)
    Temporal step, keyframe by keyframe in order, along temporal links (v at t has predecessor u at an earlier t'):
        c_v <- c_v + STGD motion(u, v)                                   (when use_stgd)
        z_v = sigmoid(W_z [c_v, m_u] + w_g g_uv)                         (w_g g_uv only when use_stgd)
        m_v = (1 - z_v) * c_v + z_v * m_u,       m_v = c_v for a node without predecessor
    x [N, dim], edge_index [2, E], edge_attr [E, dim], link_index [2, L], frame [N], box [N, 4]
    -> memory states m [N, dim]
    """

    def __init__(self, dim: int = 64, num_heads: int = 4, use_stgd: bool = True, use_temporal_links: bool = True):
        super().__init__()
        self.use_stgd, self.use_temporal_links = use_stgd, use_temporal_links
        self.reverse = nn.Parameter(torch.zeros(dim))
        self.self_loop = nn.Parameter(torch.zeros(dim))
        self.spatial = GraphTransformerLayer(dim, num_heads)
        self.stgd = STGD(dim)
        self.gate = nn.Linear(2 * dim, dim)
        self.kernel_gate = nn.Parameter(torch.zeros(dim))
        self.norm = nn.LayerNorm(dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.reverse, std=0.02)
        nn.init.normal_(self.self_loop, std=0.02)
        self.spatial.reset_parameters()
        self.stgd.reset_parameters()
        self.gate.reset_parameters()
        nn.init.zeros_(self.kernel_gate)

    def forward(self, x, edge_index, edge_attr, link_index, frame, box):
        return self.temporal(self.spatial_step(x, edge_index, edge_attr), link_index, frame, box)

    def spatial_step(self, x, edge_index, edge_attr) -> torch.Tensor:
        """Candidate states c [N, dim]; they do not depend on frame order, so a reordered clip reuses them."""
        index, attr = with_reverse_and_self_loops(edge_index, edge_attr, x.shape[0], self.reverse, self.self_loop)
        return self.spatial(x, index, attr)

    def temporal(self, candidate, link_index, frame, box) -> torch.Tensor:
        """Memory states m [N, dim] from candidates carried along `link_index` in `frame` order."""
        if not self.use_temporal_links or link_index.shape[1] == 0:
            return self.norm(candidate)
        source, target = link_index
        kernel = None
        if self.use_stgd:
            kernel, motion = self.stgd(box[source], box[target], (frame[target] - frame[source]).to(box.dtype))
            candidate = candidate.index_add(0, target, motion.to(candidate.dtype))
        memory = candidate
        # Each node has at most one predecessor, on an earlier keyframe: updating in frame order carries memory.
        for t in torch.unique(frame[target]).tolist():
            step = frame[target] == t
            src, dst = source[step], target[step]
            previous, current = memory[src], candidate[dst]
            logits = self.gate(torch.cat([current, previous], dim=1))
            if kernel is not None:
                logits = logits + kernel[step].unsqueeze(1) * self.kernel_gate
            z = torch.sigmoid(logits)
            memory = memory.index_copy(0, dst, (1 - z) * current + z * previous)
        return self.norm(memory)
