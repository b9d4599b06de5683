"""The compositional benchmark and ablation table on the demo (make eval):

  python -m jobs.evaluate [--data-root data/demo] [--out out/demo/eval] [--seeds 3] [--max-steps 300]

1. the demo dataset and its graph shards, generated and built when absent (--num-videos sets the size then);
2. the hard-negative captions of test_compositional.json parsed into TSG rows -> OUT/negatives_tsg.parquet
   (pipeline/demo/benchmark_graphs.py);
3. every configuration (backbone alone, backbone + Finsta, eight ablations) trained in this process for the same steps
   on the train split, once per seed, and scored on the val clips -> a printed table, OUT/compositional.csv
   (mean ± std), OUT/compositional_seeds.csv, OUT/compositional.png, OUT/targets.txt (met or not); the full model
   of the first seed is kept for the report's HSG pictures (--keep) (model/eval/compositional.py).
A larger demo and model (more signal; written for a GPU, untested on one here): --data-root data/demo400
--graphs out/demo400/graphs --num-videos 400 --device cuda --max-steps 2000 --image-size 64 --dim 128 --seeds 5.
A quick look on CPU: --seeds 1 --max-steps 100.
"""

import dataclasses
import sys
import time
from pathlib import Path

from jobs.cli import config_from_args, parser_for, run_job
from model.eval.compositional import BenchmarkConfig, benchmark
from pipeline.demo.benchmark_graphs import benchmark_graphs


@dataclasses.dataclass(frozen=True)
class EvaluateConfig:
    data_root: str = dataclasses.field(default="data/demo",
                                       metadata={"help": "demo dataset folder (generated when absent)"})
    graphs: str = dataclasses.field(default="out/demo/graphs",
                                    metadata={"help": "its graph shards (built when absent)"})
    num_videos: int = dataclasses.field(default=40, metadata={"help": "demo size when the demo is generated here"})
    # One thread: these models are small, and two threads on a shared 2-core machine ran 7x slower (spin-waiting).
    threads: int = dataclasses.field(default=1, metadata={"help": "torch CPU threads (0: torch's default)"})
    benchmark: BenchmarkConfig = dataclasses.field(
        default=BenchmarkConfig(out="out/demo/eval", keep="out/demo/runs/compositional-finsta"),
        metadata={"help": "the configurations, seeds and training run of the benchmark"})


def main(argv=None) -> int:
    parser = parser_for(EvaluateConfig, __doc__)
    config = config_from_args(EvaluateConfig, parser.parse_args(argv), parser)
    if config.threads:
        import torch

        torch.set_num_threads(config.threads)
    started = time.perf_counter()
    bench = dataclasses.replace(config.benchmark, out=str(Path(config.benchmark.out).resolve()),
                                keep=str(Path(config.benchmark.keep).resolve()) if config.benchmark.keep else "")
    graphs = Path(config.graphs).resolve()
    negatives = benchmark_graphs(Path(config.data_root).resolve(), graphs, bench.out, config.num_videos)
    benchmark(bench, graphs, negatives)
    print(f"wall time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(run_job(main))
