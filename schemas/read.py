"""Read a shard set back: the TSG and DSG rows of each sample side by side in one pyarrow table.

    import schemas
    graphs = schemas.read_graphs("out/demo/graphs", split="val")       # or "s3://bucket/graphs", any pyarrow.fs URI
    frame = graphs.to_pandas()                                          # pandas; rows go to schemas.to_networkx
    graph = schemas.to_networkx(graphs.slice(0, 1), table="dsg")

For a shard set larger than memory, stream it instead: `ray.data.read_parquet(f"{graphs}/{dsg_dir}")` (and the TSG
folder), or `pyarrow.dataset.dataset(...)` of it, where the manifest's `stages["dsg"]["dir"]` names the folder
(`dsg/<settings hash>`); the two files of a shard hold the same samples in the same order.
"""

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs

from schemas import dsg, manifest, tsg
from schemas.common import SAMPLE_KEY_FIELDS, STATUS_FIELDS

KEY_COLUMNS = [f.name for f in SAMPLE_KEY_FIELDS]
STATUS_COLUMNS = [f.name for f in STATUS_FIELDS]


def joined_name(table: str, column: str) -> str:
    """A column's name in the joined table: the sample key once, status columns prefixed by their table
    ("tsg_status", "dsg_error_message"), every other column as in its own table."""
    return f"{table}_{column}" if column in STATUS_COLUMNS else column


def joined_columns() -> list[str]:
    """Every column of read_graphs' table, in order: the sample key, then TSG's columns, then DSG's."""
    columns = list(KEY_COLUMNS)
    for name, module in (("tsg", tsg), ("dsg", dsg)):
        columns += [joined_name(name, c) for c in module.SCHEMA.names if c not in KEY_COLUMNS]
    return columns


def filesystem_and_root(path: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow filesystem of `path` (a local folder or a URI such as s3://bucket/graphs) and the folder in it."""
    path = str(path)
    if "://" in path:
        return pafs.FileSystem.from_uri(path)
    return pafs.LocalFileSystem(), Path(path).resolve().as_posix()


def read_manifest(fs: pafs.FileSystem, root: str) -> dict:
    """The validated manifest.json under `root` on `fs`."""
    location = f"{root}/{manifest.FILENAME}"
    if fs.get_file_info(location).type != pafs.FileType.File:
        raise FileNotFoundError(f"No manifest at {location}; pass the folder that holds manifest.json, tsg/ and "
                                "dsg/ (make build-graphs writes it under OUT/graphs).")
    with fs.open_input_stream(location) as stream:
        document = json.loads(stream.read())
    manifest.validate(document)
    return document


def read_graphs(path, split: str | None = None, columns: list[str] | None = None) -> pa.Table:
    """The joined TSG/DSG rows of the shard set at `path` (a folder or a pyarrow.fs URI), one row per sample.

    Columns (joined_columns()): sample_id, video_id, split once; then the TSG columns (caption, nodes, edges,
    tsg_status, tsg_error_message) and the DSG columns (video_path, ..., temporal_links, dsg_status,
    dsg_error_message); the README's schema reference says what each holds. `split` keeps that split's rows;
    `columns` reads only those (e.g. leave out `keyframes`, the JPEG bytes, which are most of a shard's size).
    Use `.to_pandas()` for pandas, and Ray Data on the stage folders (module docstring) to stream a larger set.
    """
    # Imported here: pyarrow.dataset loads pandas, and `import schemas` needs pyarrow and the standard library only.
    import pyarrow.dataset as ds

    fs, root = filesystem_and_root(path)
    document = read_manifest(fs, root)
    wanted = joined_columns() if columns is None else list(columns)
    unknown = [c for c in wanted if c not in joined_columns()]
    if unknown:
        raise ValueError(f"read_graphs: unknown columns {unknown}; the joined table has {joined_columns()}.")
    row_filter = ds.field("split") == split if split is not None else None
    parts = {}
    for name, module in (("tsg", tsg), ("dsg", dsg)):
        own = [c for c in module.SCHEMA.names if c in KEY_COLUMNS or joined_name(name, c) in wanted]
        files = [f"{root}/{shard[f'{name}_path']}" for shard in document["shards"]]
        if not files:
            parts[name] = module.SCHEMA.empty_table().select(own)
            continue
        dataset = ds.dataset(files, schema=module.SCHEMA, format="parquet", filesystem=fs)
        parts[name] = dataset.to_table(columns=own, filter=row_filter)
    if not parts["tsg"].column("sample_id").equals(parts["dsg"].column("sample_id")):
        raise ValueError(f"read_graphs: the TSG and DSG files under {path} do not hold the same samples in the same "
                         "order; the shard set is damaged. Rebuild it (make build-graphs ... ARGS=--overwrite).")
    names, arrays = [], []
    for name in ("tsg", "dsg"):
        for column in parts[name].column_names:
            joined = column if column in KEY_COLUMNS else joined_name(name, column)
            if joined in wanted and joined not in names:
                names.append(joined)
                arrays.append(parts[name].column(column))
    order = [names.index(c) for c in wanted]
    return pa.table([arrays[i] for i in order], names=[names[i] for i in order])
