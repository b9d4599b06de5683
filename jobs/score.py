"""Score your own captions against the demo's (or any shard set's) clips with a trained run:

  python -m jobs.score --run out/demo-bench/runs/compositional-finsta --graphs out/demo-bench/graphs --pairs pairs.jsonl

pairs.jsonl: one {"sample_id": "<a clip's sample_id>", "caption": "<any caption>"} per line. Each caption is parsed
with the pipeline's parser (pipeline.parse_captions) and scored by the run's Finsta model with graphs (structure
path) and by its host without graphs (backbone path), one line printed per pair: try your own wordings and negatives.
"""

import dataclasses
import json
import sys
from pathlib import Path

from jobs.cli import config_from_args, parser_for, run_job
from model.eval.score import score_captions
from pipeline.demo.benchmark_graphs import parse_texts, shards_caption_parser
from schemas.common import STATUS_OK


@dataclasses.dataclass(frozen=True)
class ScoreConfig:
    run: str = dataclasses.field(metadata={"help": "a trained run: a state.pt, a checkpoint folder or a run folder"})
    graphs: str = dataclasses.field(metadata={"help": "graph shard folder holding the clips named in --pairs"})
    pairs: str = dataclasses.field(metadata={"help": "jsonl file, one {sample_id, caption} per line"})


def read_pairs(path: Path) -> list[dict]:
    if not path.is_file():
        raise FileNotFoundError(f"--pairs {path} not found; expected a jsonl file of {{sample_id, caption}} lines.")
    pairs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    bad = [i + 1 for i, p in enumerate(pairs) if not isinstance(p.get("sample_id"), str)
           or not isinstance(p.get("caption"), str)]
    if bad or not pairs:
        raise ValueError(f"--pairs {path}: line(s) {bad[:5] or 'none'} lack a string sample_id or caption; expected "
                         'one {"sample_id": ..., "caption": ...} per line.')
    return pairs


def main(argv=None) -> int:
    parser = parser_for(ScoreConfig, __doc__)
    config = config_from_args(ScoreConfig, parser.parse_args(argv), parser)
    try:
        pairs = read_pairs(Path(config.pairs))
    except (FileNotFoundError, ValueError) as error:
        parser.exit(2, f"error: {error}\n")
    parsed = parse_texts([p["sample_id"] for p in pairs], [p["caption"] for p in pairs],
                         parser=shards_caption_parser(config.graphs))
    texts = [{k: parsed[k][i] for k in ("sample_id", "caption", "nodes", "edges", "status", "error_message")}
             for i in range(len(pairs))]
    for t in texts:
        if t["status"] != STATUS_OK:
            print(f"{t['sample_id']}\tparse error: {t['error_message']}\t{t['caption']}")
    try:
        scores = score_captions(config.run, config.graphs, [t for t in texts if t["status"] == STATUS_OK])
    except (FileNotFoundError, ValueError) as error:
        parser.exit(2, f"error: {error}\n")
    print("sample_id\tfinsta (with graphs)\thost (no graphs)\tcaption")
    for s in scores:
        finsta = "-" if s["finsta"] is None else f"{s['finsta']:+.4f}"
        print(f"{s['sample_id']}\t{finsta}\t{s['host']:+.4f}\t{s['caption']}")
    return 0


if __name__ == "__main__":
    sys.exit(run_job(main))
