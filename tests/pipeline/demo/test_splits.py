"""Demo splits: held-out wording and compositions stay out of train, dev is like train, negatives are false."""

import json
import re

import pytest

from pipeline.demo import captions, generate, layout, lexicon, splits
from pipeline.demo.generate import COLORS, SHAPES, DemoConfig, video_splits

CONFIG = DemoConfig(num_videos=10, split_sizes=(2, 3, 3), seed=5, min_seconds=6.0, max_seconds=7.0)
HELDOUT_ONLY = lexicon.words_of(lexicon.HELDOUT) - lexicon.words_of(lexicon.TRAIN)
TRAIN_ONLY = lexicon.words_of(lexicon.TRAIN) - lexicon.words_of(lexicon.HELDOUT)
CONCEPT_OF_WORD = {w: key for table in (lexicon.COLOR_WORDS, lexicon.SHAPE_WORDS) for key, parts in table.items()
                   for words in parts.values() for w in words}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, monkeypatch_module):
    """The demo of CONFIG, with every (spec, window, tracks, negatives) the generator made on the way."""
    made = []
    real = captions.negatives

    def spy(spec, window, tracks, rng):
        found = real(spec, window, tracks, rng)
        made.append((spec, window, tracks, found))
        return found

    monkeypatch_module.setattr(captions, "negatives", spy)
    root = generate.generate(tmp_path_factory.mktemp("demo"), CONFIG, detection=False, verbose=False)
    return root, made


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _captions_by_split(root):
    found = {}
    for video_id, split in splits.read_splits(root).items():
        truth = json.loads((root / "ground_truth" / f"{video_id}.json").read_text())
        found.setdefault(split, []).extend((truth, s["caption"]) for s in truth["segments"])
    return found


def _words(caption):
    return re.findall(r"[a-z]+", caption.lower())


def _caption_compositions(caption):
    """The (colour, shape) pairs read back from a caption's words."""
    words = _words(caption)
    return {(CONCEPT_OF_WORD[a], CONCEPT_OF_WORD[b]) for a, b in zip(words, words[1:])
            if a in CONCEPT_OF_WORD and b in CONCEPT_OF_WORD and CONCEPT_OF_WORD[b] in SHAPES}


def test_video_splits_default_and_explicit_sizes():
    default = video_splits(DemoConfig())
    assert default[:30] == ["train"] * 30
    assert {s: default.count(s) for s in splits.SPLITS} == {"train": 30, "dev": 3, "heldout-wording": 4,
                                                            "heldout-composition": 3}
    assert video_splits(CONFIG) == ["train"] * 2 + ["dev"] * 2 + ["heldout-wording"] * 3 + ["heldout-composition"] * 3
    assert sum(s == "heldout-wording" for s in video_splits(generate.BENCHMARK)) >= 100
    assert sum(s == "heldout-composition" for s in video_splits(generate.BENCHMARK)) >= 100
    with pytest.raises(ValueError, match="split_sizes"):
        video_splits(DemoConfig(num_videos=5, split_sizes=(2, 2, 1)))


def test_held_out_compositions_follow_the_seed_and_leave_every_shape_train_colours():
    first, again = (splits.held_out_compositions(5, SHAPES, COLORS) for _ in range(2))
    assert first == again and first != splits.held_out_compositions(6, SHAPES, COLORS)
    for shape in SHAPES:
        held = {c for c, s in first.color_shapes if s == shape}
        assert len(held) == splits.HELD_OUT_COLORS_PER_SHAPE and set(COLORS) - held
    assert len(first.relations) == round(len(SHAPES) * (len(SHAPES) - 1) * len(splits.RELATIONS) / 3)


def test_every_split_is_there_and_the_files_record_it(recorded):
    root, _ = recorded
    train = json.loads((root / "train.json").read_text())
    val = json.loads((root / "val_1.json").read_text())
    assert {e["split"] for e in train.values()} == {"train"}
    assert sorted(e["split"] for e in val.values()) == sorted(video_splits(CONFIG)[2:])
    entries = json.loads((root / "test_compositional.json").read_text())
    assert {e["split"] for e in entries} == set(splits.EVALUATION_SPLITS)
    assert all(e["split"] == val[e["video_id"]]["split"] for e in entries)


