import torch

import torch.nn.functional as F
from torch_geometric.utils import scatter

from model.hsg import HSGEncoder, coreference, coreference_edges, track_groups


def test_track_groups_number_each_clip_track_once():
    graph_of = torch.tensor([0, 0, 0, 1, 1])
    track = torch.tensor([3, 5, 3, 3, 3])
    group, count = track_groups(graph_of, track)
    assert count == 3
    assert group[0] == group[2] and group[0] != group[1] and group[3] == group[4] and group[3] != group[0]


def test_coreference_picks_the_closest_track_of_the_same_clip():
    # Clip 0 has tracks "red circle" (nodes 0, 1) and "blue square" (node 2); clip 1 has a "red circle" (node 3).
    red_circle, blue_square = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    video_embed = torch.stack([red_circle, red_circle, blue_square, red_circle])
    group, count = track_groups(torch.tensor([0, 0, 0, 1]), torch.tensor([0, 0, 1, 0]))
    group_graph = torch.tensor([0, 0, 1])
    text_embed = torch.stack([blue_square, red_circle])  # both text objects belong to clip 0
    text_index, groups, rank = coreference(text_embed, torch.tensor([0, 0]), video_embed, group, group_graph, count,
                                           k=1)
    assert text_index.tolist() == [0, 1]
    assert groups.tolist() == [group[2].item(), group[0].item()]
    assert rank.tolist() == [0, 0]
    edges = coreference_edges(text_index, groups, group)
    assert sorted(map(tuple, edges.t().tolist())) == [(0, 2), (1, 0), (1, 1)]  # never clip 1's node 3


def test_coreference_top_k_stays_inside_the_clip():
    video_embed = torch.eye(3)
    group, count = track_groups(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1]))
    _text_index, groups, rank = coreference(torch.ones(1, 3), torch.tensor([0]), video_embed, group,
                                           torch.tensor([0, 1, 1]), count, k=3)
    assert groups.tolist() == [0] and rank.tolist() == [0]


def two_pairs(dim=16, seed=0):
    """Caption 0: object 0 -attr-> 1, 0 -subj-> 2; caption 1: object 3 -subj-> relation 4 -obj-> object 5.
    Clip 0: tracks A (nodes 0, 2) and B (1, 3) on keyframes 0, 1 with relation 0 -> 1; clip 1: track C (4, 5)."""
    generator = torch.Generator().manual_seed(seed)
    video_graph_of = torch.tensor([0, 0, 0, 0, 1, 1])
    group, num_groups = track_groups(video_graph_of, torch.tensor([0, 1, 0, 1, 0, 0]))
    return dict(
        text_x=torch.randn(6, dim, generator=generator), text_edge_index=torch.tensor([[0, 0, 3, 4], [1, 2, 4, 5]]),
        text_edge_kind=torch.tensor([0, 1, 1, 2]), text_graph_of=torch.tensor([0, 0, 0, 1, 1, 1]),
        is_object=torch.tensor([True, False, False, True, False, True]),
        video_x=torch.randn(6, dim, generator=generator), video_edge_index=torch.tensor([[0], [1]]),
        video_edge_attr=torch.randn(1, dim, generator=generator), link_index=torch.tensor([[0, 1, 4], [2, 3, 5]]),
        video_graph_of=video_graph_of, group=group,
        group_graph_of=scatter(video_graph_of, group, dim=0, dim_size=num_groups, reduce="max"))


def test_hsg_encoder_matched_pairs_keep_node_order_and_stay_in_their_clip():
    torch.manual_seed(0)
    inputs = two_pairs()
    out = HSGEncoder(dim=16).eval()(**inputs)
    assert out.text.shape == (6, 16) and out.video.shape == (6, 16) and out.track.shape == (3, 16)
    assert out.text_node.tolist() == list(range(6)) and out.video_node.tolist() == list(range(6))
    # Each text object is a candidate for every track of its own clip and none of the other's.
    candidates = sorted(zip(out.cross_text.tolist(), out.track_group[out.cross_track].tolist()))
    group = inputs["group"]
    assert candidates == sorted([(0, group[0].item()), (0, group[1].item()), (3, group[4].item()),
                                 (5, group[4].item())])
    total = scatter(out.weights, out.cross_text, dim=0, dim_size=6)
    torch.testing.assert_close(total[[0, 3, 5]], torch.ones(3))


