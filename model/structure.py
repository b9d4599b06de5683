"""The structural score of a (caption, clip) pair: Finsta's fine-grained alignment read as a retrieval score.

A pooled graph embedding keeps which objects, attributes and predicates occur but loses who does what to whom, so
"the yellow square ... the green star" and "the green square ... the yellow star" pool alike. The structural score
compares the two graphs part by part, through the holistic scene graph's coreference edges:

    s(T, V) = mean of the terms present among
        coarse      cos(g_T, g_V)                                       pooled GTrm vs pooled R-GTrm (graph path)
        objects     mean_{o in objects(T)} max_{n in V} cos(h_o, m_n)   each text object node against its best
                                                                        video node (what OSC trains)
        predicates  mean_{r in relations(T)} cos(P_t h_r, P_v[m_s, m_o, m_s - m_o])
                                                                        each relation node against the predicate of
                                                                        the tracks its subject and object ground to
                                                                        in V (what PTC trains)
        relation    mean_{r in relations(T)} max_{q in DSG relations of s (to o)} cos(w_r, w_q)
        edges                                                           each relation's words against the words of
                                                                        the DSG relations its grounded subject has
                                                                        (alone or with its grounded object); 0 when
                                                                        it has none
        order       mean_{a before b in T} tanh(t_b - t_a)              each "before" edge against when its two
                                                                        relations happen in V: t_r, in keyframes, is
                                                                        the softmax(cos / 0.1)-weighted keyframe of
                                                                        the DSG relations of the relation-edges term
where h are GTrm states, m R-GTrm states, and a text object o grounds to the tracks g of V by the learned coreference
scores s_og (hsg.CoreferenceScorer on h_o and the track's mean state): m_s = sum_g softmax_g(s_sg) m_g with m_g the
track's state on its latest keyframe (soft, so the predicate term trains the coreference scores), and the relation
words and order terms read the DSG relations of the best track, argmax_g s_sg. Without HSG cross edges a relation is
compared with the mean track of the clip instead.

Captions and clips are encoded once, into flat TextParts / VideoParts (all graphs of a batch concatenated, with the
graph of every row); any caption can then be scored against any clip, which retrieval (N x N) and the hard
negatives (a caption's structure-swapped variants against its own clip) need, all pairs at once.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch_geometric.utils import scatter

from model import hsg
from model.data import EDGE_KINDS, NODE_KINDS, relation_objects

LOCALISE = 0.1  # softmax temperature over a relation's DSG matches when placing it in time


@dataclass
class Heads:
    """The learned parts of the score: the video predicate head P_v and the HSG coreference scorer."""
    video_predicate: Callable[[torch.Tensor], torch.Tensor]    # [R, 3d] -> [R, d]
    coreference: "hsg.CoreferenceScorer"
    use_cross_edges: bool = True


@dataclass
class TextParts:
    """M captions. Rows of objects and relations are grouped by caption, in caption order."""
    pooled: torch.Tensor          # [M, d] graph-path text embeddings
    objects: torch.Tensor         # [O, d] GTrm states of the object nodes
    object_text: torch.Tensor     # [O] their caption
    grounding: torch.Tensor       # [O, d] what coreference reads of them (their GTrm states)
    relations: torch.Tensor       # [R, d] text predicates of the relation nodes whose subject is an object node
    relation_words: torch.Tensor  # [R, d] their projected word embeddings
    relation_text: torch.Tensor   # [R] their caption
    subject: torch.Tensor         # [R] row of objects
    object: torch.Tensor          # [R] row of objects, -1 for none
    before_first: torch.Tensor    # [B] row of relations: the earlier event of a "before" edge
    before_second: torch.Tensor   # [B] row of relations: the later one
    before_text: torch.Tensor     # [B] their caption

    def __len__(self) -> int:
        return self.pooled.shape[0]


@dataclass
class VideoParts:
    """K clips."""
    pooled: torch.Tensor          # [K, d] graph-path video embeddings
    nodes: torch.Tensor           # [N, d] R-GTrm memory states
    node_video: torch.Tensor      # [N] their clip
    grounding: torch.Tensor       # [G, d] mean R-GTrm state per track (coreference)
    summary: torch.Tensor         # [G, d] each track's memory state on its latest keyframe
    track_video: torch.Tensor     # [G] their clip
    edge_words: torch.Tensor      # [Q, d] projected word embeddings of the DSG relations (binary and unary)
    edge_subject: torch.Tensor    # [Q] their subject's track
    edge_object: torch.Tensor     # [Q] their object's track, -1 for a unary one
    edge_frame: torch.Tensor      # [Q] their keyframe (float)

    def __len__(self) -> int:
        return self.pooled.shape[0]


def text_parts(text, nodes: torch.Tensor, pooled: torch.Tensor, phrase_embed: torch.Tensor, text_predicate,
               words) -> TextParts:
    """The parts of a text Batch, from GTrm node states [N, d], pooled [B, d], phrase embeddings [N, e] and the
    word projection e -> d."""
    is_object = text.node_kind == NODE_KINDS.index("object")
    row = torch.full((text.num_nodes,), -1, dtype=torch.long, device=nodes.device)
    row[is_object] = torch.arange(int(is_object.sum()), device=nodes.device)
    relation, subject = text.subject_index
    keep = row[subject] >= 0
    relation, subject = relation[keep], subject[keep]
    object_node = relation_objects(text)[relation]
    relation_row = torch.full((text.num_nodes,), -1, dtype=torch.long, device=nodes.device)
    relation_row[relation] = torch.arange(relation.shape[0], device=nodes.device)
    first, second = text.edge_index[:, text.edge_kind == EDGE_KINDS.index("before")]
    both = (relation_row[first] >= 0) & (relation_row[second] >= 0)
    first, second = first[both], second[both]
    return TextParts(
        before_first=relation_row[first], before_second=relation_row[second], before_text=text.batch[first],
        pooled=pooled, objects=nodes[is_object], object_text=text.batch[is_object], grounding=nodes[is_object],
        relations=text_predicate(nodes[relation]), relation_words=words(phrase_embed[relation]),
        relation_text=text.batch[relation], subject=row[subject],
        object=torch.where(object_node >= 0, row[object_node.clamp(min=0)], -1))


def video_parts(video, nodes: torch.Tensor, pooled: torch.Tensor, edge_words: torch.Tensor,
                last_of_track) -> VideoParts:
    """The parts of a video Batch, from R-GTrm states [N, d], pooled [B, d] and the projected words of its binary then
    unary relations [E + U, d]."""
    group, num_groups = hsg.track_groups(video.batch, video.track)
    subject = torch.cat([video.edge_index[0], video.unary_index])
    return VideoParts(
        edge_frame=video.frame[subject].to(nodes.dtype), edge_words=edge_words, edge_subject=group[subject],
        edge_object=torch.cat([group[video.edge_index[1]], torch.full_like(video.unary_index, -1)]),
        pooled=pooled, nodes=nodes, node_video=video.batch,
        grounding=scatter(nodes, group, dim=0, dim_size=num_groups, reduce="mean"),
        summary=nodes[last_of_track(group, video.frame, num_groups)] if num_groups else nodes[:0],
        track_video=scatter(video.batch, group, dim=0, dim_size=num_groups, reduce="max"))


def concat_texts(parts: list[TextParts]) -> TextParts:
    offsets = torch.tensor([0, *[len(p) for p in parts]]).cumsum(0).tolist()
    object_offsets = torch.tensor([0, *[p.objects.shape[0] for p in parts]]).cumsum(0).tolist()
    relation_offsets = torch.tensor([0, *[p.relations.shape[0] for p in parts]]).cumsum(0).tolist()
    return TextParts(
        before_first=torch.cat([p.before_first + o for p, o in zip(parts, relation_offsets)]),
        before_second=torch.cat([p.before_second + o for p, o in zip(parts, relation_offsets)]),
        before_text=torch.cat([p.before_text + o for p, o in zip(parts, offsets)]),
        pooled=torch.cat([p.pooled for p in parts]), objects=torch.cat([p.objects for p in parts]),
        object_text=torch.cat([p.object_text + o for p, o in zip(parts, offsets)]),
        grounding=torch.cat([p.grounding for p in parts]), relations=torch.cat([p.relations for p in parts]),
        relation_words=torch.cat([p.relation_words for p in parts]),
        relation_text=torch.cat([p.relation_text + o for p, o in zip(parts, offsets)]),
        subject=torch.cat([p.subject + o for p, o in zip(parts, object_offsets)]),
        object=torch.cat([torch.where(p.object >= 0, p.object + o, -1) for p, o in zip(parts, object_offsets)]))


def concat_videos(parts: list[VideoParts]) -> VideoParts:
    offsets = torch.tensor([0, *[len(p) for p in parts]]).cumsum(0).tolist()
    track_offsets = torch.tensor([0, *[p.summary.shape[0] for p in parts]]).cumsum(0).tolist()
    return VideoParts(
        edge_frame=torch.cat([p.edge_frame for p in parts]), edge_words=torch.cat([p.edge_words for p in parts]),
        edge_subject=torch.cat([p.edge_subject + o for p, o in zip(parts, track_offsets)]),
        edge_object=torch.cat([torch.where(p.edge_object >= 0, p.edge_object + o, -1)
                               for p, o in zip(parts, track_offsets)]),
        pooled=torch.cat([p.pooled for p in parts]), nodes=torch.cat([p.nodes for p in parts]),
        node_video=torch.cat([p.node_video + o for p, o in zip(parts, offsets)]),
        grounding=torch.cat([p.grounding for p in parts]), summary=torch.cat([p.summary for p in parts]),
        track_video=torch.cat([p.track_video + o for p, o in zip(parts, offsets)]))


def rows_per_pair(row_owner: torch.Tensor, owners: int, owner_of_pair: torch.Tensor):
    """Expand each pair to the rows its owner has (rows grouped by owner).

    -> (pair of each expanded row, row, shift [P]): expanded position of pair p's copy of row r = shift[p] + r."""
    counts = torch.bincount(row_owner, minlength=owners)
    starts = counts.cumsum(0) - counts
    per_pair = counts[owner_of_pair]
    pair = torch.repeat_interleave(torch.arange(owner_of_pair.shape[0], device=per_pair.device), per_pair)
    shift = (per_pair.cumsum(0) - per_pair) - starts[owner_of_pair]
    return pair, torch.arange(pair.shape[0], device=pair.device) - shift[pair], shift


