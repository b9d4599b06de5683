"""Train the project's shape detector: YOLOv8n built from yolov8n.yaml (no pretrained weights) on demo frames.

The detector gets its own, larger set of rendered videos (a different seed from the demo, so none of the demo's
videos are seen in training); mAP50 is reported on that set's held-out videos and on the demo's own val frames.
Every ultralytics output goes under `<data_root>/runs/` (the best checkpoint: runs/shapes/weights/best.pt); it is
copied over the project's demo weights only when `weights_out` names them.
"""

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.demo import layout
from pipeline.demo.generate import DemoConfig, generate


@dataclass(frozen=True)
class DetectorConfig:
    data_root: str = field(default="data/demo", metadata={"help": "demo dataset folder (generated if absent)"})
    detector_videos: int = field(default=80, metadata={"help": "videos rendered for the detector's own data"})
    detector_every: int = field(default=20, metadata={"help": "every n-th frame of those videos becomes an image"})
    detector_seed: int = field(default=1000, metadata={"help": "seed of the detector's videos (not the demo's)"})
    epochs: int = field(default=30, metadata={"help": "training epochs"})
    imgsz: int = field(default=320, metadata={"help": "training and evaluation image size"})
    batch: int = field(default=16, metadata={"help": "images per training batch"})
    device: str = field(default="cpu", metadata={"help": "cpu, 0 (first GPU), ..."})
    seed: int = field(default=0, metadata={"help": "training seed"})
    weights_out: str = field(default="", metadata={"help": "also copy the best checkpoint here; the demo weights the "
                                                   f"pipeline uses are {layout.WEIGHTS} (empty: the run folder only)"})


def ensure_datasets(cfg: DetectorConfig) -> tuple[Path, Path]:
    """The demo dataset and the detector's dataset, generating whichever is missing."""
    demo = Path(cfg.data_root)
    if not (demo / layout.DETECTION / "data.yaml").exists():
        print(f"[detector] generating the demo dataset in {demo}", flush=True)
        generate(demo, DemoConfig())
    detector = demo / "detector_data"
    if not (detector / layout.DETECTION / "data.yaml").exists():
        print(f"[detector] generating {cfg.detector_videos} detector videos in {detector}", flush=True)
        generate(detector, DemoConfig(num_videos=cfg.detector_videos, seed=cfg.detector_seed,
                                      detection_every=cfg.detector_every))
    return demo / layout.DETECTION / "data.yaml", detector / layout.DETECTION / "data.yaml"


def evaluate_map50(weights: str | Path, data_yaml: str | Path, imgsz: int, device: str, project: Path,
                   name: str) -> float:
    """mAP at IoU 0.5 of `weights` on the val split of `data_yaml`."""
    from ultralytics import YOLO

    metrics = YOLO(str(weights)).val(data=str(data_yaml), imgsz=imgsz, device=device, batch=16, workers=0,
                                     plots=False, project=str(project), name=name, exist_ok=True, verbose=False)
    return float(metrics.box.map50)


def train_detector(cfg: DetectorConfig) -> dict:
    """Train, evaluate, copy the best weights to `cfg.weights_out` when given; return the figures."""
    from ultralytics import YOLO

    demo_yaml, detector_yaml = ensure_datasets(cfg)
    runs = (Path(cfg.data_root) / "runs").resolve()
    started = time.time()
    model = YOLO("yolov8n.yaml")
    # No network here: amp's check downloads a model and plots want a font, so both stay off.
    model.train(data=str(detector_yaml.resolve()), epochs=cfg.epochs, imgsz=cfg.imgsz, batch=cfg.batch,
                device=cfg.device, workers=0, plots=False, amp=False, mosaic=0.0, seed=cfg.seed,
                deterministic=True, project=str(runs), name="shapes", exist_ok=True)
    train_seconds = time.time() - started
    best = runs / "shapes" / "weights" / "best.pt"
    if not best.exists():
        raise FileNotFoundError(f"training finished but {best} is missing; see the ultralytics log above.")
    out = Path(cfg.weights_out) if cfg.weights_out else best
    if out != best:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(best, out)
    figures = {
        "weights": str(out),
        "train_seconds": round(train_seconds, 1),
        "map50_detector_val": evaluate_map50(out, detector_yaml.resolve(), cfg.imgsz, cfg.device, runs, "val_own"),
        "map50_demo_val": evaluate_map50(out, demo_yaml.resolve(), cfg.imgsz, cfg.device, runs, "val_demo"),
    }
    print(f"[detector] mAP50 {figures['map50_detector_val']:.3f} on the detector's held-out videos, "
          f"{figures['map50_demo_val']:.3f} on the demo's val frames; {train_seconds / 60:.1f} min of training; "
          f"weights -> {out}", flush=True)
    return figures
