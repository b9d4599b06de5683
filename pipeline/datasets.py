"""Dataset readers: each turns a dataset's own annotation files into sample rows (schemas.common.SAMPLE_SCHEMA).

Readers are generators: rows are yielded as the annotation files are read, so a caller that writes them as they
come (build-graphs cuts them into sample shards) never holds the whole dataset. `annotation_files` names the files
a reader reads, so a caller can tell whether they changed since it last read them.

A sample is one caption segment of one video. A sample that cannot be used (video missing, path outside the
dataset folder, a caption that is null or not text, malformed times) becomes a row with status "error", so it is
counted and never silently lost. A file that cannot be read at all (not JSON) raises, naming the file and line.
`end = inf` means "to the end of the video" (MSR-VTT clips and generic rows without times).
"""

import csv
import json
import math
from collections.abc import Iterator
from pathlib import Path

from schemas.common import STATUS_ERROR, STATUS_OK, make_sample_id

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov", ".m4v", ".mpg", ".mpeg")
ACTIVITYNET_SPLITS = {"train": "train.json", "val": "val_1.json", "val_2": "val_2.json"}
ACTIVITYNET_DEFAULT_SPLITS = DEMO_SPLITS = ("train", "val")
MSRVTT_ANNOTATIONS = "MSRVTT_data.json"
MSRVTT_SPLIT_FILES = (("MSRVTT_train.9k.csv", "train"), ("MSRVTT_JSFUSION_test.csv", "test"))


def caption_text(caption) -> str:
    """A caption as text: stripped; a missing one empty (never the string "None"), any other value its repr."""
    if caption is None:
        return ""
    return caption.strip() if isinstance(caption, str) else repr(caption)


def sample_row(sample_id, video_id, split, video_path, start, end, caption, error=None, where=None,
               previous_captions=None) -> dict:
    """A sample row; a caption that is not text makes it an error row (whatever else is wrong is named first), its
    message starting with `where` (the annotation file and line) or the sample id."""
    if not isinstance(caption, str):
        kind = "missing" if caption is None else f"a {type(caption).__name__} ({caption!r}), not text"
        error = error or f"{where or f'sample {sample_id!r}'}: the caption is {kind}"
    return {
        "sample_id": sample_id, "video_id": video_id, "split": split, "video_path": str(video_path),
        "start": float(start), "end": float(end), "caption": caption_text(caption),
        "previous_captions": None if previous_captions is None else [caption_text(c) for c in previous_captions],
        "status": STATUS_ERROR if error else STATUS_OK, "error_message": error,
    }