def masked_cosine(a: torch.Tensor, b: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    return (F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).t()).masked_fill(~allowed, float("-inf"))


def pair_scores(texts: TextParts, videos: VideoParts, text_index: torch.Tensor, video_index: torch.Tensor,
                heads: Heads) -> torch.Tensor:
    """s(texts[text_index[p]], videos[video_index[p]]) for every pair p -> [P] (differentiable)."""
    num_pairs = text_index.shape[0]
    total = F.cosine_similarity(texts.pooled[text_index], videos.pooled[video_index], dim=-1)
    terms = torch.ones_like(total)

    pair, row, _ = rows_per_pair(texts.object_text, len(texts), text_index)
    if row.numel() and videos.nodes.shape[0]:
        best = masked_cosine(texts.objects[row], videos.nodes,
                             videos.node_video.unsqueeze(0) == video_index[pair].unsqueeze(1)).max(dim=1).values
        found = torch.isfinite(best)
        objects = scatter(best[found], pair[found], dim=0, dim_size=num_pairs, reduce="mean")
        has = torch.bincount(pair[found], minlength=num_pairs) > 0
        total, terms = total + objects * has, terms + has

    pair, row, shift = rows_per_pair(texts.relation_text, len(texts), text_index)
    if row.numel() and videos.summary.shape[0]:
        in_clip = videos.track_video.unsqueeze(0) == video_index[pair].unsqueeze(1)
        valid = in_clip.any(dim=1)  # the clip has tracks (else grounding picks an arbitrary one, left out below)
        if heads.use_cross_edges:
            def grounded(object_rows):
                scores = heads.coreference.matrix(texts.grounding[object_rows.clamp(min=0)], videos.grounding)
                scores = scores.masked_fill(~in_clip, float("-inf"))
                weights = torch.softmax(scores.masked_fill(~valid.unsqueeze(1), 0.0), dim=1)
                return weights @ videos.summary, scores.argmax(dim=1)
            has_object = texts.object[row] >= 0
            (s, subject_track), (o, object_track) = grounded(texts.subject[row]), grounded(texts.object[row])
            o = torch.where(has_object.unsqueeze(1), o, 0.0)
            # The DSG relations of the subject's track, alone or towards the object's track.
            own = (videos.edge_subject.unsqueeze(0) == subject_track.unsqueeze(1)) & (
                (videos.edge_object.unsqueeze(0) == -1)
                | (has_object.unsqueeze(1) & (videos.edge_object.unsqueeze(0) == object_track.unsqueeze(1))))
        else:
            mean_track = scatter(videos.summary, videos.track_video, dim=0, dim_size=len(videos), reduce="mean")
            s = o = mean_track[video_index[pair]]
            own = (videos.track_video[videos.edge_subject].unsqueeze(0) == video_index[pair].unsqueeze(1))
        predicted = heads.video_predicate(torch.cat([s, o, s - o], dim=1))
        agreement = F.cosine_similarity(texts.relations[row], predicted, dim=1)
        edge_words = torch.zeros_like(agreement)  # a relation the DSG does not have at all scores 0
        seen = torch.zeros_like(valid)
        when = torch.zeros_like(agreement)
        if videos.edge_words.shape[0]:
            similarity = masked_cosine(texts.relation_words[row], videos.edge_words, own)
            best = similarity.max(dim=1).values
            seen = torch.isfinite(best)
            edge_words = torch.where(seen, best, 0.0)
            weights = torch.softmax(similarity.masked_fill(~seen.unsqueeze(1), 0.0) / LOCALISE, dim=1)
            when = weights @ videos.edge_frame
        has = torch.bincount(pair[valid], minlength=num_pairs) > 0
        for values in (agreement, edge_words):
            total = total + scatter(values[valid], pair[valid], dim=0, dim_size=num_pairs, reduce="mean") * has
            terms = terms + has

        edge_pair, edge, _ = rows_per_pair(texts.before_text, len(texts), text_index)
        if edge.numel():
            first = shift[edge_pair] + texts.before_first[edge]
            second = shift[edge_pair] + texts.before_second[edge]
            placed = valid[first] & valid[second] & seen[first] & seen[second]
            order = torch.tanh(when[second] - when[first])
            has = torch.bincount(edge_pair[placed], minlength=num_pairs) > 0
            total = total + scatter(order[placed], edge_pair[placed], dim=0, dim_size=num_pairs, reduce="mean") * has
            terms = terms + has
    return total / terms


