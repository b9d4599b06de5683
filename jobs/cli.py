"""One argparse parser per job, made from the job's frozen config dataclass: --field-name per field.

A field whose type is itself a config dataclass (TrainConfig.model: FinstaConfig) adds its fields as flags of their
own, in a group. Every field needs help text (`metadata["help"]`); a field may name its `metadata["choices"]`.

  python -m jobs.cli MODULE:CLASS [FLAGS | --help]    the config those flags make (or the flags), running nothing
"""

import argparse
import dataclasses
import importlib
import json
import sys
import types
import typing


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


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
    parser = argparse.ArgumentParser(description=description, formatter_class=HelpFormatter)
    add_fields(parser, config_class)
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
    `error: ...`, exit code 2, when the parser is given."""
    try:
        config = build(config_class, vars(args))
    except ValueError as error:
        if parser is None:
            raise
        parser.error(str(error))
    print(f"{config_class.__name__} " + json.dumps(dataclasses.asdict(config), indent=2, default=str), flush=True)
    return config


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=HelpFormatter)
    parser.add_argument("config", help="a config dataclass as MODULE:CLASS, e.g. model.trainer:TrainConfig")
    parser.add_argument("flags", nargs=argparse.REMAINDER, help="flags to parse into it (--help lists them)")
    args = parser.parse_args(argv)
    module, _, name = args.config.partition(":")
    config_class = getattr(importlib.import_module(module), name)
    config_parser = parser_for(config_class, f"the flags of {args.config}")
    config_from_args(config_class, config_parser.parse_args(args.flags), config_parser)
    return 0


if __name__ == "__main__":
    sys.exit(main())
