import pytest
import torch

from model.backbones import build_backbone
from model.data import ShardStream, loader
from model.eval.retrieval import recall_at_k, retrieval, score_pairs
from model.finsta import (BackboneOnly, FinstaConfig, FinstaModel, FinstaOutput, last_of_track, links_in_order,
                          roi_pool, shuffled_frames)


@pytest.fixture(scope="module")
def batch(tiny_shards):
    return next(iter(loader(ShardStream(tiny_shards, "train", image_size=32, num_frames=4), batch_size=8)))


def make_model(**flags):
    torch.manual_seed(0)
    return FinstaModel(build_backbone("tiny", image_size=32), FinstaConfig(dim=32, num_layers=1, **flags))


def test_roi_pool_averages_the_patches_inside_the_box():
    tokens = torch.arange(16, dtype=torch.float32).view(1, 1, 16, 1)  # 4 x 4 grid, value = patch index
    box = torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.76, 0.76, 0.99, 0.99]])  # top-left 2x2 patches; a sliver
    pooled = roi_pool(tokens, (4, 4), torch.zeros(2, dtype=torch.long), torch.zeros(2, dtype=torch.long), box)
    assert pooled[:, 0].tolist() == [(0 + 1 + 4 + 5) / 4, 15.0]


def test_links_follow_a_frame_order_and_last_of_track():
    graph_of, track = torch.tensor([0, 0, 0, 0, 1]), torch.tensor([0, 0, 0, 1, 0])
    frame = torch.tensor([2, 0, 1, 0, 0])
    assert links_in_order(graph_of, track, frame, 4).t().tolist() == [[1, 2], [2, 0]]
    assert last_of_track(torch.tensor([0, 0, 0, 1, 2]), frame, 3).tolist() == [0, 3, 4]


def test_shuffled_frames_is_a_permutation_per_clip(batch):
    _, video = batch
    torch.manual_seed(0)
    frame, links = shuffled_frames(video)
    assert not torch.equal(frame, video.frame)
    for graph in range(video.num_graphs):
        nodes = video.batch == graph
        assert sorted(set(frame[nodes].tolist())) == sorted(set(video.frame[nodes].tolist()))
    assert links.shape == video.link_index.shape
    assert torch.all(video.track[links[0]] == video.track[links[1]]) and torch.all(frame[links[0]] < frame[links[1]])


def test_all_losses_are_finite_and_train_every_part(batch):
    model = make_model()
    terms = model.compute_losses(*batch)
    assert set(terms) == {"backbone_nce", "graph_nce", "hard_negatives", "structure_negatives", "host_negatives", "osc",
                          "ptc", "distill", "loss"}
    assert all(torch.isfinite(v) for v in terms.values())
    terms["loss"].backward()
    for part in (model.gtrm, model.rgtrm, model.rgtrm.stgd, model.hsg, model.hsg.coreference, model.backbone.video,
                 model.backbone.text, model.video_predicate, model.region):
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in part.parameters()), part


@pytest.mark.parametrize("flag, term", [("use_coarse", "graph_nce"), ("use_osc", "osc"), ("use_ptc", "ptc"),
                                        ("use_distill", "distill"), ("use_hard_negatives", "hard_negatives")])
def test_each_loss_switches_off(batch, flag, term):
    terms = make_model(**{flag: False}).compute_losses(*batch)
    assert term not in terms and "backbone_nce" in terms


def test_ablations_change_the_model_without_breaking_it(batch):
    base = make_model().compute_losses(*batch)
    for flags in ({"use_stgd": False}, {"use_temporal_links": False}, {"use_cross_edges": False},
                  {"use_object_phrases": False}, {"hsg_layers": 0}):
        terms = make_model(**flags).compute_losses(*batch)
        assert torch.isfinite(terms["loss"]) and not torch.allclose(terms["loss"], base["loss"]), flags