def test_hsg_encoder_gradients_reach_the_coreference_scores():
    torch.manual_seed(0)
    encoder = HSGEncoder(dim=16)
    inputs = two_pairs()
    out = encoder(**inputs)
    out.scores.retain_grad()
    (out.text[[0, 3, 5]] * torch.randn(3, 16)).sum().backward()
    assert out.scores.grad.abs().sum() > 0
    assert encoder.coreference.query.weight.grad.abs().sum() > 0
    assert encoder.coreference.key.weight.grad.abs().sum() > 0


def test_coreference_is_learnt_end_to_end():
    torch.manual_seed(0)
    encoder = HSGEncoder(dim=16, num_layers=1)
    inputs = two_pairs()
    group = inputs["group"]
    wanted = torch.tensor([1.0, -1.0]).repeat(8)  # a target that track B carries and track A does not
    inputs["video_x"][[1, 3]] += 2 * wanted
    inputs["text_x"][0] = inputs["video_x"][[0, 2]].mean(0)  # the phrase first looks like track A
    optimiser = torch.optim.Adam(encoder.parameters(), lr=0.02)

    def weight_on_b(out):
        return out.weights[(out.cross_text == 0) & (out.track_group[out.cross_track] == group[1])].sum()

    before = weight_on_b(encoder(**inputs)).item()
    assert before < 0.5
    for _ in range(30):
        out = encoder(**inputs)
        loss = -F.cosine_similarity(out.text[0], wanted, dim=0)  # text object 0 should come to mean track B
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert weight_on_b(encoder(**inputs)).item() > 0.5


def test_hsg_encoder_encodes_each_pair_with_its_own_clip():
    torch.manual_seed(0)
    inputs = two_pairs()
    encoder = HSGEncoder(dim=16).eval()
    pairs = dict(pair_text=torch.tensor([0, 0]), pair_video=torch.tensor([0, 1]))
    out = encoder(**inputs, **pairs)
    assert out.text_pair.tolist() == [0, 0, 0, 1, 1, 1] and out.text_node.tolist() == [0, 1, 2, 0, 1, 2]
    assert out.video_pair.tolist() == [0, 0, 0, 0, 1, 1]
    assert not torch.allclose(out.text[0], out.text[3], atol=1e-4)  # caption 0's object, against clip 0 and clip 1
    changed = dict(inputs, video_x=inputs["video_x"].clone())
    changed["video_x"][4] += torch.randn(16)
    out_changed = encoder(**changed, **pairs)
    torch.testing.assert_close(out_changed.text[:3], out.text[:3])  # clip 1 is not in pair (0, 0)
    assert not torch.allclose(out_changed.text[3], out.text[3], atol=1e-4)
    plain = HSGEncoder(dim=16, num_layers=0)(**inputs, **pairs)  # -HSG encoding: the inputs, copied per pair
    torch.testing.assert_close(plain.text, inputs["text_x"][[0, 1, 2, 0, 1, 2]])


def test_coreference_scorer_starts_as_the_cosine_and_top_k_ranks_it():
    torch.manual_seed(0)
    inputs = two_pairs()
    encoder = HSGEncoder(dim=16)
    encoder.coreference.query.weight.data.normal_()
    encoder.reset_parameters()
    out = encoder(**inputs)
    track_input = scatter(inputs["video_x"], inputs["group"], dim=0, reduce="mean")
    expected = F.cosine_similarity(inputs["text_x"][out.cross_text], track_input[out.track_group[out.cross_track]])
    torch.testing.assert_close(out.scores, expected / 0.1)
    text_row, track_row, rank = out.top_k(1)
    assert text_row.tolist() == [0, 3, 5] and rank.tolist() == [0, 0, 0]
    best_for_0 = out.cross_track[out.cross_text == 0][out.scores[out.cross_text == 0].argmax()]
    assert track_row[0] == best_for_0
    assert out.top_k(2)[0].tolist() == [0, 0, 3, 5]
