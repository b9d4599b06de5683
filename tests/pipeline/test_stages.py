"""Each stage's output lives in a folder keyed by its settings: changing one stage's settings rebuilds that stage."""

import json

import pytest

from pipeline.demo import layout
from pipeline.runner import BuildGraphsConfig, requested_stages, run_plain
from schemas import manifest
from tests.pipeline.test_runner import write_video


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    write_video(root / "a.mp4")
    lines = [{"video": "a.mp4", "caption": f"a red box moves right {i}", "start": 0, "end": 2} for i in range(3)]
    (root / "clips.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return root


def mtimes(folder):
    return {p.name: p.stat().st_mtime_ns for p in folder.glob("*.parquet")}


def test_caption_settings_rebuild_only_the_tsg_and_detector_settings_only_the_dsg(clips, tmp_path):
    out = tmp_path / "graphs"
    base = dict(dataset="generic", data_root=str(clips), out=out.as_uri(), annotations="clips.jsonl",
                weights=str(layout.WEIGHTS), num_frames=2, rows_per_shard=2, dsg_batch_size=1)
    first = run_plain(BuildGraphsConfig(**base))
    dsg_dir, tsg_dir = first["stage_dirs"]["dsg"], first["stage_dirs"]["tsg"]
    dsg_files = mtimes(out / dsg_dir)
    assert first["samples"] == 3 and len(dsg_files) == 3  # 16 shards at most, 1 row at least

    tsg_only = run_plain(BuildGraphsConfig(**(base | {"max_caption_chars": 15})))
    assert tsg_only["stage_dirs"]["dsg"] == dsg_dir and tsg_only["stage_dirs"]["tsg"] != tsg_dir
    assert mtimes(out / dsg_dir) == dsg_files  # the DSG files were not touched
    document = manifest.read(out)
    assert {s["tsg_path"].rsplit("/", 1)[0] for s in document["shards"]} == {tsg_only["stage_dirs"]["tsg"]}
    assert document["status_counts"]["tsg"] == {"ok": 0, "error": 3}  # every caption is now too long
    assert (out / tsg_dir).is_dir()  # the old TSG stays, for a rerun with the old settings

    back = run_plain(BuildGraphsConfig(**base))
    assert back["samples"] == 0 and manifest.read(out)["status_counts"]["tsg"]["ok"] == 3
    tsg_files = mtimes(out / tsg_dir)

    dsg_only = run_plain(BuildGraphsConfig(**(base | {"num_frames": 3, "stages": "dsg"})))
    assert dsg_only["samples"] == 3 and dsg_only["stage_dirs"]["tsg"] == tsg_dir
    assert mtimes(out / tsg_dir) == tsg_files and dsg_only["stage_dirs"]["dsg"] != dsg_dir
    document = manifest.read(out)
    assert document["stages"]["dsg"]["settings"]["num_frames"] == 3 and document["versions"]["code.dsg"]


def test_stages_flag_names_the_stages_or_says_what_it_takes():
    assert requested_stages("all") == requested_stages("tsg,dsg") == ("dsg", "tsg")
    assert requested_stages("tsg") == ("tsg",)
    with pytest.raises(ValueError, match="names .* — pass tsg, dsg, all"):
        requested_stages("audio")
