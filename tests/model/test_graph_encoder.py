import torch

from model.graph_encoder import (
    STGD,
    GTrm,
    RecurrentGTrm,
    laplacian_pe,
    previous_keyframe_edges,
)


def tiny_tsg():
    """object0 -attr-> attr1; object0 -subj-> rel2 -obj-> object3; rel2 -mod-> mod4 (edge kinds 0, 1, 2, 3)."""
    edge_index = torch.tensor([[0, 0, 2, 2], [1, 2, 3, 4]])
    edge_kind = torch.tensor([0, 1, 2, 3])
    return edge_index, edge_kind, 5


def test_laplacian_pe_is_permutation_equivariant():
    edge_index, _, n = tiny_tsg()
    perm = torch.tensor([3, 0, 4, 1, 2])  # new node i is old node perm[i]
    inverse = torch.argsort(perm)
    pe = laplacian_pe(edge_index, n, k=4)
    pe_permuted = laplacian_pe(inverse[edge_index], n, k=4)
    assert pe.shape == (5, 8)
    assert pe[:, :4].abs().sum() > 0
    torch.testing.assert_close(pe_permuted, pe[perm], atol=1e-5, rtol=0)


def test_gtrm_shapes_and_gradients():
    torch.manual_seed(0)
    edge_index, edge_kind, n = tiny_tsg()
    model = GTrm(dim=16, num_edge_kinds=6, pe_dim=8, num_layers=2, num_heads=4)
    x = torch.randn(n, 16, requires_grad=True)
    nodes, pooled = model(x, edge_index, edge_kind, laplacian_pe(edge_index, n), torch.zeros(n, dtype=torch.long), 1)
    assert nodes.shape == (5, 16) and pooled.shape == (1, 16)
    (pooled * torch.randn(1, 16)).sum().backward()  # a plain sum of LayerNorm outputs has no gradient
    assert x.grad.abs().sum() > 0
    assert model.edge_kind.weight.grad[:4].abs().sum() > 0
    assert model.edge_kind.weight.grad[4:].abs().sum() == 0  # kinds absent from the graph get no gradient


def test_gtrm_pooled_output_ignores_node_order():
    torch.manual_seed(0)
    edge_index, edge_kind, n = tiny_tsg()
    model = GTrm(dim=16, num_layers=2).eval()
    x = torch.randn(n, 16)
    batch = torch.zeros(n, dtype=torch.long)
    _, pooled = model(x, edge_index, edge_kind, laplacian_pe(edge_index, n), batch, 1)
    perm = torch.tensor([3, 0, 4, 1, 2])
    inverse = torch.argsort(perm)
    permuted_edges = inverse[edge_index]
    _, pooled_permuted = model(x[perm], permuted_edges, edge_kind, laplacian_pe(permuted_edges, n), batch, 1)
    torch.testing.assert_close(pooled_permuted, pooled, atol=1e-5, rtol=1e-5)


def test_gtrm_attention_is_masked_by_graph_edges():
    torch.manual_seed(0)
    model = GTrm(dim=16, num_layers=1).eval()
    edge_index, edge_kind = torch.tensor([[0], [1]]), torch.tensor([0])  # node 2 is isolated
    x = torch.randn(3, 16)
    pe = laplacian_pe(edge_index, 3)
    nodes, _ = model(x, edge_index, edge_kind, pe, torch.zeros(3, dtype=torch.long), 1)
    x2 = x.clone()
    x2[0] += 5.0 * torch.randn(16)  # a constant shift would vanish in LayerNorm
    nodes2, _ = model(x2, edge_index, edge_kind, pe, torch.zeros(3, dtype=torch.long), 1)
    assert not torch.allclose(nodes[1], nodes2[1])  # a neighbour's change reaches node 1
    torch.testing.assert_close(nodes[2], nodes2[2])  # but not the isolated node 2


def track_graph(frames=(0, 1, 2), boxes=None):
    """One track seen on three keyframes, linked 0 -> 1 -> 2."""
    n = len(frames)
    boxes = boxes if boxes is not None else torch.tensor([[0.1, 0.1, 0.3, 0.3]] * n)
    link_index = torch.tensor([[0, 1], [1, 2]])
    return torch.tensor(frames), boxes, link_index


def two_clips():
    """Clip 0: tracks A (nodes 0, 2, 4) and B (1, 3, 5) on keyframes 0, 1, 2; clip 1: one track (6, 7) on 0, 1.
    No relation edges: whatever one track learns of another comes through the carried states."""
    frame = torch.tensor([0, 0, 1, 1, 2, 2, 0, 1])
    graph_of = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1])
    link_index = torch.tensor([[0, 1, 2, 3, 6], [2, 3, 4, 5, 7]])
    box = torch.tensor([[0.1, 0.1, 0.3, 0.3], [0.6, 0.6, 0.8, 0.8]] * 3 + [[0.4, 0.4, 0.5, 0.5]] * 2)
    return frame, graph_of, link_index, box


def run_recurrent(model, x, frame, graph_of, link_index, box):
    no_edges, no_attr = torch.zeros(2, 0, dtype=torch.long), torch.zeros(0, x.shape[1])
    return model(x, no_edges, no_attr, link_index, frame, box, graph_of)


