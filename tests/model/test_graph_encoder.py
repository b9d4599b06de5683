import torch

from model.graph_encoder import STGD, GTrm, RGTrm, laplacian_pe


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
    x2[0] += 5.0
    nodes2, _ = model(x2, edge_index, edge_kind, pe, torch.zeros(3, dtype=torch.long), 1)
    assert not torch.allclose(nodes[1], nodes2[1])  # a neighbour's change reaches node 1
    torch.testing.assert_close(nodes[2], nodes2[2])  # but not the isolated node 2


def track_graph(frames=(0, 1, 2), boxes=None):
    """One track seen on three keyframes, linked 0 -> 1 -> 2."""
    n = len(frames)
    boxes = boxes if boxes is not None else torch.tensor([[0.1, 0.1, 0.3, 0.3]] * n)
    link_index = torch.tensor([[0, 1], [1, 2]])
    return torch.tensor(frames), boxes, link_index


def test_rgtrm_shapes_gradients_and_memory():
    torch.manual_seed(0)
    frame, box, links = track_graph()
    model = RGTrm(dim=16, num_heads=4)
    x = torch.randn(3, 16, requires_grad=True)
    no_edges, no_attr = torch.zeros(2, 0, dtype=torch.long), torch.zeros(0, 16)
    out = model(x, no_edges, no_attr, links, frame, box)
    assert out.shape == (3, 16)
    weights = torch.randn(16)
    (out[2] * weights).sum().backward()
    # With no spatial edges, the last node hears the first one only through the temporal memory.
    assert x.grad[0].abs().sum() > 0
    x.grad = None
    model_no_links = RGTrm(dim=16, use_temporal_links=False)
    (model_no_links(x, no_edges, no_attr, links, frame, box)[2] * weights).sum().backward()
    assert x.grad[0].abs().sum() == 0


def test_rgtrm_spatial_step_uses_relation_edges():
    torch.manual_seed(0)
    model = RGTrm(dim=16).eval()
    x = torch.randn(2, 16)
    frame, box = torch.zeros(2, dtype=torch.long), torch.tensor([[0.0, 0.0, 0.2, 0.2], [0.5, 0.5, 0.7, 0.7]])
    links = torch.zeros(2, 0, dtype=torch.long)
    predicate_a, predicate_b = torch.randn(1, 16), torch.randn(1, 16)
    edge = torch.tensor([[0], [1]])
    a = model(x, edge, predicate_a, links, frame, box)
    b = model(x, edge, predicate_b, links, frame, box)
    assert not torch.allclose(a, b)  # the predicate on the edge changes the states


def test_stgd_kernel_separates_still_and_moving_objects():
    stgd = STGD(dim=8, sigma=0.1)
    still = torch.tensor([[0.1, 0.1, 0.3, 0.3]])
    moved = torch.tensor([[0.5, 0.1, 0.7, 0.3]])
    kernel_still, motion_still = stgd(still, still, torch.ones(1))
    kernel_moving, motion_moving = stgd(still, moved, torch.ones(1))
    assert kernel_still.item() == 1.0
    assert kernel_moving.item() < 0.01
    assert motion_still.shape == (1, 8)
    assert not torch.allclose(motion_still, motion_moving)
    kernel_moving.sum().backward()
    assert stgd.log_sigma.grad is not None and stgd.log_sigma.grad != 0
