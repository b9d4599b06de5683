"""The compositional benchmark on the demo (make eval):

  python -m jobs.evaluate [--data-root data/demo-bench] [--graphs out/demo-bench/graphs] [--out out/demo-bench/eval]

1. the benchmark demo (640 videos: train, dev, heldout-wording, heldout-composition) and its graph shards, generated
   and built when absent; the hard-negative captions of test_compositional.json parsed into TSG rows; the share of
   caption words the DSG uses verbatim per split (pipeline/demo/benchmark_graphs.py);
2. per host (tiny, sentence) and seed: the host trained alone to its dev plateau, then the same steps alone, with
   the hard negatives Finsta sees and with Finsta (and its ablations), and the zero-step controls, each read once on
   every split
   -> a printed table, OUT/compositional.csv (mean, 95% CI), OUT/compositional_seeds.csv, OUT/compositional.png,
   OUT/targets.txt (MET / NOT MET) (model/eval/compositional.py).
Sizes: --preset default (the defaults below; measured on 2 shared CPUs, graphs built: the tiny host's main rows
29 min for 5 seeds, its trained DSG-text matcher 9 min, its ablations ~24 min a seed; plus ~26 min to build the
graphs once: over 30 minutes, so split seeds across processes and --combine them), --preset quick (tiny sizes, a
24-video demo in its own folder: a smoke test), --preset gpu (one GPU: --device cuda, dim 128, 64 px, 1000
continued steps, every ablation on both hosts and 5 seeds; written for a GPU, not yet run on one):
  python -m jobs.evaluate --preset gpu --out out/demo-bench/eval-gpu
A flag given beside a preset wins over the preset's value. Seeds or hosts can run in parallel processes (each with
its own --seed, --seeds and --out) and be joined into one table afterwards:
  python -m jobs.evaluate --combine out/a/compositional_seeds.csv out/b/compositional_seeds.csv --out out/eval
"""

import dataclasses
import sys
import time
from pathlib import Path

from jobs.cli import config_from_args, parser_for, run_job
from model.eval.compositional import PRESETS, BenchmarkConfig, benchmark, combine
from pipeline.demo.benchmark_graphs import DEMO_SIZES, benchmark_graphs


@dataclasses.dataclass(frozen=True)
class EvaluateConfig:
    data_root: str = dataclasses.field(default="data/demo-bench",
                                       metadata={"help": "benchmark demo folder (generated when absent)"})
    graphs: str = dataclasses.field(default="out/demo-bench/graphs",
                                    metadata={"help": "its graph shards (built when absent)"})
    preset: str = dataclasses.field(default="default", metadata={
        "help": "sizes: default, quick (tests: tiny sizes and a 24-video demo) or gpu", "choices": tuple(PRESETS)})
    # One thread: these models are small, and two threads on a shared 2-core machine ran 7x slower (spin-waiting).
    threads: int = dataclasses.field(default=1, metadata={"help": "torch CPU threads (0: torch's default)"})
    combine: tuple[str, ...] = dataclasses.field(
        default=(), metadata={"help": "compositional_seeds.csv files of earlier runs (seeds or hosts run in separate "
                                      "processes or machines, each with its own --seed and --out): one table of "
                                      "them all into --out, nothing trained"})
    benchmark: BenchmarkConfig = dataclasses.field(
        default=BenchmarkConfig(out="out/demo-bench/eval", keep="out/demo-bench/runs/compositional-finsta"),
        metadata={"help": "hosts, seeds and the training protocol of the benchmark"})


def with_preset(config: EvaluateConfig) -> EvaluateConfig:
    """The preset's sizes wherever the flags left a default; with quick, a demo folder of its own."""
    defaults = EvaluateConfig()
    changed = {f.name: getattr(config.benchmark, f.name) for f in dataclasses.fields(BenchmarkConfig)
               if getattr(config.benchmark, f.name) != getattr(defaults.benchmark, f.name)}
    bench = dataclasses.replace(config.benchmark, **{**PRESETS[config.preset], **changed})
    config = dataclasses.replace(config, benchmark=bench)
    if config.preset == "quick":
        config = dataclasses.replace(
            config, data_root=config.data_root if config.data_root != defaults.data_root else "data/demo-quick",
            graphs=config.graphs if config.graphs != defaults.graphs else "out/demo-quick/graphs")
    return config


def main(argv=None) -> int:
    parser = parser_for(EvaluateConfig, __doc__)
    config = with_preset(config_from_args(EvaluateConfig, parser.parse_args(argv), parser))
    if config.threads:
        import torch

        torch.set_num_threads(config.threads)
    if config.combine:
        combine(list(config.combine), Path(config.benchmark.out).resolve())
        return 0
    started = time.perf_counter()
    bench = dataclasses.replace(config.benchmark, out=str(Path(config.benchmark.out).resolve()),
                                keep=str(Path(config.benchmark.keep).resolve()) if config.benchmark.keep else "")
    graphs = Path(config.graphs).resolve()
    negatives, split_of = benchmark_graphs(Path(config.data_root).resolve(), graphs, bench.out,
                                           DEMO_SIZES.get(config.preset, DEMO_SIZES["default"]))
    benchmark(bench, graphs, negatives, split_of)
    print(f"wall time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(run_job(main))