def parse_json(text: str, path: Path, line: int = 1):
    """json.loads, with a malformed document named by file and line."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{line + exc.lineno - 1}: not valid JSON ({exc.msg}, column {exc.colno}) — fix that "
                         "line, or point --data-root/--annotations at the dataset's own annotation files.") from exc


def resolve_inside(data_root: Path, relative: str) -> tuple[Path | None, str | None]:
    """(path, None) when `relative` names a file inside data_root, else (None, why); symlinks are followed."""
    root = data_root.resolve()
    if Path(relative).is_absolute():
        return None, f"video path '{relative}' is absolute; give it relative to DATA_ROOT {root}"
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        return None, f"video path '{relative}' resolves to {path}, outside DATA_ROOT {root}; paths must stay inside it"
    return path, None


def index_videos(data_root: Path) -> dict[str, Path]:
    """Map each video file's stem to its path, for datasets that name videos by id only.

    When several files share a stem, the one nearest the root wins (videos/x.mp4 over extra/videos/x.mp4).
    """
    index = {}
    for path in sorted(data_root.rglob("*"), key=lambda p: (len(p.parts), p)):
        if path.suffix.lower() in VIDEO_EXTENSIONS and path.stem not in index:
            index[path.stem] = path
    return index


def find_annotation(data_root: Path, name: str) -> Path:
    for folder in (data_root, data_root / "captions", data_root / "annotations", data_root / "msrvtt_data"):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{name} not found under {data_root} (looked in ., captions/, annotations/, "
                            f"msrvtt_data/) — point DATA_ROOT at the dataset's folder.")


def activitynet_file(data_root: Path, split: str) -> Path:
    """The annotation file of one ActivityNet Captions split."""
    if split not in ACTIVITYNET_SPLITS:
        raise ValueError(f"Unknown ActivityNet split '{split}' — use one of {sorted(ACTIVITYNET_SPLITS)}.")
    return find_annotation(data_root, ACTIVITYNET_SPLITS[split])


def activitynet_files(data_root: Path, splits=ACTIVITYNET_DEFAULT_SPLITS) -> list[Path]:
    return [activitynet_file(data_root, split) for split in splits]


def read_activitynet(data_root: str | Path, splits=ACTIVITYNET_DEFAULT_SPLITS) -> Iterator[dict]:
    """ActivityNet Captions: {video_id: {duration, timestamps, sentences}} per split file; videos found by id.

    A video's sentences are one paragraph: each row carries the sentences before it (previous_captions).
    """
    data_root = Path(data_root)
    videos = index_videos(data_root)
    for split in splits:
        annotation_file = activitynet_file(data_root, split)
        annotations = parse_json(annotation_file.read_text(), annotation_file)
        if not isinstance(annotations, dict):
            raise ValueError(f"{annotation_file}: holds a {type(annotations).__name__}, expected ActivityNet "
                             "Captions' {video_id: {duration, timestamps, sentences}} — point DATA_ROOT at the "
                             "dataset's folder.")
        for video_id, entry in annotations.items():
            entry = entry if isinstance(entry, dict) else {}
            # val_1 and val_2 annotate the same videos, so val_2's ids carry the split to stay unique.
            id_prefix = video_id if split != "val_2" else f"{video_id}@val_2"
            path = videos.get(video_id) or videos.get(video_id.removeprefix("v_"))
            missing = None if path else f"video '{video_id}' not found under {data_root} with any of {VIDEO_EXTENSIONS}"
            timestamps, sentences = entry.get("timestamps", []), entry.get("sentences", [])
            if len(timestamps) != len(sentences):
                missing = missing or (f"video '{video_id}' in {ACTIVITYNET_SPLITS[split]}: {len(timestamps)} "
                                      f"timestamps but {len(sentences)} sentences")
            for i, (times, sentence) in enumerate(zip(timestamps, sentences)):
                error = missing
                start, end = (times if isinstance(times, list) and len(times) == 2 else (0.0, 0.0))
                if not error and not (isinstance(start, (int, float)) and isinstance(end, (int, float))
                                      and 0 <= start < end):
                    error = f"video '{video_id}' segment {i}: timestamps {times} are not [start, end] with start < end"
                where = f"{annotation_file.name}: video '{video_id}' sentence {i}"
                yield sample_row(make_sample_id(id_prefix, i), video_id, split, path or video_id, start, end,
                                 sentence, error, where, previous_captions=sentences[:i])


def msrvtt_files(data_root: Path) -> list[Path]:
    """MSRVTT_data.json, then the split csv files that are present."""
    files = [find_annotation(data_root, MSRVTT_ANNOTATIONS)]
    for name, _ in MSRVTT_SPLIT_FILES:
        try:
            files.append(find_annotation(data_root, name))
        except FileNotFoundError:
            continue
    return files


def read_msrvtt(data_root: str | Path) -> Iterator[dict]:
    """MSR-VTT: MSRVTT_data.json (videos, sentences); splits from the train.9k / test 1k csv files when present."""
    data_root = Path(data_root)
    annotation_file = find_annotation(data_root, MSRVTT_ANNOTATIONS)
    data = parse_json(annotation_file.read_text(), annotation_file)
    split_of = {v["video_id"]: {"validate": "val"}.get(v.get("split", "train"), v.get("split", "train"))
                for v in data["videos"]}
    for name, split in MSRVTT_SPLIT_FILES:
        try:
            with find_annotation(data_root, name).open(newline="") as f:
                for record in csv.DictReader(f):
                    split_of[record["video_id"]] = split
        except FileNotFoundError:
            continue
    videos = index_videos(data_root)
    rows, count = [], {}
    for sentence in data["sentences"]:
        video_id = sentence["video_id"]
        i = count[video_id] = count.get(video_id, -1) + 1
        path = videos.get(video_id)
        error = None if path else f"video '{video_id}' not found under {data_root} with any of {VIDEO_EXTENSIONS}"
        rows.append(sample_row(make_sample_id(video_id, i), video_id, split_of.get(video_id, "train"),
                               path or video_id, 0.0, math.inf, sentence.get("caption"), error,
                               where=f"{annotation_file.name}: video '{video_id}' sentence {i}"))
    # A video's 20 captions side by side land in one DSG batch, which builds their shared clip once.
    yield from sorted(rows, key=lambda row: row["video_id"])


def generic_file(data_root: Path, annotations: str | Path) -> Path:
    """The generic dataset's annotation file: absolute, relative to the working folder, or relative to data_root."""
    annotations = Path(annotations)
    if not annotations.is_absolute() and not annotations.exists():
        annotations = data_root / annotations
    if not annotations.is_file():
        raise FileNotFoundError(f"annotation file {annotations} not found — pass --annotations FILE.jsonl|FILE.csv "
                                "(absolute, or relative to DATA_ROOT).")
    if annotations.suffix not in (".csv", ".jsonl", ".json"):
        raise ValueError(f"annotation file {annotations} ends in '{annotations.suffix}' — give a .jsonl or .csv file.")
    return annotations


