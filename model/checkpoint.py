"""The one checkpoint format: a folder holding state.pt, a torch.save'd dict of tensors and plain values, read back
with torch.load(weights_only=True):
    model            the model's state_dict
    config           dataclasses.asdict of the config it was built from (model.trainer.TrainConfig.from_dict)
    optimizer        the optimizer's state_dict; None for a model saved after training
    step, epoch, batch_in_epoch, resumed_from
                     where training stood and the step it resumed from; None where not known
Ray Train checkpoints (model/trainer.py) and the benchmark's kept model (model/eval/compositional.py) are both this.
"""

import dataclasses
import pickle
from pathlib import Path

import torch
from torch import nn

STATE_FILE = "state.pt"


def save(folder: str | Path, model: nn.Module, config, optimizer: torch.optim.Optimizer | None = None,
         step: int | None = None, epoch: int | None = None, batch_in_epoch: int | None = None,
         resumed_from: int | None = None) -> Path:
    """Write folder/state.pt; returns its path."""
    path = Path(folder) / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict(), "config": dataclasses.asdict(config),
                "optimizer": optimizer.state_dict() if optimizer is not None else None, "step": step,
                "epoch": epoch, "batch_in_epoch": batch_in_epoch, "resumed_from": resumed_from}, path)
    return path


def newest(folder: str | Path) -> Path | None:
    """The newest readable state.pt anywhere under `folder` (by modification time), or None; unreadable ones (a
    run killed while writing) are skipped with a note."""
    folder = Path(folder)
    found = sorted(folder.rglob(STATE_FILE), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    for candidate in reversed(found):
        try:
            torch.load(candidate, map_location="cpu", weights_only=True)
        except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as exc:
            print(f"skipping unreadable checkpoint {candidate.parent}: {exc}", flush=True)
            continue
        return candidate
    return None


def load(path: str | Path) -> dict:
    """The state dict of a state.pt, of a checkpoint folder holding one, or of the newest one under a run folder."""
    path = Path(path)
    if path.is_dir() and (path / STATE_FILE).is_file():
        path = path / STATE_FILE
    found = path if path.is_file() else newest(path)
    if found is None:
        raise FileNotFoundError(f"No readable {STATE_FILE} at or under {path}; expected a {STATE_FILE}, a checkpoint "
                                "folder or a training run folder (make pretrain, make demo and make eval write them).")
    return torch.load(found, map_location="cpu", weights_only=True)
