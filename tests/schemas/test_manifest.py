import copy

import pytest

from schemas import dsg, manifest, tsg

RECORD = {"shard": "part-00000", "stage": "tsg", "path": "tsg/ab12/part-00000.parquet", "num_rows": 3, "ok": 2,
          "error": 1, "bytes": 1200, "sha256": "f" * 64}


def test_a_stage_record_validates():
    manifest.validate_record(dict(RECORD))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r.pop("sha256"), "STAGE_RECORD_SCHEMA"),
        (lambda r: r.update(ok=3), "num_rows = 3"),
        (lambda r: r.update(stage="video"), "stage 'video'"),
        (lambda r: r.update(num_rows="3"), "part-00000"),
    ],
)
def test_bad_stage_records_are_rejected(change, message):
    bad = dict(RECORD)
    change(bad)
    with pytest.raises(ValueError, match=message):
        manifest.validate_record(bad)


def stage_manifest():
    shard = {"shard": "part-00000", "tsg_path": "tsg/ab12/part-00000.parquet",
             "dsg_path": "dsg/cd34/part-00000.parquet", "num_rows": 1, "tsg_ok": 1, "tsg_error": 0, "dsg_ok": 1,
             "dsg_error": 0}
    return {"format": manifest.FORMAT, "schema_versions": {"tsg": tsg.SCHEMA_VERSION, "dsg": dsg.SCHEMA_VERSION,
                                                        "manifest": manifest.SCHEMA_VERSION},
            "dataset": "demo", "created": "2026-12-04T00:00:00+00:00", "pipeline_config": {},
            "detector": {"weights": "w.pt", "sha256": "ab"},
            "text_parser": {"spacy_model": "m", "spacy_model_version": "1"}, "shards": [shard],
            "status_counts": {"tsg": {"ok": 1, "error": 0}, "dsg": {"ok": 1, "error": 0}},
            "stages": {"tsg": {"dir": "tsg/ab12"}, "dsg": {"dir": "dsg/cd34"}}}


def test_shard_paths_must_lie_in_the_stage_folders_the_manifest_names():
    manifest.validate(stage_manifest())
    moved = copy.deepcopy(stage_manifest())
    moved["stages"]["tsg"]["dir"] = "tsg/other"
    with pytest.raises(ValueError, match="outside stages\\['tsg'\\]"):
        manifest.validate(moved)
    unknown = copy.deepcopy(stage_manifest())
    unknown["stages"]["audio"] = {"dir": "audio/x"}
    with pytest.raises(ValueError, match="'stages' must map"):
        manifest.validate(unknown)
