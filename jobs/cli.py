"""One argparse parser per job, made from the job's frozen config dataclass: --field-name per field, and the one way
every job ends on a known error.

A field whose type is itself a config dataclass (TrainConfig.model: FinstaConfig) adds its fields as flags of their
own, in a group. Every field needs help text (`metadata["help"]`); a field may name its `metadata["choices"]`.
A known error (a ValueError or OSError: the project raises those for bad input, naming the input and the fix) ends a
job run through `run_job` in one line on stderr, `error: ...`, exit code 2; anything else is a bug and shows its
traceback; `--debug` shows the traceback of any error.

  python -m jobs.cli MODULE:CLASS [FLAGS | --help]    the config those flags make (or the flags), running nothing
"""

import argparse
import dataclasses
import importlib
import json
import sys
import types
import typing
import warnings

EXIT_INPUT_ERROR = 2
# torch_geometric's import calls torch.jit.script, which torch 2.14 deprecates: two lines of stderr in every job
# that no user can act on.
warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated", category=FutureWarning)
DEBUG_FLAG = "--debug"


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


class Parser(argparse.ArgumentParser):
    """argparse, with its usage errors in the one-line form of every other known error."""

    def error(self, message: str):
        print(one_line(f"{message} — see {self.prog} --help"), file=sys.stderr)
        raise SystemExit(EXIT_INPUT_ERROR)


def one_line(message: str) -> str:
    return "error: " + " ".join(str(message).split())


def is_known(error: BaseException) -> bool:
    """A bad-input error the project raised (ValueError, OSError), not one re-raised by Ray from inside a worker:
    those carry a remote traceback that is worth reading."""
    return isinstance(error, (ValueError, OSError)) and not type(error).__module__.startswith("ray")


def run_job(job_main, argv=None) -> int:
    """job_main(argv)'s exit code; a known error ends it in one line on stderr with exit code 2 (its traceback with
    --debug)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        return job_main(argv)
    except SystemExit as stop:  # argparse: --help, or a usage error already printed in one line
        return stop.code
    except Exception as error:
        if DEBUG_FLAG in argv or not is_known(error):
            raise
        print(one_line(error), file=sys.stderr)
        return EXIT_INPUT_ERROR


def add_flag(parser, field: dataclasses.Field, kind, default) -> None:
    if "help" not in field.metadata:
        raise ValueError(f"config field '{field.name}' has no help text; give it metadata={{'help': '...'}}.")
    if isinstance(kind, types.UnionType):  # `X | None`: parse as X
        kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
    flag = "--" + field.name.replace("_", "-")
    options = {"help": field.metadata["help"], "default": default}
    if default is None and field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
        options["required"] = True
    if "choices" in field.metadata:
        options["choices"] = field.metadata["choices"]
    if kind is bool:
        parser.add_argument(flag, action=argparse.BooleanOptionalAction, **options)
    elif typing.get_origin(kind) is tuple:  # tuple[X, ...]: one or more values
        parser.add_argument(flag, nargs="+", type=typing.get_args(kind)[0], metavar="VALUE", **options)
    else:
        parser.add_argument(flag, type=kind, **options)


def add_fields(parser, config_class, defaults=None) -> None:
    """A flag per field of config_class (defaults from the instance `defaults` when given); a nested config
    dataclass adds its fields in a group of their own."""
    hints = typing.get_type_hints(config_class)
    for field in dataclasses.fields(config_class):
        kind = hints[field.name]
        if defaults is not None:
            default = getattr(defaults, field.name)
        else:
            default = None if field.default is dataclasses.MISSING else field.default
        if dataclasses.is_dataclass(kind):
            group = parser.add_argument_group(f"{field.name} ({kind.__name__})", field.metadata.get("help"))
            add_fields(group, kind, default)
        else:
            add_flag(parser, field, kind, default)


def parser_for(config_class, description: str) -> argparse.ArgumentParser:
    """Flags from the dataclass fields; unknown flags are rejected."""
    parser = Parser(description=description, formatter_class=HelpFormatter)
    add_fields(parser, config_class)
    parser.add_argument(DEBUG_FLAG, action="store_true", help="show the traceback of any error, not one line")
    return parser


def build(config_class, values: dict):
    """config_class from flat flag values: a nested config dataclass takes the values of its own fields."""
    hints = typing.get_type_hints(config_class)
    arguments = {}
    for field in dataclasses.fields(config_class):
        kind = hints[field.name]
        if dataclasses.is_dataclass(kind):
            arguments[field.name] = build(kind, values)
        elif field.name in values:
            value = values[field.name]
            arguments[field.name] = tuple(value) if typing.get_origin(kind) is tuple else value
    return config_class(**arguments)


def config_from_args(config_class, args: argparse.Namespace, parser: argparse.ArgumentParser | None = None):
    """The config the parsed flags describe, printed; a value the config rejects (ValueError) ends the job as
    `error: ...`, exit code 2, when the parser is given (without it, the ValueError is raised: run_job prints it)."""
    try:
        config = build(config_class, vars(args))
    except ValueError as error:
        if parser is None:
            raise
        parser.error(str(error))
    print(f"{config_class.__name__} " + json.dumps(dataclasses.asdict(config), indent=2, default=str), flush=True)
    return config


def main(argv=None) -> int:
    parser = Parser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("config", help="a config dataclass as MODULE:CLASS, e.g. model.trainer:TrainConfig")
    parser.add_argument("flags", nargs=argparse.REMAINDER, help="flags to parse into it (--help lists them)")
    args = parser.parse_args(argv)
    module, _, name = args.config.partition(":")
    config_class = getattr(importlib.import_module(module), name)
    config_parser = parser_for(config_class, f"the flags of {args.config}")
    config_from_args(config_class, config_parser.parse_args(args.flags), config_parser)
    return 0


if __name__ == "__main__":
    sys.exit(run_job(main))
