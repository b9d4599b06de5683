"""The learned part: one small classifier per decision over hashed sparse features of the spaCy parse."""

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass(frozen=True)
class ClassifierConfig:
    n_buckets: int = field(default=1 << 16, metadata={"help": "hash buckets for feature strings, per decision"})
    dim: int = field(default=32, metadata={"help": "width of the summed feature embedding (the hidden layer)"})


class HashedFeatureClassifier(nn.Module):
    """Class scores of candidates described by bags of hashed features.

        h = ReLU(sum_{f in F} E[f] + b),   logits = W h + c

    Input: ids (N_features,) long, all candidates' bucket ids concatenated; offsets (B,) long, where each
    candidate's ids start. Output: logits (B, n_classes).
    """

    def __init__(self, n_classes: int, n_buckets: int, dim: int):
        super().__init__()
        self.embedding = nn.EmbeddingBag(n_buckets, dim, mode="sum")
        self.bias = nn.Parameter(torch.empty(dim))
        self.out = nn.Linear(dim, n_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.embedding.weight, std=0.02)
        nn.init.zeros_(self.bias)
        self.out.reset_parameters()

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.embedding(ids, offsets) + self.bias))


def pack(id_lists: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, offsets) for HashedFeatureClassifier from one list of bucket ids per candidate."""
    offsets, total = [], 0
    for ids in id_lists:
        offsets.append(total)
        total += len(ids)
    flat = [i for ids in id_lists for i in ids]
    return torch.tensor(flat, dtype=torch.long), torch.tensor(offsets, dtype=torch.long)