def test_ptc_loss_is_higher_for_frame_shuffled_clips_after_training(batch):
    text, video = batch
    model = make_model(use_coarse=False, use_osc=False, use_distill=False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(60):
        loss = model.compute_losses(text, video)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    real, shuffled = [], []
    with torch.no_grad():
        for seed in range(5):
            torch.manual_seed(seed)
            out = model(text, video, with_shuffle=True)
            real.append(model.ptc(text, video, out).item())
            shuffled.append(model.ptc(text, video, out, shuffled_as_positive=True).item())
    assert sum(shuffled) / 5 > sum(real) / 5 + 0.5, (real, shuffled)


def test_backbone_only_baseline(batch):
    torch.manual_seed(0)
    baseline = BackboneOnly(build_backbone("tiny", image_size=32), FinstaConfig(dim=32, use_hard_negatives=False))
    terms = baseline.compute_losses(*batch)
    assert set(terms) == {"backbone_nce", "loss"}
    assert set(baseline(*batch).paths()) == {"backbone"}


def test_forward_output_shapes_and_normalised_paths(batch):
    text, video = batch
    out = make_model()(text, video, with_shuffle=True)
    assert isinstance(out, FinstaOutput) and set(out.paths()) == {"backbone", "graph"}
    for video_embed, text_embed in out.paths().values():
        assert video_embed.shape == text_embed.shape == (text.num_graphs, 32)
        assert torch.allclose(video_embed.norm(dim=-1), torch.ones(text.num_graphs))
    assert out.text_nodes.shape == (text.num_nodes, 32) and out.video_nodes.shape == (video.num_nodes, 32)
    assert out.video_nodes_shuffled.shape == out.video_nodes.shape and out.frame_shuffled.shape == video.frame.shape
    assert out.group.shape == (video.num_nodes,) and out.group_graph.shape == (out.num_groups,)


def test_recall_at_k_counts_ties_against_the_query():
    similarity = torch.tensor([[0.9, 0.1, 0.0], [0.5, 0.4, 0.0], [0.3, 0.3, 0.3]])
    assert recall_at_k(similarity, ks=(1, 2)) == pytest.approx({"R@1": 100 / 3, "R@2": 200 / 3})


def test_retrieval_reports_both_paths_and_score_pairs(tiny_shards):
    model = make_model()
    stream = ShardStream(tiny_shards, "val", image_size=32, num_frames=4)
    results = retrieval(model, loader(stream, batch_size=3))
    assert results["num_pairs"] == 4
    assert set(results["backbone"]) == {"t2v", "v2t"} and set(results["graph"]["t2v"]) == {"R@1", "R@5", "R@10"}
    assert results["graph"]["t2v"]["R@5"] == 100.0  # only 4 candidates
    pairs = list(stream)
    mismatched = [(pairs[0][0], pairs[1][1]), (pairs[0][0], pairs[0][1])]
    scores = score_pairs(model, mismatched)
    assert scores["graph"].shape == (2,) and scores["backbone"].shape == (2,)
    assert abs(scores["graph"][1].item()) <= 1.0


def test_losses_under_bf16_autocast(batch):
    model = make_model()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        terms = model.compute_losses(*batch)
    terms["loss"].backward()
    assert torch.isfinite(terms["loss"]) and model.gtrm.edge_kind.weight.grad is not None


@pytest.mark.gpu
def test_one_fp16_step_on_cuda(batch):
    model = make_model().cuda()
    text, video = (b.to("cuda") for b in batch)
    scaler = torch.amp.GradScaler()
    with torch.autocast("cuda", dtype=torch.float16):
        terms = model.compute_losses(text, video)
    scaler.scale(terms["loss"]).backward()
    assert torch.isfinite(terms["loss"])


def test_matched_pairs_hsg_picks_tracks_of_the_own_clip(batch):
    text, video = batch
    out = make_model()(text, video)
    assert out.encoded.text.shape == (text.num_nodes, 32) and out.encoded.video.shape == (video.num_nodes, 32)
    assert torch.equal(out.encoded.text_node, torch.arange(text.num_nodes))
    assert out.coreference_text.numel() > 0
    assert torch.equal(text.batch[out.coreference_text], out.group_graph[out.coreference_group])
    assert set(out.coreference_text.tolist()) <= set(out.object_nodes.tolist())


def test_hsg_layers_zero_leaves_the_node_states_unencoded(batch):
    text, video = batch
    plain = make_model(hsg_layers=0)(text, video)
    assert torch.equal(plain.encoded.text, plain.text_nodes) and torch.equal(plain.encoded.video, plain.video_nodes)
    encoded = make_model()(text, video)
    assert not torch.allclose(encoded.encoded.text, encoded.text_nodes)


def test_gradients_reach_the_coreference_scores_and_the_host(batch):
    model = make_model()
    terms = model.compute_losses(*batch)
    terms["structure_negatives"].backward(retain_graph=True)
    assert model.hsg.coreference.query.weight.grad.abs().sum() > 0  # soft grounding in the structure score
    model.zero_grad()
    terms["osc"].backward(retain_graph=True)
    assert model.hsg.coreference.key.weight.grad.abs().sum() > 0  # coreference weights of the HSG messages
    model.zero_grad()
    terms["distill"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.backbone.text.parameters())
    assert model.text_head.weight.grad.abs().sum() > 0
    # the teacher (the structure path) is detached: the distillation does not move it
    for part in (model.video_predicate, model.text_predicate, model.gtrm, model.hsg.coreference):
        assert all(p.grad is None or p.grad.abs().sum() == 0 for p in part.parameters()), part


def test_negatives_reach_the_host_as_rewritten_captions(batch):
    text, _ = batch
    torch.manual_seed(0)
    negatives = make_model().hard_negatives(text)  # same weights as model below (make_model seeds)
    assert negatives.host_text.shape == (negatives.worded.numel(), 32) and negatives.worded.numel() > 0
    model = make_model()
    own = model.text_head(model.backbone.encode_text([text.caption[i] for i in
                                                      negatives.negative_of[negatives.worded].tolist()]).pooled)
    assert (own - negatives.host_text).abs().amax(dim=1).min() > 1e-4  # each reads a different text


def test_similarity_distillation_lowers_the_kl_through_the_model(batch):
    text, video = batch
    model = make_model(use_hard_negatives=False)
    optimizer = torch.optim.Adam([*model.backbone.parameters(), *model.video_head.parameters(),
                                  *model.text_head.parameters()], lr=1e-2)
    history = []
    for _ in range(8):
        out = model(text, video)
        texts, videos = model.structure_parts(text, video, out)
        loss = model.distillation(out, texts, videos, None)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    assert history[-1] < 0.7 * history[0], history


def test_backbone_only_meets_the_same_negative_captions(batch):
    torch.manual_seed(0)
    host = BackboneOnly(build_backbone("tiny", image_size=32), FinstaConfig(dim=32))
    terms = host.compute_losses(*batch)
    assert set(terms) == {"backbone_nce", "host_negatives", "loss"} and torch.isfinite(terms["loss"])
    assert terms["loss"].item() == pytest.approx((terms["backbone_nce"] + terms["host_negatives"]).item())


def test_checkpoint_round_trips_the_new_settings(tmp_path, batch):
    from model import checkpoint
    from model.trainer import TrainConfig, build_model, load_trained

    model_config = FinstaConfig(dim=32, num_layers=1, hsg_layers=2, sigma_space=0.5, sigma_time=3.0,
                                coreference_temperature=0.2, distill_weight=0.5, distill_teacher_temperature=0.1)
    config = TrainConfig(graphs=str(tmp_path), run_dir=str(tmp_path), image_size=32, model=model_config)
    torch.manual_seed(0)
    model = build_model(config)
    checkpoint.save(tmp_path / "ckpt", model, config)
    loaded, loaded_config = load_trained(tmp_path / "ckpt")
    assert loaded_config.model == model_config and len(loaded.hsg.attention) == 2
    assert loaded.hsg.coreference.temperature == 0.2
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
