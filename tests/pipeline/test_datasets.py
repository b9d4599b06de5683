import json
import math

import pytest

from pipeline import datasets


def write(path, text=b"video"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text)
    return path


def test_activitynet_reads_segments_and_finds_videos_by_id(tmp_path):
    write(tmp_path / "videos" / "v_abc.mp4")
    write(tmp_path / "videos" / "def.mkv")  # ActivityNet mirrors often drop the v_ prefix
    write(tmp_path / "aaa" / "other" / "v_abc.mp4")  # a deeper same-named file must not win
    annotations = {
        "v_abc": {"duration": 10.0, "timestamps": [[0.0, 4.0], [3.0, 9.5]], "sentences": ["A man runs.", "He jumps."]},
        "v_def": {"duration": 5.0, "timestamps": [[1.0, 2.0]], "sentences": ["A dog sits."]},
        "v_missing": {"duration": 5.0, "timestamps": [[1.0, 2.0]], "sentences": ["Gone."]},
        "v_bad": {"duration": 5.0, "timestamps": [[3.0, 1.0]], "sentences": ["Backwards."]},
    }
    (tmp_path / "train.json").write_text(json.dumps(annotations))
    (tmp_path / "val_1.json").write_text(json.dumps({"v_val": annotations["v_def"]}))
    write(tmp_path / "videos" / "v_bad.mp4")
    rows = datasets.read_samples("activitynet", tmp_path)
    by_id = {row["sample_id"]: row for row in rows}
    assert [r["sample_id"] for r in rows] == ["v_abc#0", "v_abc#1", "v_def#0", "v_missing#0", "v_bad#0", "v_val#0"]
    assert by_id["v_abc#1"]["start"] == 3.0 and by_id["v_abc#1"]["end"] == 9.5
    assert by_id["v_abc#1"]["caption"] == "He jumps." and by_id["v_abc#1"]["split"] == "train"
    assert by_id["v_abc#0"]["previous_captions"] == [] and by_id["v_abc#1"]["previous_captions"] == ["A man runs."]
    assert by_id["v_def#0"]["video_path"].endswith("def.mkv")
    assert by_id["v_abc#0"]["video_path"] == str(tmp_path / "videos" / "v_abc.mp4")
    assert by_id["v_missing#0"]["status"] == "error" and "not found" in by_id["v_missing#0"]["error_message"]
    assert by_id["v_bad#0"]["status"] == "error" and "start < end" in by_id["v_bad#0"]["error_message"]
    with pytest.raises(ValueError, match="occurs twice"):
        datasets.read_samples("activitynet", tmp_path, splits=("train", "train"))
    val = datasets.read_samples("activitynet", tmp_path, splits=("val",))
    assert [(r["sample_id"], r["split"]) for r in val] == [("v_val#0", "val")]


def test_msrvtt_reads_captions_with_csv_splits(tmp_path):
    write(tmp_path / "videos" / "all" / "video0.mp4")
    write(tmp_path / "videos" / "all" / "video1.mp4")
    data = {"videos": [{"video_id": "video0", "split": "train"}, {"video_id": "video1", "split": "validate"}],
            "sentences": [{"video_id": "video0", "caption": "a cat", "sen_id": 0},
                          {"video_id": "video1", "caption": "a car", "sen_id": 1},
                          {"video_id": "video0", "caption": "a kitten", "sen_id": 2}]}
    (tmp_path / "msrvtt_data").mkdir()
    (tmp_path / "msrvtt_data" / "MSRVTT_data.json").write_text(json.dumps(data))
    (tmp_path / "msrvtt_data" / "MSRVTT_JSFUSION_test.csv").write_text("key,vid_key,video_id,sentence\n"
                                                                       "ret0,msr1,video1,a car\n")
    rows = datasets.read_samples("msrvtt", tmp_path)
    assert [(r["sample_id"], r["split"], r["caption"]) for r in rows] == [
        ("video0#0", "train", "a cat"), ("video0#1", "train", "a kitten"), ("video1#0", "test", "a car")]
    assert all(r["start"] == 0.0 and math.isinf(r["end"]) and r["status"] == "ok" for r in rows)
    assert all(r["previous_captions"] is None for r in rows)  # 20 annotators' captions, not one paragraph


def test_generic_refuses_paths_outside_the_data_root(tmp_path):
    root = tmp_path / "data"
    write(root / "clips" / "a.mp4")
    write(tmp_path / "secret.mp4")
    (root / "clips" / "link.mp4").symlink_to(tmp_path / "secret.mp4")
    lines = [
        {"video": "clips/a.mp4", "caption": "a red ball", "start": 1, "end": 3},
        {"video": "../secret.mp4", "caption": "escape"},
        {"video": str(tmp_path / "secret.mp4"), "caption": "absolute"},
        {"video": "clips/link.mp4", "caption": "symlink out"},
        {"video": "clips/none.mp4", "caption": "missing"},
        {"video": "clips/a.mp4", "caption": "bad times", "start": 5, "end": 2},
        {"video": "clips/a.mp4", "caption": 42},
    ]
    (root / "ann.jsonl").write_text("\n".join(json.dumps(line) for line in lines))
    rows = datasets.read_samples("generic", root, annotations="ann.jsonl")
    status = [(r["status"], r["error_message"] or "") for r in rows]
    assert status[0] == ("ok", "") and rows[0]["start"] == 1.0 and rows[0]["end"] == 3.0
    assert "outside DATA_ROOT" in status[1][1]
    assert "is absolute" in status[2][1]
    assert "outside DATA_ROOT" in status[3][1]
    assert "not found" in status[4][1]
    assert "start < end" in status[5][1]
    assert rows[6]["status"] == "error" and "ann.jsonl:7: the caption is a int (42), not text" in status[6][1]
    assert len({r["sample_id"] for r in rows}) == len(rows)