def chunked_pair_scores(texts: TextParts, videos: VideoParts, text_index: torch.Tensor, video_index: torch.Tensor,
                        heads: Heads, budget: int = 2**24) -> torch.Tensor:
    """pair_scores in chunks of pairs whose (caption rows x clip rows) similarity blocks hold about `budget` entries."""
    rows_per_text = (texts.objects.shape[0] + texts.relations.shape[0]) / max(1, len(texts))
    video_rows = max(videos.nodes.shape[0], videos.edge_words.shape[0], 1)
    chunk = max(1, int(budget / max(1.0, rows_per_text * video_rows)))
    scores = [pair_scores(texts, videos, text_index[i:i + chunk], video_index[i:i + chunk], heads)
              for i in range(0, text_index.shape[0], chunk)]
    return torch.cat(scores) if scores else texts.pooled.new_zeros(0)


def score_matrix(texts: TextParts, videos: VideoParts, heads: Heads,
                 budget: int = 2**24) -> torch.Tensor:
    """[len(texts), len(videos)] structural scores of every caption against every clip."""
    t, v = torch.meshgrid(torch.arange(len(texts)), torch.arange(len(videos)), indexing="ij")
    t, v = t.flatten().to(texts.pooled.device), v.flatten().to(texts.pooled.device)
    return chunked_pair_scores(texts, videos, t, v, heads, budget).view(
        len(texts), len(videos))


