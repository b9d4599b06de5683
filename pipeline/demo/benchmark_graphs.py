"""The compositional benchmark's inputs on the demo (make eval's pipeline half): the demo dataset and its graph
shards, generated and built when absent, the hard-negative captions of test_compositional.json parsed into TSG
rows, and each video's benchmark split (model/eval/compositional.py reads them; it never parses text itself).
"""

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.demo import layout, splits
from pipeline.demo.generate import BENCHMARK, DemoConfig
from pipeline.parse_captions import DEFAULT_PARSER, CaptionParser
from pipeline.runner import BEFORE_THE_SETTING, BuildGraphsConfig, run
from schemas import manifest, tsg
from schemas.common import STATUS_OK

NEGATIVES_FILE = "negatives_tsg.parquet"
OVERLAP_FILE = "word_overlap.txt"
# The demo each benchmark size generates when its folder is absent: the benchmark's, and a small one for --quick.
DEMO_SIZES = {"default": BENCHMARK, "quick": DemoConfig(num_videos=24, split_sizes=(4, 4, 4))}


def benchmark_graphs(data_root: str | Path, graphs: str | Path, out: str | Path,
                     demo: DemoConfig = BENCHMARK) -> tuple[Path, dict[str, str]]:
    """Make sure the demo and its shards exist (ensure_graphs), parse the negatives into out/NEGATIVES_FILE, print and
    write (out/OVERLAP_FILE) the share of caption words the DSG uses verbatim per split; returns (that parquet file,
    {video_id: benchmark split})."""
    data_root, graphs, out = Path(data_root), Path(graphs), Path(out)
    ensure_graphs(data_root, graphs, demo)
    negatives = parse_negatives(data_root, out / NEGATIVES_FILE, shards_caption_parser(graphs))
    overlap = splits.format_overlap(splits.dsg_word_overlap(data_root))
    (out / OVERLAP_FILE).write_text(overlap + "\n")
    print("== caption content words that are DSG label words, per split:\n" + overlap, flush=True)
    return negatives, splits.read_splits(data_root)


def ensure_graphs(data_root: Path, graphs: Path, demo: DemoConfig = BENCHMARK) -> None:
    """Generate the demo (when absent) and build its shards (when missing or short of samples; the build resumes)."""
    if not (data_root / layout.COMPOSITIONAL).is_file():
        from pipeline.demo.generate import generate

        print(f"== generating the demo dataset ({demo.num_videos} videos) into {data_root}", flush=True)
        generate(data_root, demo)
    expected = sum(len(v["sentences"]) for name in layout.SPLIT_FILES.values()
                   for v in json.loads((data_root / name).read_text()).values())
    built = 0
    if (graphs / manifest.FILENAME).is_file():
        built = sum(s["num_rows"] for s in manifest.read(graphs)["shards"])
    if built < expected:
        print(f"== building graph shards of {data_root} into {graphs} ({built} of {expected} samples there)",
              flush=True)
        run(BuildGraphsConfig(dataset="demo", data_root=str(data_root), out=str(graphs)))
    else:
        print(f"== graph shards: {graphs} ({built} samples)", flush=True)


def shards_caption_parser(graphs: str | Path) -> str:
    """The caption parser a shard set was built with: captions scored against it are parsed the same way."""
    return manifest.read(graphs)["pipeline_config"].get("caption_parser", BEFORE_THE_SETTING["caption_parser"])


def parse_texts(sample_ids: list[str], captions: list[str], video_ids: list[str] | None = None,
                split: str = "", parser: str = DEFAULT_PARSER) -> dict:
    """Captions -> TSG columns (tsg.SCHEMA names, one list each) through the pipeline's parser; a caption it cannot
    parse is a row with status 'error' saying why."""
    n = len(sample_ids)
    return CaptionParser(parser=parser)({"sample_id": list(sample_ids), "video_id": list(video_ids or [""] * n),
                                         "split": [split] * n, "caption": list(captions), "status": [STATUS_OK] * n,
                                         "error_message": [None] * n})


def parse_negatives(data_root: Path, path: Path, parser: str) -> Path:
    """test_compositional.json's negative captions -> TSG rows (+ clip_sample_id, negative_index, kind), a parquet file.

    A negative's sample_id is '{clip sample_id}/negative-{index}' (sample ids are unique within a TSG table)."""
    entries = json.loads((data_root / layout.COMPOSITIONAL).read_text())
    keys = [(e, i, n) for e in entries for i, n in enumerate(e["negatives"])]
    rows = parse_texts([f"{e['sample_id']}/negative-{i}" for e, i, _ in keys], [n["caption"] for _, _, n in keys],
                       [e["video_id"] for e, _, _ in keys], "val", parser)
    table = pa.Table.from_pydict(rows, schema=tsg.SCHEMA)
    table = table.append_column("clip_sample_id", pa.array([e["sample_id"] for e, _, _ in keys], pa.string()))
    table = table.append_column("negative_index", pa.array([i for _, i, _ in keys], pa.int32()))
    table = table.append_column("kind", pa.array([n["kind"] for _, _, n in keys], pa.string()))
    tsg.validate(table)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    errors = sum(s != STATUS_OK for s in rows["status"])
    print(f"== {len(keys)} negative captions of {len(entries)} val clips parsed ({errors} errors) -> {path}",
          flush=True)
    return path