def test_generic_csv_and_clear_errors(tmp_path):
    write(tmp_path / "a.mp4")
    (tmp_path / "ann.csv").write_text("video,caption,id\na.mp4,a dog runs,first\n")
    [row] = datasets.read_samples("generic", tmp_path, annotations=tmp_path / "ann.csv")
    assert row["sample_id"] == "first" and math.isinf(row["end"])
    with pytest.raises(ValueError, match="Unknown dataset 'kinetics' — use one of the known datasets: activitynet"):
        datasets.read_samples("kinetics", tmp_path)
    with pytest.raises(FileNotFoundError, match="not a folder"):
        datasets.read_samples("generic", tmp_path / "nope", annotations="x.csv")
    with pytest.raises(FileNotFoundError, match="train.json not found"):
        datasets.read_samples("activitynet", tmp_path)


def test_activitynet_null_and_non_text_sentences_are_error_rows_and_spaces_are_stripped(tmp_path):
    write(tmp_path / "v_a.mp4")
    sentences = ["A man runs.", " He jumps over a bar.", None, 7]
    entry = {"duration": 9.0, "timestamps": [[0, 2], [2, 4], [4, 6], [6, 8]], "sentences": sentences}
    (tmp_path / "train.json").write_text(json.dumps({"v_a": entry}))
    rows = datasets.read_samples("activitynet", tmp_path, splits=("train",))
    assert [r["status"] for r in rows] == ["ok", "ok", "error", "error"]
    assert rows[1]["caption"] == "He jumps over a bar."
    assert rows[2]["error_message"] == "train.json: video 'v_a' sentence 2: the caption is missing"
    assert rows[2]["caption"] == ""
    assert rows[3]["error_message"] == "train.json: video 'v_a' sentence 3: the caption is a int (7), not text"


def test_generic_csv_without_a_caption_column_gives_error_rows_naming_file_and_line(tmp_path):
    write(tmp_path / "a.mp4")
    (tmp_path / "ann.csv").write_text("video,text\na.mp4,a dog runs\na.mp4,a cat sits\n")
    rows = datasets.read_samples("generic", tmp_path, annotations="ann.csv")
    assert [r["status"] for r in rows] == ["error", "error"]
    assert rows[1]["error_message"] == f"{tmp_path / 'ann.csv'}:3: no 'caption' (found text, video)"
    assert "None" not in {r["caption"] for r in rows}


@pytest.mark.parametrize("name, text, line", [("train.json", '{"v_a": {"duration": 1,\n  "sentences": [}', 2),
                                              ("clips.jsonl", '{"video": "a.mp4", "caption": "x"}\n{"video": ', 2)])
def test_an_annotation_file_that_is_not_json_is_named_with_its_line(tmp_path, name, text, line):
    (tmp_path / name).write_text(text)
    dataset, options = ("generic", {"annotations": name}) if name.endswith(".jsonl") else ("activitynet", {})
    with pytest.raises(ValueError, match=rf"{name}:{line}: not valid JSON .* — fix that line"):
        datasets.read_samples(dataset, tmp_path, **options)


def test_a_missing_earlier_sentence_is_an_empty_previous_caption_not_none():
    from pipeline.datasets import sample_row

    row = sample_row("v#1", "v", "train", "v.mp4", 0, 1, " They run.", previous_captions=[None, " Two men stand."])
    assert row["previous_captions"] == ["", "Two men stand."] and row["caption"] == "They run."
    assert sample_row("v#0", "v", "train", "v.mp4", 0, 1, None)["caption"] == ""


def test_samples_are_yielded_as_the_file_is_read_and_a_duplicate_id_raises_when_reached(tmp_path):
    lines = [{"video": "a.mp4", "caption": "a dog", "id": "x"}, {"video": "a.mp4", "caption": "a cat", "id": "x"}]
    (tmp_path / "ann.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n{not json\n")
    rows = datasets.iter_samples("generic", tmp_path, annotations="ann.jsonl")
    assert next(rows)["caption"] == "a dog"  # the malformed line 3 is not read yet
    with pytest.raises(ValueError, match="sample id 'x' occurs twice"):
        next(rows)
    assert datasets.annotation_files("generic", tmp_path, annotations="ann.jsonl") == [tmp_path / "ann.jsonl"]
    (tmp_path / "train.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="val_1.json not found"):
        datasets.annotation_files("activitynet", tmp_path)
    assert datasets.annotation_files("activitynet", tmp_path, splits=("train",)) == [tmp_path / "train.json"]
