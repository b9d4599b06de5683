"""FinstaModel: any backbone adapter + GTrm (TSG) + R-GTrm/STGD (DSG) + HSG coreference + the Finsta losses.

Three retrieval paths come out of it:
    backbone   video_head(backbone pooled video) vs text_head(backbone pooled caption): needs no graphs (plug-and-play);
               distillation pulls it toward the graph path while training.
    graph      mean of the R-GTrm node states vs mean of the GTrm node states (each through a linear head).
    structure  the graph path plus object-by-object, predicate-by-predicate and event-order agreement through the HSG
               coreference edges (model/structure.py): the score that tells a caption from a structure-swapped one.
Every string of both graphs (node words, detection "attributes class" texts, predicates) is embedded by the backbone's
text encoder and one shared projection, so the graphs need no vocabulary of their own and work with any backbone.
"""

import random
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.data import Batch
from torch_geometric.utils import scatter

from model import hsg, losses, structure
from model.data import EDGE_KINDS, NODE_KINDS, PE_SIZE, flat, relation_objects
from model.graph_encoder import GTrm, RecurrentGTrm, box_centres
from model.negatives import batch_negatives

PE_DIM = 2 * PE_SIZE  # laplacian_pe gives k eigenvector entries and k eigenvalues per node
BOX_FEATURES = 8  # box_features: x1, y1, x2, y2, width, height, centre x, centre y


@dataclass(frozen=True)
class FinstaConfig:
    """What FinstaModel is: its sizes and which of its components are on (each "use_" flag off is one ablation)."""
    dim: int = field(default=64, metadata={"help": "width of the graph encoders, heads and retrieval embeddings"})
    num_layers: int = field(default=2, metadata={"help": "GTrm layers over the text graph"})
    num_heads: int = field(default=4, metadata={"help": "attention heads of GTrm and R-GTrm"})
    temperature: float = field(default=0.07, metadata={"help": "softmax temperature of every contrastive loss"})
    cross_edge_k: int = field(default=1, metadata={"help": "HSG coreference: tracks each text object node joins"})
    use_coarse: bool = field(default=True, metadata={"help": "graph-path InfoNCE (pooled GTrm vs pooled R-GTrm)"})
    use_osc: bool = field(default=True, metadata={"help": "OSC loss: object-centred spatial contrasting"})
    use_ptc: bool = field(default=True, metadata={"help": "PTC loss: predicate-centred temporal contrasting"})
    use_distill: bool = field(default=True, metadata={"help": "distil the graph path into the backbone path"})
    use_stgd: bool = field(default=True, metadata={"help": "STGD differential kernel in R-GTrm's attention queries"})
    use_temporal_links: bool = field(default=True,
                                     metadata={"help": "R-GTrm carries states from keyframe to keyframe (off: each "
                                                       "keyframe encoded alone)"})
    sigma_space: float = field(default=0.25, metadata={"help": "STGD: initial spatial Gaussian width (box-centre "
                                                               "distance, normalised image units)"})
    sigma_time: float = field(default=2.0, metadata={"help": "STGD: initial temporal Gaussian width in keyframes"})
    hsg_layers: int = field(default=1, metadata={"help": "HSG encoder layers over TSG + DSG + coreference edges "
                                                         "(0: the -HSG encoding ablation)"})
    coreference_temperature: float = field(default=0.1, metadata={"help": "temperature of the learned coreference "
                                                                          "scores (CoreferenceScorer)"})
    distill_weight: float = field(default=1.0, metadata={"help": "weight of the similarity distillation (KL of the "
                                                                 "host's retrieval distribution to the structure "
                                                                 "path's)"})
    distill_teacher_temperature: float = field(default=0.05, metadata={"help": "softmax temperature of the structure "
                                                                               "scores as the distillation teacher"})
    use_cross_edges: bool = field(default=True,
                                  metadata={"help": "HSG coreference edges (off: compare with the clip's mean track)"})
    graph_text_grad: bool = field(default=False,
                                  metadata={"help": "backpropagate into the backbone text tower through graph strings"})
    use_object_phrases: bool = field(default=True,
                                     metadata={"help": "object nodes enter GTrm as attribute-prefixed phrases"})
    use_hard_negatives: bool = field(default=True,
                                     metadata={"help": "structure-swapped captions as hard negatives"})


