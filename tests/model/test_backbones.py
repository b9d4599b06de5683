import pytest
import torch

from model.backbones import HashTokenizer, build_backbone, packaged_minilm, tiny_clip_config


def check_interface(backbone):
    frames = torch.rand(2, 3, 3, 32, 32)
    video = backbone.encode_video(frames)
    gh, gw = video.grid
    assert video.tokens.shape[:3] == (2, 3, gh * gw) and video.tokens.shape[3] == backbone.token_dim
    assert video.pooled.shape == (2, backbone.embed_dim)
    text = backbone.encode_text(["a red circle", "the blue square moves left quickly"])
    assert text.pooled.shape == (2, backbone.embed_dim)
    assert text.tokens.shape[:2] == text.mask.shape and text.mask[0].sum() < text.mask[1].sum()
    (video.pooled.square().sum() + text.pooled.square().sum()).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in backbone.parameters())


def test_hash_tokenizer_is_stable_and_padded():
    tokenizer = HashTokenizer(vocab_size=100, max_length=6)
    ids, mask = tokenizer(["Red circle", "a red circle moves left of the square"])
    assert ids.shape == (2, 6) and mask[0].tolist() == [True] * 4 + [False] * 2
    assert ids[0, 1] == ids[1, 2] and ids[0, 3] == 99 and ids[1, -1] == 99  # same word, same id; end token kept


def test_tiny_backbone():
    torch.manual_seed(0)
    check_interface(build_backbone("tiny", image_size=32))


def test_clip_from_config():
    torch.manual_seed(0)
    check_interface(build_backbone("clip:config"))


def test_clip_from_a_local_folder(tmp_path):
    from transformers import AutoTokenizer, CLIPModel

    # A tiny CLIP saved the way a downloaded one is, with a real tokenizer (MiniLM's WordPiece) beside it.
    tokenizer = AutoTokenizer.from_pretrained(packaged_minilm())
    CLIPModel(tiny_clip_config(vocab_size=tokenizer.vocab_size)).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    backbone = build_backbone(f"clip:{tmp_path}")
    assert not isinstance(backbone.tokenizer, HashTokenizer)
    check_interface(backbone)


def test_sentence_backbone_from_the_packaged_minilm(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.manual_seed(0)
    backbone = build_backbone("sentence", image_size=32)
    assert backbone.embed_dim == 384
    check_interface(backbone)
    a, b, c = backbone.encode_text(["a red circle", "a red round shape", "stock market report"]).pooled.detach()
    cosine = torch.nn.functional.cosine_similarity
    assert cosine(a, b, dim=0) > cosine(a, c, dim=0)  # real pretrained weights, not random ones


def test_unknown_backbone_and_missing_folder_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="expected one of"):
        build_backbone("resnet")
    with pytest.raises(FileNotFoundError, match="clip:config"):
        build_backbone(f"clip:{tmp_path / 'nowhere'}")


def test_frame_encoder_tells_small_shapes_on_a_plain_background_apart_at_initialisation():
    # A mean over raw-pixel patches made every demo clip the same vector (cosine 0.999), and training collapsed.
    from model.backbones import FrameEncoder

    torch.manual_seed(0)
    frames = torch.full((6, 2, 3, 32, 32), 0.92)
    for clip in range(6):  # one small square, a different colour and place per clip
        y, x = 4 * clip % 24, (7 * clip) % 24
        frames[clip, :, :, y:y + 6, x:x + 6] = torch.tensor([clip % 2, (clip // 2) % 2, 0.5])[None, :, None, None]
    pooled = torch.nn.functional.normalize(FrameEncoder(dim=32, out_dim=32).eval()(frames).pooled, dim=-1)
    off_diagonal = (pooled @ pooled.t())[~torch.eye(6, dtype=torch.bool)]
    assert off_diagonal.mean() < 0.97
