import torch

from model.hsg import coreference, coreference_edges, track_groups


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