def generic_records(annotations: Path) -> Iterator[tuple[int, object]]:
    """(line, record) of each record of a csv (a dict per row) or jsonl file, read a line at a time."""
    if annotations.suffix == ".csv":
        with annotations.open(newline="") as f:
            yield from enumerate(csv.DictReader(f), start=2)  # line 1 is the header
        return
    with annotations.open() as f:
        for line, text in enumerate(f, start=1):
            if text.strip():
                yield line, parse_json(text, annotations, line)


def read_generic(data_root: str | Path, annotations: str | Path) -> Iterator[dict]:
    """A jsonl or csv with `video` (path under data_root), `caption`, optional `start`, `end`, `id`, `split`."""
    data_root = Path(data_root)
    annotations = generic_file(data_root, annotations)
    count = {}
    for line, record in generic_records(annotations):
        if not isinstance(record, dict):
            raise ValueError(f"{annotations}:{line}: a {type(record).__name__}, expected an object with "
                             "video, caption — write one JSON object per line.")
        video = str(record.get("video") or "")
        video_id = Path(video).stem or f"line{line}"
        i = count[video_id] = count.get(video_id, -1) + 1
        sample_id = str(record.get("id") or make_sample_id(video_id, i))
        path, error = resolve_inside(data_root, video) if video else (None, f"{annotations}:{line}: no 'video'")
        if path and not error and not path.is_file():
            error = f"video '{video}' not found at {path}"
        try:
            start = float(record.get("start") or 0.0)
            end = float(record.get("end") or math.inf)
        except ValueError:
            start, end = 0.0, 0.0
            error = error or (f"{annotations}:{line}: start/end {record.get('start')!r}/{record.get('end')!r} "
                              "are not numbers")
        if not error and not 0 <= start < end:
            error = f"{annotations}:{line}: segment [{start}, {end}] needs 0 <= start < end"
        if "caption" not in record:
            error = error or f"{annotations}:{line}: no 'caption' (found {', '.join(sorted(record))})"
        yield sample_row(sample_id, video_id, str(record.get("split") or "train"), path or video, start, end,
                         record.get("caption"), error, where=f"{annotations}:{line}")


def read_demo(data_root: str | Path) -> Iterator[dict]:
    """The project's demo dataset: ActivityNet Captions' train and val files (pipeline/demo/layout.py)."""
    return read_activitynet(data_root, splits=DEMO_SPLITS)


READERS = {"activitynet": read_activitynet, "msrvtt": read_msrvtt, "generic": read_generic, "demo": read_demo}
# The annotation files each reader reads, called with the reader's own arguments.
ANNOTATION_FILES = {"activitynet": activitynet_files, "msrvtt": msrvtt_files,
                    "generic": lambda data_root, annotations: [generic_file(data_root, annotations)],
                    "demo": lambda data_root: activitynet_files(data_root, DEMO_SPLITS)}


def dataset_root(dataset: str, data_root: str | Path) -> Path:
    """`data_root` made absolute, once `dataset` is known and the folder exists."""
    if dataset not in READERS:
        raise ValueError(f"Unknown dataset '{dataset}' — use one of the known datasets: {', '.join(sorted(READERS))}.")
    if not Path(data_root).is_dir():
        raise FileNotFoundError(f"DATA_ROOT {data_root} is not a folder — pass the dataset's folder as --data-root.")
    # Absolute paths: Ray workers on other nodes (or with another working directory) open the videos.
    return Path(data_root).resolve()


def iter_samples(dataset: str, data_root: str | Path, **options) -> Iterator[dict]:
    """Sample rows of `dataset` under `data_root`, in the reader's order, as they are read; an id that occurs twice
    raises when it is reached (checked here, once for every reader)."""
    root = dataset_root(dataset, data_root)
    seen = set()
    for row in READERS[dataset](root, **options):
        if row["sample_id"] in seen:
            raise ValueError(f"Dataset '{dataset}': sample id '{row['sample_id']}' occurs twice — ids must be unique "
                             "(for generic datasets, fix the 'id' column).")
        seen.add(row["sample_id"])
        yield row


def read_samples(dataset: str, data_root: str | Path, **options) -> list[dict]:
    """Every sample row of `dataset` under `data_root` (iter_samples as a list)."""
    return list(iter_samples(dataset, data_root, **options))


def annotation_files(dataset: str, data_root: str | Path, **options) -> list[Path]:
    """The annotation files that `iter_samples` with these arguments reads (the videos are not among them)."""
    return ANNOTATION_FILES[dataset](dataset_root(dataset, data_root), **options)