def test_previous_keyframe_edges_join_each_node_to_its_clips_last_keyframe():
    frame = torch.tensor([0, 0, 2, 0, 1])  # clip 0 skips keyframe 1; clip 1 has one node per keyframe
    graph_of = torch.tensor([0, 0, 0, 1, 1])
    edges = previous_keyframe_edges(graph_of, frame)
    assert sorted(map(tuple, edges.t().tolist())) == [(0, 2), (1, 2), (3, 4)]


def test_recurrent_gtrm_frame_t_attends_to_every_carried_state():
    torch.manual_seed(0)
    frame, graph_of, link_index, box = two_clips()
    model = RecurrentGTrm(dim=16, num_heads=4).eval()
    x = torch.randn(8, 16)
    out = run_recurrent(model, x, frame, graph_of, link_index, box)
    assert out.shape == (8, 16)
    changed = x.clone()
    changed[0] += 3.0 * torch.randn(16)  # track A on keyframe 0 (a constant shift would vanish in LayerNorm)
    out_changed = run_recurrent(model, changed, frame, graph_of, link_index, box)
    assert not torch.allclose(out[3], out_changed[3], atol=1e-4)  # track B on keyframe 1 hears it: not A's track
    assert not torch.allclose(out[5], out_changed[5], atol=1e-4)  # and carries it on to keyframe 2
    torch.testing.assert_close(out[1], out_changed[1])  # B on keyframe 0 does not see its own keyframe's A
    torch.testing.assert_close(out[6:], out_changed[6:])  # the other clip never does
    later = x.clone()
    later[4] += 3.0 * torch.randn(16)  # keyframe 2 cannot reach back in time
    torch.testing.assert_close(run_recurrent(model, later, frame, graph_of, link_index, box)[:4], out[:4])


def test_recurrent_gtrm_without_temporal_links_encodes_keyframes_alone():
    torch.manual_seed(0)
    frame, graph_of, link_index, box = two_clips()
    model = RecurrentGTrm(dim=16, use_temporal_links=False).eval()
    x = torch.randn(8, 16, requires_grad=True)
    (run_recurrent(model, x, frame, graph_of, link_index, box)[2:4] * torch.randn(2, 16)).sum().backward()
    assert x.grad[:2].abs().sum() == 0 and x.grad[2:4].abs().sum() > 0


def test_recurrent_gtrm_gradients_and_reset():
    torch.manual_seed(0)
    frame, graph_of, link_index, box = two_clips()
    model = RecurrentGTrm(dim=16)
    x = torch.randn(8, 16, requires_grad=True)
    (run_recurrent(model, x, frame, graph_of, link_index, box) * torch.randn(8, 16)).sum().backward()
    assert x.grad.abs().sum() > 0
    assert model.gate.weight.grad.abs().sum() > 0  # the memory gate is on the path
    assert model.edge_roles.weight.grad[2:].abs().sum() > 0  # carry and link edges are attended
    assert model.stgd.temporal.weight.grad.abs().sum() > 0
    before = [p.detach().clone() for p in model.parameters()]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model.reset_parameters()
    changed = [not torch.allclose(a, b) for a, b in zip(before, model.parameters())]
    constant = [p.std() == 0 if p.numel() > 1 else True for p in before]  # LayerNorm ones/zeros return exactly
    assert all(c or k for c, k in zip(changed, constant))
    assert all(torch.allclose(a, b) for a, b, k in zip(before, model.parameters(), constant) if k)  # LN, sigmas


def test_stgd_responds_to_a_moving_object_more_than_to_a_still_one():
    torch.manual_seed(0)
    stgd = STGD(dim=8)
    appearance = torch.randn(1, 8)
    x = appearance.repeat(4, 1)  # two tracks (0 -> 1 still, 2 -> 3 moving), the same appearance throughout
    box = torch.tensor([[0.1, 0.1, 0.3, 0.3], [0.1, 0.1, 0.3, 0.3], [0.1, 0.6, 0.3, 0.8], [0.5, 0.6, 0.7, 0.8]])
    frame, predecessor = torch.tensor([0, 1, 0, 1]), torch.tensor([-1, 0, -1, 2])
    response = stgd(x, torch.zeros(2, 0, dtype=torch.long), predecessor, frame, box)
    assert response.shape == (4, 8)
    assert response[1].norm() == 0  # still: nothing differs
    assert response[3].norm() > 0.05
    changed = x.clone()
    changed[2] += 1.0  # an appearance change is a difference too
    assert stgd(changed, torch.zeros(2, 0, dtype=torch.long), predecessor, frame, box)[3].norm() > response[3].norm()


def test_stgd_weighs_near_neighbours_more_and_learns_its_widths():
    torch.manual_seed(0)
    stgd = STGD(dim=8, sigma_space=0.2)
    x = torch.cat([torch.zeros(1, 8), torch.ones(1, 8), torch.ones(1, 8)])
    box = torch.tensor([[0.0, 0.0, 0.1, 0.1], [0.05, 0.0, 0.15, 0.1], [0.8, 0.8, 0.9, 0.9]])
    none = torch.full((3,), -1)
    near = stgd(x, torch.tensor([[0], [1]]), none, torch.zeros(3, dtype=torch.long), box)
    far = stgd(x, torch.tensor([[0], [2]]), none, torch.zeros(3, dtype=torch.long), box)
    assert near[0].norm() > 2 * far[0].norm() > 0
    far[0].norm().backward()
    assert stgd.log_sigma_space.grad != 0