def rerank(similarity: torch.Tensor, score, k: int) -> torch.Tensor:
    """A copy of similarity [queries, items] whose top-k items per query are re-scored by score(queries, items) -> [P]
    and placed above all the others (structural scores lie in [-1, 1]; re-scored entries become 2 + score)."""
    k = min(k, similarity.shape[1])
    items = similarity.topk(k, dim=1).indices.flatten()
    queries = torch.arange(similarity.shape[0], device=similarity.device).repeat_interleave(k)
    reranked = similarity.clone()
    reranked[queries, items] = 2.0 + score(queries, items).to(similarity.dtype)
    return reranked


def hard_negative_loss(true: TextParts, negatives: TextParts, negative_of: torch.Tensor, videos: VideoParts,
                       heads: Heads, temperature: float) -> torch.Tensor:
    """Each clip picks its caption among the caption and its structure-swapped variants by structural score:
        L_i = -log( exp(s(T_i, V_i) / tau) / (exp(s(T_i, V_i) / tau) + sum_k exp(s(N_ik, V_i) / tau)) )
    over the clips that have negatives. negative_of [K]: the clip (= caption) each negative was made from."""
    texts = concat_texts([true, negatives])
    clip = torch.cat([torch.arange(len(true), device=negative_of.device), negative_of])
    text_index = torch.arange(len(texts), device=clip.device)
    logits = pair_scores(texts, videos, text_index, clip, heads) / temperature
    has = torch.bincount(negative_of, minlength=len(true)) > 0
    normaliser = scatter(logits.exp(), clip, dim=0, dim_size=len(true), reduce="sum").log()
    return (normaliser - logits[: len(true)])[has].mean()