@dataclass
class BackboneOutput:
    """The plug-and-play path: pooled backbone embeddings through the retrieval heads, [B, dim] each."""
    backbone_video: torch.Tensor
    backbone_text: torch.Tensor

    def paths(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """{retrieval path: (video [B, dim], text [B, dim])}, L2-normalised, in float32."""
        return {"backbone": (F.normalize(self.backbone_video.float(), dim=-1),
                             F.normalize(self.backbone_text.float(), dim=-1))}


@dataclass
class FinstaOutput(BackboneOutput):
    """FinstaModel.forward on B (caption, clip) pairs: Nt text nodes, Nv video nodes, G tracks, O text objects."""
    graph_video: torch.Tensor          # [B, dim] graph-path clip embeddings (pooled R-GTrm)
    graph_text: torch.Tensor           # [B, dim] graph-path caption embeddings (pooled GTrm)
    text_nodes: torch.Tensor           # [Nt, dim] GTrm node states
    video_nodes: torch.Tensor          # [Nv, dim] R-GTrm states
    phrase_embed: torch.Tensor         # [Nt, e] backbone text embeddings of the node phrases
    object_embed: torch.Tensor         # [Nv, e] backbone text embeddings of the detection texts
    edge_words: torch.Tensor           # [E + U, dim] projected words of the DSG relations, binary then unary
    group: torch.Tensor                # [Nv] each video node's track (hsg.track_groups)
    num_groups: int                    # G
    group_graph: torch.Tensor          # [G] each track's clip
    object_nodes: torch.Tensor         # [O] text nodes that are objects
    coreference_text: torch.Tensor     # [M] text node of each HSG coreference pair (learned scores, top k)
    coreference_group: torch.Tensor    # [M] its track
    coreference_rank: torch.Tensor     # [M] 0 for the text node's best track
    encoded: hsg.HSGOutput | None = None              # the encoded HSG of each matched pair (OSC, PTC read it)
    video_nodes_shuffled: torch.Tensor | None = None  # [Nv, dim] R-GTrm over frame-shuffled clips (with_shuffle)
    encoded_shuffled: hsg.HSGOutput | None = None     # the HSG encoded with those states (with_shuffle)
    frame_shuffled: torch.Tensor | None = None        # [Nv] each node's frame in that order

    def paths(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        return {**super().paths(), "graph": (F.normalize(self.graph_video.float(), dim=-1),
                                             F.normalize(self.graph_text.float(), dim=-1))}


@dataclass
class HardNegatives:
    """M structure-swapped captions of a batch (model/negatives.py), H of them with a rewritten caption text."""
    graph_text: torch.Tensor            # [M, dim] graph-path embeddings
    parts: structure.TextParts          # their structure parts
    negative_of: torch.Tensor           # [M] the batch caption each was made from
    host_text: torch.Tensor             # [H, dim] the host's embeddings of the rewritten captions
    worded: torch.Tensor                # [H] which of the M they are


def host_negatives(backbone: nn.Module, text_head: nn.Module, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """The host's embeddings [H, dim] of the non-empty negative captions and their indices [H] among `captions`."""
    worded = [i for i, c in enumerate(captions) if c]
    if not worded:
        return torch.zeros(0, text_head.out_features), torch.zeros(0, dtype=torch.long)
    embed = text_head(backbone.encode_text([captions[i] for i in worded]).pooled)
    return embed, torch.tensor(worded, dtype=torch.long, device=embed.device)


def roi_pool(tokens: torch.Tensor, grid: tuple[int, int], graph_of: torch.Tensor, frame: torch.Tensor,
             box: torch.Tensor) -> torch.Tensor:
    """Mean of the patch tokens whose centres fall inside each box (plus the patch nearest the box centre).

    tokens [B, T, P, D] on a row-major gh x gw grid; graph_of, frame [N]; box [N, 4] normalised -> [N, D]
    """
    b, t, p, d = tokens.shape
    gh, gw = grid
    ys = (torch.arange(gh, device=box.device, dtype=box.dtype) + 0.5) / gh
    xs = (torch.arange(gw, device=box.device, dtype=box.dtype) + 0.5) / gw
    cy, cx = ys.repeat_interleave(gw), xs.repeat(gh)
    inside = ((cx >= box[:, :1]) & (cx <= box[:, 2:3]) & (cy >= box[:, 1:2]) & (cy <= box[:, 3:4]))
    centre = box_centres(box)
    nearest = ((cx - centre[:, :1]) ** 2 + (cy - centre[:, 1:]) ** 2).argmin(dim=1)
    inside[torch.arange(box.shape[0], device=box.device), nearest] = True
    weights = inside.to(tokens.dtype) / inside.sum(1, keepdim=True)
    node, patch = inside.nonzero(as_tuple=True)
    rows = (graph_of[node] * t + frame[node]) * p + patch
    picked = tokens.reshape(b * t * p, d)[rows] * weights[node, patch].unsqueeze(1)
    return torch.zeros(box.shape[0], d, device=tokens.device, dtype=tokens.dtype).index_add(0, node, picked)


def box_features(box: torch.Tensor) -> torch.Tensor:
    size = box[:, 2:] - box[:, :2]
    return torch.cat([box, size, box_centres(box)], dim=1)


def shuffled_frames(video, generator: torch.Generator | None = None):
    """Frame index of each node under a random non-identity order of each clip's keyframes, and the temporal links
    rebuilt for that order (consecutive appearances of a track). Returns (frame [N], link_index [2, L])."""
    valid = video.frame_mask.sum(1).tolist()
    new_position = torch.zeros_like(video.frame_mask, dtype=torch.long)
    for i, count in enumerate(valid):
        order = torch.randperm(count, generator=generator)
        if count > 1 and torch.equal(order, torch.arange(count)):
            order = order.flip(0)
        new_position[i, :count] = order
    frame = new_position[video.batch, video.frame].to(video.frame.device) if video.num_nodes else video.frame
    return frame, links_in_order(video.batch, video.track, frame, video.frame_mask.shape[1])


def links_in_order(graph_of: torch.Tensor, track: torch.Tensor, frame: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Temporal links joining consecutive appearances of each (graph, track) in the given frame order."""
    if frame.numel() < 2:
        return torch.zeros(2, 0, dtype=torch.long, device=frame.device)
    group, _ = hsg.track_groups(graph_of, track)
    order = torch.argsort(group * (num_frames + 1) + frame)
    same = group[order[:-1]] == group[order[1:]]
    return torch.stack([order[:-1][same], order[1:][same]])


def last_of_track(group: torch.Tensor, frame: torch.Tensor, num_groups: int) -> torch.Tensor:
    """Index of each track's node on its latest keyframe [G]."""
    latest = scatter(frame, group, dim=0, dim_size=num_groups, reduce="max")
    node = torch.arange(frame.shape[0], device=frame.device)
    is_last = frame == latest[group]
    return scatter(node[is_last], group[is_last], dim=0, dim_size=num_groups, reduce="max")


class FinstaModel(nn.Module):
    """A backbone adapter (model/backbones.py) plus Finsta's graph encoders, heads and losses, as `config` says.

    forward(text Batch, video Batch of B pairs) -> FinstaOutput; compute_losses(text, video) -> {term: scalar}."""

    def __init__(self, backbone: nn.Module, config: FinstaConfig = FinstaConfig()):
        super().__init__()
        self.config = config
        self.backbone = backbone
        dim, text_dim, token_dim = config.dim, backbone.embed_dim, backbone.token_dim
        # The backbone's own retrieval heads: the plug-and-play path.
        self.video_head = nn.Linear(text_dim, dim)
        self.text_head = nn.Linear(text_dim, dim)
        # Graph inputs.
        # One projection for every string of both graphs (node words, detection classes, predicates): "red circle"
        # in a caption and "red circle" from the detector start out as the same vector.
        self.words = nn.Linear(text_dim, dim)
        self.node_kind = nn.Embedding(len(NODE_KINDS), dim)
        self.region = nn.Linear(token_dim, dim)
        self.object_box = nn.Linear(BOX_FEATURES, dim)
        self.gtrm = GTrm(dim, len(EDGE_KINDS), PE_DIM, config.num_layers, config.num_heads)
        self.rgtrm = RecurrentGTrm(dim, config.num_heads, use_stgd=config.use_stgd,
                                   use_temporal_links=config.use_temporal_links, sigma_space=config.sigma_space,
                                   sigma_time=config.sigma_time)
        self.hsg = hsg.HSGEncoder(dim, len(EDGE_KINDS), config.hsg_layers, config.num_heads,
                                  config.coreference_temperature)
        # Graph path outputs and the fine-grained heads.
        self.text_graph_head = nn.Linear(dim, dim)
        self.video_graph_head = nn.Linear(dim, dim)
        self.video_predicate = nn.Sequential(nn.Linear(3 * dim, dim), nn.GELU(), nn.Linear(dim, dim))
        self.text_predicate = nn.Linear(dim, dim)

    def encode_strings(self, *groups: list[str]) -> list[torch.Tensor]:
        """One backbone text pass over the distinct strings of all groups -> pooled embeddings per group.

        Without graph_text_grad the pass runs without gradient: graph strings are many and short, and backpropagating
        them through a large text tower costs more than the rest of Finsta; the backbone still learns from its own
        InfoNCE and from distillation, and the shared word projection learns either way."""
        distinct = sorted({s for group in groups for s in group})
        if not distinct:
            return [torch.zeros(0, self.backbone.embed_dim) for _ in groups]
        with torch.set_grad_enabled(self.config.graph_text_grad and torch.is_grad_enabled()):
            pooled = self.backbone.encode_text(distinct).pooled
        where = {s: i for i, s in enumerate(distinct)}
        return [pooled[torch.tensor([where[s] for s in group], dtype=torch.long, device=pooled.device)]
                for group in groups]

    def encode_text_graph(self, text, node_embed: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """GTrm over a text Batch whose node strings are embedded in node_embed -> (node states, graph-path text)."""
        nodes, pooled = self.gtrm(self.words(node_embed) + self.node_kind(text.node_kind), text.edge_index,
                                  text.edge_kind, text.pe, text.batch, text.num_graphs)
        return nodes, self.text_graph_head(pooled)

    def hard_negatives(self, text) -> HardNegatives | None:
        """Structure-swapped captions of the batch (negatives.batch_negatives) encoded on the graph path and, where
        their caption text could be rewritten, by the host's text tower; None when no caption allows one.

        With object phrases on, an object node enters GTrm as its attribute-prefixed phrase, so an attribute swap
        changes the node strings themselves, as it does for the detections ("yellow square")."""
        made = batch_negatives(text, random.Random(int(torch.randint(2**31, (1,)))))
        if not made:
            return None
        batch = Batch.from_data_list([n for _, n in made]).to(text.edge_index.device)
        phrase_embed, node_embed = self.encode_strings(flat(batch.node_phrase), flat(batch.node_text))
        nodes, pooled = self.encode_text_graph(batch, phrase_embed if self.config.use_object_phrases else node_embed)
        parts = structure.text_parts(batch, nodes, pooled, phrase_embed, self.text_predicate, self.words)
        negative_of = torch.tensor([i for i, _ in made], dtype=torch.long, device=pooled.device)
        host, worded = host_negatives(self.backbone, self.text_head, list(batch.caption))
        return HardNegatives(pooled, parts, negative_of, host, worded)

    def structure_parts(self, text, video, out: FinstaOutput) -> tuple[structure.TextParts, structure.VideoParts]:
        """The structure parts of an encoded (text, video) batch: what model/structure.py scores."""
        return (structure.text_parts(text, out.text_nodes, out.graph_text, out.phrase_embed,
                                     self.text_predicate, self.words),
                structure.video_parts(video, out.video_nodes, out.graph_video, out.edge_words, last_of_track))

    def structure_heads(self) -> structure.Heads:
        return structure.Heads(self.video_predicate, self.hsg.coreference, self.config.use_cross_edges)

    def structure_scores(self, texts: structure.TextParts, videos: structure.VideoParts,
                         text_index: torch.Tensor | None = None, video_index: torch.Tensor | None = None):
        """Structural scores: of every caption against every clip ([M, K]) or of the given pairs ([P])."""
        if text_index is None:
            return structure.score_matrix(texts, videos, self.structure_heads())
        return structure.chunked_pair_scores(texts, videos, text_index, video_index, self.structure_heads())

    def forward(self, text, video, with_shuffle: bool = False) -> FinstaOutput:
        """Encode a (text Batch, video Batch) of B pairs into embeddings, node states and coreference edges."""
        node_text, node_phrase, object_text = flat(text.node_text), flat(text.node_phrase), flat(video.object_text)
        captions = self.backbone.encode_text(list(text.caption)).pooled
        node_embed, phrase_embed, object_embed, edge_embed, unary_embed = self.encode_strings(
            node_text, node_phrase, object_text, flat(video.edge_predicate), flat(video.unary_predicate))
        clip = self.backbone.encode_video(video.frames)
        # Operations in this order: autograd sums gradients in it, so reordering them changes results in the last bits.
        backbone_video, backbone_text = self.video_head(clip.pooled), self.text_head(captions)
        text_nodes, graph_text = self.encode_text_graph(text, phrase_embed if self.config.use_object_phrases
                                                        else node_embed)

        x = (self.region(roi_pool(clip.tokens, clip.grid, video.batch, video.frame, video.box))
             + self.words(object_embed) + self.object_box(box_features(video.box)))
        unary_words, edge_attr = self.words(unary_embed), self.words(edge_embed)
        x = x.index_add(0, video.unary_index, unary_words)
        edge_words = torch.cat([edge_attr, unary_words])
        video_nodes = self.rgtrm(x, video.edge_index, edge_attr, video.link_index, video.frame, video.box,
                                 video.batch)
        video_pool = scatter(video_nodes, video.batch, dim=0, dim_size=text.num_graphs, reduce="mean")
        graph_video = self.video_graph_head(video_pool)

        # The HSG of each matched (caption, clip) pair, encoded; learned coreference picks each object's tracks.
        group, num_groups = hsg.track_groups(video.batch, video.track)
        group_graph = scatter(video.batch, group, dim=0, dim_size=num_groups, reduce="max")
        object_nodes = (text.node_kind == NODE_KINDS.index("object")).nonzero(as_tuple=True)[0]
        encoded = self.encode_hsg(text, video, text_nodes, video_nodes, edge_attr, group, group_graph)
        text_row, track_row, rank = encoded.top_k(self.config.cross_edge_k)
        out = FinstaOutput(
            backbone_video=backbone_video, backbone_text=backbone_text, graph_video=graph_video,
            graph_text=graph_text, text_nodes=text_nodes, video_nodes=video_nodes, phrase_embed=phrase_embed,
            object_embed=object_embed, edge_words=edge_words, group=group, num_groups=num_groups,
            group_graph=group_graph, object_nodes=object_nodes, coreference_text=encoded.text_node[text_row],
            coreference_group=encoded.track_group[track_row], coreference_rank=rank, encoded=encoded)
        if with_shuffle:
            frame, links = shuffled_frames(video)
            shuffled = self.rgtrm(x, video.edge_index, edge_attr, links, frame, video.box, video.batch)
            out.video_nodes_shuffled = shuffled
            out.encoded_shuffled = self.encode_hsg(text, video, text_nodes, shuffled, edge_attr, group, group_graph,
                                               links)
            out.frame_shuffled = frame
        return out

    def encode_hsg(self, text, video, text_nodes, video_nodes, edge_attr, group, group_graph,
                   link_index=None) -> hsg.HSGOutput:
        """HSGEncoder over the matched pairs (caption i, clip i): rows are the input nodes and tracks in order."""
        pairs = torch.arange(text.num_graphs, device=text_nodes.device)
        return self.hsg(text_nodes, text.edge_index, text.edge_kind, text.batch,
                        text.node_kind == NODE_KINDS.index("object"), video_nodes, video.edge_index, edge_attr,
                        video.link_index if link_index is None else link_index, video.batch, group, group_graph,
                        pairs, pairs)

    def osc(self, text, video, out: FinstaOutput) -> torch.Tensor:
        objects = out.object_nodes
        if self.config.use_cross_edges:
            edges = hsg.coreference_edges(out.coreference_text, out.coreference_group, out.group)
            positive = torch.zeros(text.num_nodes, video.num_nodes, dtype=torch.bool, device=objects.device)
            positive[edges[0], edges[1]] = True
            positive = positive[objects]
        else:
            positive = text.batch[objects].unsqueeze(1) == video.batch.unsqueeze(0)
        return losses.osc_loss(out.encoded.text[objects], out.encoded.video, positive, self.config.temperature)

    def track_summaries(self, text, video, out: FinstaOutput, nodes: torch.Tensor, frame: torch.Tensor):
        """Per text relation node with a subject: the video predicate from its subject/object track memories.

        Returns (relation nodes [R], video predicate [R, d], swapped [R, d], swap valid [R])."""
        relation, subject = text.subject_index
        object_of = relation_objects(text)
        num_groups, group = out.num_groups, out.group
        summary = nodes[last_of_track(group, frame, num_groups)] if num_groups else nodes.new_zeros(0, nodes.shape[1])
        if self.config.use_cross_edges and num_groups:
            text_node, groups, rank = out.coreference_text, out.coreference_group, out.coreference_rank
            best = torch.full((text.num_nodes,), -1, dtype=torch.long, device=relation.device)
            best[text_node[rank == 0]] = groups[rank == 0]
            subject_group, object_group = best[subject], best[object_of[relation].clamp(min=0)]
            object_group = torch.where(object_of[relation] >= 0, object_group, -1)
            keep = subject_group >= 0
            relation, subject_group, object_group = relation[keep], subject_group[keep], object_group[keep]
            s = summary[subject_group]
            o = torch.where((object_group >= 0).unsqueeze(1), summary[object_group.clamp(min=0)], 0.0)
            swap_valid = (object_group >= 0) & (object_group != subject_group)
        else:
            clip_mean = scatter(summary, out.group_graph, dim=0, dim_size=text.num_graphs, reduce="mean")
            s = o = clip_mean[text.batch[relation]]
            swap_valid = torch.zeros_like(relation, dtype=torch.bool)
        predicate = self.video_predicate(torch.cat([s, o, s - o], dim=1))
        swapped = self.video_predicate(torch.cat([o, s, o - s], dim=1))
        return relation, predicate, swapped, swap_valid

    def ptc(self, text, video, out: FinstaOutput, shuffled_as_positive: bool = False) -> torch.Tensor:
        relation, predicate, swapped, swap_valid = self.track_summaries(text, video, out, out.encoded.video,
                                                                        video.frame)
        _, shuffled, _, _ = self.track_summaries(text, video, out, out.encoded_shuffled.video, out.frame_shuffled)
        if shuffled_as_positive:
            predicate, shuffled = shuffled, predicate
        shuffle_valid = video.frame_mask.sum(1)[text.batch[relation]] > 1
        words = flat(text.node_text)
        vocabulary = {w: i for i, w in enumerate(sorted(set(words)))}
        predicate_of = torch.tensor([vocabulary[words[r]] for r in relation.tolist()], device=relation.device)
        return losses.ptc_loss(self.text_predicate(out.encoded.text[relation]), predicate, [shuffled, swapped],
                               [shuffle_valid, swap_valid], text.batch[relation], self.config.temperature, predicate_of)

    def compute_losses(self, text, video) -> dict:
        """All switched-on losses and their sum under 'loss'. The backbone's own InfoNCE is always on; with hard
        negatives the backbone also meets them (host_negatives, as the host alone does: BackboneOnly)."""
        out = self(text, video, with_shuffle=self.config.use_ptc)
        terms = {"backbone_nce": losses.info_nce(out.backbone_video, out.backbone_text, self.config.temperature)}
        if self.config.use_coarse:
            terms["graph_nce"] = losses.info_nce(out.graph_video, out.graph_text, self.config.temperature)
        negatives = self.hard_negatives(text) if self.config.use_hard_negatives else None
        texts, videos = self.structure_parts(text, video, out)
        if negatives is not None:
            terms["hard_negatives"] = losses.hard_negative_nce(out.graph_video, out.graph_text, negatives.graph_text,
                                                               self.config.temperature)
            terms["structure_negatives"] = structure.hard_negative_loss(
                texts, negatives.parts, negatives.negative_of, videos, self.structure_heads(),
                self.config.temperature)
            if negatives.worded.numel():
                terms["host_negatives"] = losses.hard_negative_nce(out.backbone_video, out.backbone_text,
                                                                   negatives.host_text, self.config.temperature)
        if self.config.use_osc:
            terms["osc"] = self.osc(text, video, out)
        if self.config.use_ptc:
            terms["ptc"] = self.ptc(text, video, out)
        if self.config.use_distill:
            terms["distill"] = self.config.distill_weight * self.distillation(out, texts, videos, negatives)
        terms["loss"] = sum(terms.values())
        return terms

    def distillation(self, out: FinstaOutput, texts: structure.TextParts, videos: structure.VideoParts,
                     negatives: HardNegatives | None) -> torch.Tensor:
        """The host's caption-clip similarity distributions pulled toward the structure path's (teacher detached):
            clip i over the batch's captions and the negatives' rewritten captions (v2t), caption i over the clips
            (t2v): (KL(p_struct || p_host)_v2t + KL(...)_t2v) / 2 with losses.similarity_distillation,
        host logits cos / temperature, teacher logits structure score / distill_teacher_temperature."""
        candidates = texts
        host_negatives = out.backbone_text[:0]
        rows = torch.arange(len(texts), device=out.backbone_text.device)
        if negatives is not None and negatives.worded.numel():
            candidates = structure.concat_texts([texts, negatives.parts])
            host_negatives = negatives.host_text
            rows = torch.cat([rows, len(texts) + negatives.worded])
        with torch.no_grad():
            teacher = self.structure_scores(candidates, videos)[rows] / self.config.distill_teacher_temperature
        host_v2t = losses.retrieval_logits(out.backbone_video, out.backbone_text, host_negatives,
                                           self.config.temperature)
        host_t2v = losses.retrieval_logits(out.backbone_text, out.backbone_video, None, self.config.temperature)
        return (losses.similarity_distillation(host_v2t, teacher.t())
                + losses.similarity_distillation(host_t2v, teacher[:len(texts)])) / 2


class BackboneOnly(nn.Module):
    """The host model trained alone (its own pooled InfoNCE): the baseline Finsta is compared with. With
    config.use_hard_negatives it also meets the structure-swapped captions Finsta sees (negatives.batch_negatives,
    their rewritten caption texts) in a NegCLIP-style video->text InfoNCE: the fair baseline."""

    def __init__(self, backbone: nn.Module, config: FinstaConfig = FinstaConfig()):
        super().__init__()
        self.backbone, self.config = backbone, config
        self.video_head = nn.Linear(backbone.embed_dim, config.dim)
        self.text_head = nn.Linear(backbone.embed_dim, config.dim)

    def forward(self, text, video) -> BackboneOutput:
        captions = self.backbone.encode_text(list(text.caption)).pooled
        return BackboneOutput(backbone_video=self.video_head(self.backbone.encode_video(video.frames).pooled),
                              backbone_text=self.text_head(captions))

    def compute_losses(self, text, video) -> dict:
        out = self(text, video)
        terms = {"backbone_nce": losses.info_nce(out.backbone_video, out.backbone_text, self.config.temperature)}
        made = batch_negatives(text, random.Random(int(torch.randint(2**31, (1,))))) if (
            self.config.use_hard_negatives) else []
        host_text, worded = host_negatives(self.backbone, self.text_head, [n.caption for _, n in made])
        if worded.numel():
            terms["host_negatives"] = losses.hard_negative_nce(out.backbone_video, out.backbone_text, host_text,
                                                               self.config.temperature)
        terms["loss"] = sum(terms.values())
        return terms
