"""One argparse parser per job, made from the job's frozen config dataclass: --field-name per field."""

import argparse
import dataclasses
import json
import types
import typing


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    pass


def parser_for(config_class, description: str) -> argparse.ArgumentParser:
    """Flags from the dataclass fields; a field's help is its `metadata["help"]`."""
    parser = argparse.ArgumentParser(description=description, formatter_class=HelpFormatter)
    hints = typing.get_type_hints(config_class)
    for field in dataclasses.fields(config_class):
        kind = hints[field.name]
        if isinstance(kind, types.UnionType):  # `X | None`: parse as X
            kind = next(arg for arg in typing.get_args(kind) if arg is not type(None))
        flag = "--" + field.name.replace("_", "-")
        required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        default = None if required else field.default
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default,
                                help=field.metadata.get("help", " "))
        else:
            parser.add_argument(flag, type=kind, default=default, required=required,
                                help=field.metadata.get("help", " "))
    return parser


def config_from_args(config_class, args: argparse.Namespace):
    names = {field.name for field in dataclasses.fields(config_class)}
    config = config_class(**{k: v for k, v in vars(args).items() if k in names})
    print(f"{config_class.__name__} " + json.dumps(dataclasses.asdict(config), indent=2, default=str), flush=True)
    return config
