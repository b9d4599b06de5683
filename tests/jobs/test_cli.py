"""jobs/cli.py: flags made from a config dataclass, and the --help of every job in jobs/."""

import argparse
import runpy
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jobs.cli import config_from_args, parser_for

ROOT = Path(__file__).resolve().parents[2]
# __main__ is the finsta dispatcher (tests/jobs/test_front_door.py), not a job
JOBS = sorted(p.stem for p in (ROOT / "jobs").glob("*.py") if p.stem not in ("__init__", "__main__"))


@dataclass(frozen=True)
class Inner:
    dim: int = field(default=8, metadata={"help": "width"})
    use_x: bool = field(default=True, metadata={"help": "use x"})


@dataclass(frozen=True)
class Outer:
    graphs: str = field(metadata={"help": "shard folder"})
    limit: int | None = field(default=None, metadata={"help": "only the first N"})
    verbose: bool = field(default=False, metadata={"help": "say more"})
    sizes: tuple[int, ...] = field(default=(1, 2), metadata={"help": "sizes"})
    mode: str = field(default="a", metadata={"help": "mode", "choices": ("a", "b")})
    inner: Inner = field(default=Inner(dim=4), metadata={"help": "the inner config"})

    def __post_init__(self):
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit is {self.limit}; expected >= 1.")


def parse(*flags: str) -> Outer:
    parser = parser_for(Outer, "test")
    return config_from_args(Outer, parser.parse_args(list(flags)), parser)


def test_defaults_nested_configs_and_typed_values():
    assert parse("--graphs", "/g") == Outer(graphs="/g")
    assert parse("--graphs", "/g").inner.dim == 4  # a nested config's defaults come from the parent's instance
    config = parse("--graphs", "/g", "--limit", "3", "--sizes", "5", "6", "--mode", "b", "--dim", "16")
    assert config == Outer(graphs="/g", limit=3, sizes=(5, 6), mode="b", inner=Inner(dim=16))


def test_bool_flags_turn_on_and_off_at_either_level():
    assert parse("--graphs", "/g", "--verbose").verbose is True
    assert parse("--graphs", "/g", "--verbose", "--no-verbose").verbose is False
    assert parse("--graphs", "/g", "--no-use-x").inner == Inner(dim=4, use_x=False)


@pytest.mark.parametrize(("flags", "message"), [
    ((), "the following arguments are required: --graphs"),
    (("--graphs", "/g", "--bogus", "1"), "unrecognized arguments: --bogus 1"),
    (("--graphs", "/g", "--limit", "many"), "argument --limit: invalid int value: 'many'"),
    (("--graphs", "/g", "--mode", "c"), "argument --mode: invalid choice: 'c'"),
    (("--graphs", "/g", "--verbose=yes"), "argument --verbose/--no-verbose: ignored explicit argument 'yes'"),
    (("--graphs", "/g", "--limit", "0"), "error: limit is 0; expected >= 1."),  # the config's own check
])
def test_bad_flags_end_the_job_with_one_error_line_and_exit_code_2(flags, message, capsys):
    with pytest.raises(SystemExit) as exit_code:
        parse(*flags)
    assert exit_code.value.code == 2 and message in capsys.readouterr().err


def test_a_field_without_help_text_is_refused():
    @dataclass(frozen=True)
    class NoHelp:
        size: int = 1

    with pytest.raises(ValueError, match="'size' has no help text"):
        parser_for(NoHelp, "test")


def run_job(job: str, argv: list[str], monkeypatch) -> int:
    """`python -m jobs.JOB ARGV...` in this process, for flags that end it before any work: its exit code."""
    monkeypatch.setattr(sys, "argv", [f"jobs/{job}.py", *argv])
    with pytest.raises(SystemExit) as exit_code:
        runpy.run_module(f"jobs.{job}", run_name="__main__", alter_sys=True)
    return exit_code.value.code


def help_of(job: str, monkeypatch, capsys) -> tuple[str, argparse.ArgumentParser]:
    """`python -m jobs.JOB --help` in this process: its output and the parser that printed it."""
    printed = []
    print_help = argparse.ArgumentParser.print_help

    def recording_print_help(parser, file=None):
        printed.append(parser)
        print_help(parser, file)

    monkeypatch.setattr(argparse.ArgumentParser, "print_help", recording_print_help)
    assert run_job(job, ["--help"], monkeypatch) == 0, job
    (parser,) = printed
    return capsys.readouterr().out, parser


def flag_entries(text: str) -> list[str]:
    """The entries of a --help's option list, one string per flag: its line and the indented lines under it."""
    entries, current = [], None
    for line in text.split("\noptions:\n", 1)[1].splitlines():
        if line.startswith("  -"):
            current = [line]
            entries.append(current)
        elif line.startswith("   ") and current is not None:
            current.append(line.strip())
        else:  # a group's title or description
            current = None
    return [" ".join(entry) for entry in entries if not entry[0].startswith("  -h, --help")]


@pytest.mark.filterwarnings("ignore:'jobs.cli' found in sys.modules:RuntimeWarning")  # jobs.cli is imported above
@pytest.mark.parametrize("job", JOBS)
def test_every_job_help_exits_0_and_shows_each_flags_help_and_default(job, monkeypatch, capsys):
    text, parser = help_of(job, monkeypatch, capsys)
    flags = [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]
    assert flags or job == "cli", job
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help and action.help.strip(), (job, action.dest)
        for option in action.option_strings:
            assert option in text, (job, option)
    # ArgumentDefaultsHelpFormatter adds "(default: ...)" to each flag's help; a blank help shows neither.
    entries = flag_entries(text)
    assert len(entries) == len(flags), job
    for entry in entries:
        assert "(default: " in entry, (job, entry)


def test_the_jobs_run_as_modules_from_the_repository_root():
    out = subprocess.run([sys.executable, "-m", "jobs.cli", "jobs.cli_test_missing:Config"], cwd=ROOT,
                         capture_output=True, text=True, check=False)
    assert "No module named 'jobs.cli_test_missing'" in out.stderr  # jobs.cli ran and imported from the root
    out = subprocess.run([sys.executable, "-m", "jobs.cli", "pipeline.viz.report:ReportConfig", "--graphs", "/g",
                          "--out", "/o"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.returncode == 0 and '"graphs": "/g"' in out.stdout  # the config the flags make, printed


@pytest.mark.filterwarnings("ignore:'jobs.cli' found in sys.modules:RuntimeWarning")
@pytest.mark.parametrize("job", [job for job in JOBS if job != "cli"])
def test_every_job_rejects_an_unknown_flag_before_any_work(job, monkeypatch, capsys):
    _, parser = help_of(job, monkeypatch, capsys)
    required = [value for a in parser._actions if a.required for value in (a.option_strings[0], "1")]
    assert run_job(job, [*required, "--bogus-flag", "1"], monkeypatch) == 2
    assert "unrecognized arguments: --bogus-flag 1" in capsys.readouterr().err