def test_no_heldout_wording_in_train_like_captions_and_no_train_wording_in_heldout_ones(recorded):
    by_split = _captions_by_split(recorded[0])
    for split in ("train", "dev", "heldout-composition"):
        for _, caption in by_split[split]:
            assert not set(_words(caption)) & HELDOUT_ONLY, (split, caption)
    for _, caption in by_split["heldout-wording"]:
        assert not set(_words(caption)) & TRAIN_ONLY, caption
        assert set(_words(caption)) & HELDOUT_ONLY, caption


def test_no_heldout_composition_in_train_captions_and_only_heldout_ones_in_their_split(recorded):
    root, _ = recorded
    held = generate.held_out_compositions(CONFIG)
    by_split = _captions_by_split(root)
    for split, rows in by_split.items():
        novel = split == "heldout-composition"
        for _, caption in rows:
            pairs = _caption_compositions(caption)
            assert pairs and all((p in held.color_shapes) == novel for p in pairs), (split, caption)
        for truth in {t["video_id"]: t for t, _ in rows}.values():
            shape_of = {t["track_id"]: t["shape"] for t in truth["tracks"]}
            for segment in truth["segments"]:
                for event in segment["events"]:
                    triples = []
                    if event["object"] is not None:
                        triples.append((shape_of[event["subject"]], captions.CLAUSE_RELATIONS[event["type"]],
                                        shape_of[event["object"]]))
                    if event["modifier"] is not None:
                        triples.append((shape_of[event["subject"]], event["modifier"]["predicate"],
                                        shape_of[event["modifier"]["object"]]))
                    assert all((t in held.relations) == novel for t in triples), (split, segment["caption"])


def _one_change_variants(spec, tracks):
    variants = captions._relation_flips(spec)
    colors = sorted({t["color"] for t in tracks})
    for a in colors:
        for b in colors:
            if a != b:
                for swap in ({a: b, b: a}, {a: b}):
                    variant = json.loads(json.dumps(spec))
                    for ref in captions._mentioned_refs(variant):
                        ref["color"] = swap.get(ref["color"], ref["color"])
                    variants.append(variant)
    if spec["order"] == "then":
        variants.append({**spec, "clauses": spec["clauses"][::-1]})
    return variants


def test_every_caption_is_true_and_every_negative_false_for_its_clip(recorded):
    root, made = recorded
    written = {c for rows in _captions_by_split(root).values() for _, c in rows}
    assert len(made) == len(written)
    checked = 0
    for spec, window, tracks, negatives in made:
        assert captions.render(spec) in written and captions.is_true(spec, window, tracks)
        by_text = {}
        for variant in _one_change_variants(spec, tracks):
            by_text.setdefault(captions.render(variant), []).append(variant)
        for negative in negatives:
            meanings = by_text[negative["caption"]]
            assert not any(captions.is_true(v, window, tracks) for v in meanings), negative
            checked += 1
    assert checked >= 20


def test_dev_is_carved_from_train(recorded):
    root, _ = recorded
    train = json.loads((root / "train.json").read_text())
    dev = [v for v, s in splits.read_splits(root).items() if s == "dev"]
    assert dev and not set(dev) & set(train)
    assert splits.WORDING["dev"] == splits.WORDING["train"] == lexicon.TRAIN
    held = generate.held_out_compositions(CONFIG)
    for video_id in dev:
        truth = json.loads((root / "ground_truth" / f"{video_id}.json").read_text())
        assert truth["split"] == "dev"
        assert not {(t["color"], t["shape"]) for t in truth["tracks"]} & held.color_shapes


def test_dsg_word_overlap_counts_verbatim_label_words(tmp_path, recorded):
    (tmp_path / "ground_truth").mkdir()
    truth = {"tracks": [{"class_name": "circle", "color": "red"}],
             "segments": [{"caption": "The red circle glides left."}, {"caption": "A disc drifts."}]}
    (tmp_path / "ground_truth" / "v_a.json").write_text(json.dumps(truth))
    (tmp_path / layout.SPLITS).write_text(json.dumps({"videos": {"v_a": "dev"}}))
    # content words: red circle glides left | disc drifts; DSG words among them: red, circle, left ("moves left")
    assert splits.dsg_word_overlap(tmp_path) == {"dev": {"captions": 2, "content_words": 6, "verbatim": 3,
                                                         "share": 50.0}}
    overlap = splits.dsg_word_overlap(recorded[0])
    assert set(overlap) == set(splits.SPLITS) and all(row["verbatim"] == 0 for row in overlap.values())
