"""Captions for the demo videos, and compositional hard negatives that differ from them in one respect.

A caption is first a small spec: one or two clauses plus a connective. A clause names a subject (colour + shape), a
predicate from the relation vocabulary, maybe an object, a speed adverb and a spatial modifier. The spec is worded
through the paraphrase lexicon (pipeline/demo/lexicon.py) in one of its parts, so the words are not the DSG's
("the crimson disc over the navy box gently drifts leftward" for a red circle above a blue square moving left). The
same spec renders the caption and, changed in one place, each negative (in the same words otherwise):
  relation   one predicate flipped (left <-> right, up <-> down, approaches <-> moves away from, appears <-> disappears)
  attribute  the colours of two mentioned objects swapped (or one object given another object's colour)
  order      the two events of a "then" caption swapped
Every caption is checked true, and every negative false, against the ground-truth frames of its segment.
"""

import copy
from collections.abc import Callable

import numpy as np

from pipeline.demo import lexicon

# Spatial modifiers a caption may carry: "left of" / "right of" have no wording the caption parser reads (lexicon.py).
SPATIAL = tuple(lexicon.SPATIAL_PHRASES)
FLIPS = {
    "moves left": "moves right", "moves right": "moves left", "moves up": "moves down", "moves down": "moves up",
    "approaches": "moves away from", "moves away from": "approaches", "appears": "disappears",
    "disappears": "appears", "left of": "right of", "right of": "left of", "above": "below", "below": "above",
}
QUICK_MIN_SPEED = 0.14  # normalised units per second: slow moves stay below, quick ones above
# The relation of a clause with an object, as the composition split counts it: (subject shape, relation, object shape)
CLAUSE_RELATIONS = {"approach": "approaches", "move_away": "moves away from", "pass": "passes"}
# What a caption spec's "picks" choose a wording for: each colour, shape, speed and direction, and the motion verb.
PICK_KEYS = (*lexicon.COLOR_WORDS, *lexicon.SHAPE_WORDS, *lexicon.ADVERB_WORDS, *lexicon.DIRECTION_WORDS, "motion verb")
RelationRule = Callable[[str, str, str], bool]  # (subject shape, relation, object shape) -> may a caption say it


def _any_relation(subject: str, relation: str, obj: str) -> bool:
    return True


# ---------------------------------------------------------------- building a spec from scripted events


def _ref(track: dict) -> dict:
    return {"color": track["color"], "shape": track["shape"]}


def _clause(event: dict, tracks: list[dict], frames: list[dict], rng: np.random.Generator,
            allowed: RelationRule) -> dict:
    kind, subject = event["type"], event["subject"]
    clause = {
        "kind": kind,
        "subject": _ref(tracks[subject]),
        "object": None if event["object"] is None else _ref(tracks[event["object"]]),
        "predicate": event["predicate"],
        "adverb": None,
        "adverb_first": bool(rng.random() < 0.5),
        "variant": int(rng.integers(0, 6)),
        "indefinite": kind == "appear" and bool(rng.random() < 0.6),
        "modifier": None,
    }
    if event["speed"] is not None and rng.random() < 0.85:
        clause["adverb"] = event["speed"]
    # A spatial relation that holds where the event starts, to some object the event does not already name.
    frame = frames[event["start_frame"]]
    shape = tracks[subject]["shape"]
    candidates = [r for r in frame["relations"] if r["subject"] == subject and r["predicate"] in SPATIAL
                  and r["object"] != event["object"] and allowed(shape, r["predicate"], tracks[r["object"]]["shape"])]
    if candidates and rng.random() < (0.6 if kind in ("appear", "disappear") else 0.3):
        chosen = candidates[int(rng.integers(len(candidates)))]
        clause["modifier"] = {"predicate": chosen["predicate"], "object": _ref(tracks[chosen["object"]]),
                              "variant": int(rng.integers(0, 2))}
    return clause


def event_relation(event: dict, tracks: list[dict]) -> tuple[str, str, str] | None:
    """(subject shape, relation, object shape) of a scripted event with an object; None for one without."""
    if event["object"] is None:
        return None
    return tracks[event["subject"]]["shape"], CLAUSE_RELATIONS[event["type"]], tracks[event["object"]]["shape"]


def describe(events: list[dict], order: str | None, tracks: list[dict], frames: list[dict], window: list[dict],
             rng: np.random.Generator, part: str = lexicon.TRAIN, allowed: RelationRule = _any_relation) -> dict | None:
    """A caption spec for 1-2 scripted events (order None, 'then' or 'while'), worded in lexicon part `part`, or
    None if none is true or an event is a relation `allowed` rejects (spatial modifiers it rejects are left out)."""
    if any((r := event_relation(e, tracks)) is not None and not allowed(*r) for e in events):
        return None
    clauses = [_clause(e, tracks, frames, rng, allowed) for e in events]
    templates = {"then": lexicon.SEQUENTIAL_TEMPLATES, "while": lexicon.CONCURRENT_TEMPLATES,
                 None: lexicon.SINGLE_TEMPLATES}[order][part]
    spec = {"clauses": clauses, "order": order, "template": templates[int(rng.integers(len(templates)))],
            "elide_repeats": bool(rng.random() < 0.5), "part": part,
            "picks": dict(zip(PICK_KEYS, (int(i) for i in rng.integers(0, 6, size=len(PICK_KEYS)))))}
    if is_true(spec, window, tracks):
        return spec
    for clause in spec["clauses"]:  # a modifier read off one frame may not survive rounding; try without
        clause["modifier"] = None
    return spec if is_true(spec, window, tracks) else None


def compositions(spec: dict) -> tuple[set[tuple[str, str]], set[tuple[str, str, str]]]:
    """What a caption composes: its (colour, shape) pairs and its (subject shape, relation, object shape) triples."""
    pairs = {(r["color"], r["shape"]) for r in _mentioned_refs(spec)}
    relations = set()
    for clause in spec["clauses"]:
        if clause["object"] is not None:
            relations.add((clause["subject"]["shape"], CLAUSE_RELATIONS[clause["kind"]], clause["object"]["shape"]))
        if clause["modifier"] is not None:
            relations.add((clause["subject"]["shape"], clause["modifier"]["predicate"],
                           clause["modifier"]["object"]["shape"]))
    return pairs, relations


def events_of(spec: dict, events: list[dict], tracks: list[dict], fps: int) -> list[dict]:
    """The ground-truth record of a segment's events: track ids, vocabulary predicates, times."""
    out = []
    for clause, event in zip(spec["clauses"], events):
        modifier = clause["modifier"]
        out.append({
            "type": event["type"], "subject": event["subject"], "predicate": event["predicate"],
            "object": event["object"], "speed": event["speed"],
            "start": round(event["start_frame"] / fps, 4), "end": round(event["end_frame"] / fps, 4),
            "modifier": None if modifier is None else {"predicate": modifier["predicate"],
                                                       "object": _resolve(modifier["object"], tracks)},
        })
    return out


# ---------------------------------------------------------------- rendering


def _word(spec: dict, table: dict, key: str) -> str:
    return lexicon.wording(table[key], spec["part"], spec["picks"][key])


def _noun_phrase(spec: dict, ref: dict, mentioned: set, indefinite: bool = False) -> str:
    key = ref["shape"]
    first = key not in mentioned
    mentioned.add(key)
    noun = _word(spec, lexicon.SHAPE_WORDS, key)
    words = [_word(spec, lexicon.COLOR_WORDS, ref["color"]), noun] if first or not spec["elide_repeats"] else [noun]
    article = ("an" if words[0][0] in "aeiou" else "a") if indefinite and first else "the"
    return " ".join([article, *words])


def _verb_phrase(spec: dict, clause: dict, obj: str) -> str:
    kind, predicate, variant = clause["kind"], clause["predicate"], clause["variant"]
    if predicate.startswith("moves ") and predicate != "moves away from":
        direction = _word(spec, lexicon.DIRECTION_WORDS, predicate.split()[-1])
        move = f"{lexicon.wording(lexicon.MOTION_VERBS, spec['part'], spec['picks']['motion verb'])} {direction}"
        return lexicon.PASS_PHRASE.format(move=move, o=obj) if kind == "pass" else move
    return lexicon.wording(lexicon.EVENT_PHRASES[predicate], spec["part"], variant).format(o=obj)


def _clause_text(spec: dict, clause: dict, mentioned: set) -> str:
    subject = _noun_phrase(spec, clause["subject"], mentioned, clause["indefinite"])
    modifier = clause["modifier"]
    relation = ""
    if modifier is not None:
        phrase = lexicon.wording(lexicon.SPATIAL_PHRASES[modifier["predicate"]], spec["part"], modifier["variant"])
        relation = f"{phrase} {_noun_phrase(spec, modifier['object'], mentioned)}"
    obj = "" if clause["object"] is None else _noun_phrase(spec, clause["object"], mentioned)
    verb = _verb_phrase(spec, clause, obj)
    if clause["adverb"]:
        adverb = _word(spec, lexicon.ADVERB_WORDS, clause["adverb"])
        verb = f"{adverb} {verb}" if clause["adverb_first"] else f"{verb} {adverb}"
    if clause["kind"] in ("appear", "disappear") and relation:
        return f"{subject} {verb} {relation}"
    return f"{subject} {relation} {verb}" if relation else f"{subject} {verb}"


def render(spec: dict) -> str:
    template, clauses = spec["template"], spec["clauses"]
    names = ["a", "b"][: len(clauses)]
    textual_order = sorted(names, key=lambda n: template.index("{" + n + "}"))
    mentioned: set = set()
    parts = {n: _clause_text(spec, clauses[names.index(n)], mentioned) for n in textual_order}
    text = template.format(**parts)
    return text[0].upper() + text[1:] + "."


# ---------------------------------------------------------------- truth against the ground truth


def _resolve(ref: dict | None, tracks: list[dict]) -> int | None:
    for track in tracks:
        if track["shape"] == ref["shape"] and (ref["color"] is None or track["color"] == ref["color"]):
            return track["track_id"]
    return None


def _speed_ok(frame: dict, track_id: int, speed: str) -> bool:
    for obj in frame["objects"]:
        if obj["track_id"] == track_id:
            magnitude = float(np.hypot(*obj["velocity"]))
            return magnitude >= QUICK_MIN_SPEED if speed == "quick" else magnitude < QUICK_MIN_SPEED
    return False


def clause_frames(clause: dict, window: list[dict], tracks: list[dict]) -> list[int]:
    """Indices of the window's frames where the clause holds (empty if a named object does not exist)."""
    subject = _resolve(clause["subject"], tracks)
    obj = None if clause["object"] is None else _resolve(clause["object"], tracks)
    modifier = clause["modifier"]
    mod_obj = None if modifier is None else _resolve(modifier["object"], tracks)
    if subject is None or (clause["object"] is not None and obj is None) or (modifier and mod_obj is None):
        return []
    hits = []
    for frame in window:
        triples = {(r["subject"], r["predicate"], r["object"]) for r in frame["relations"]}
        unary = clause["kind"] in ("move", "pass", "appear", "disappear")
        if (subject, clause["predicate"], None if unary else obj) not in triples:
            continue
        if modifier and (subject, modifier["predicate"], mod_obj) not in triples:
            continue
        if clause["adverb"] and not _speed_ok(frame, subject, clause["adverb"]):
            continue
        hits.append(frame["index"])
    if clause["kind"] == "pass" and hits:
        # Passing means being on one side of the object and later on the other, while moving that way.
        before, after = ("left of", "right of") if clause["predicate"] == "moves right" else ("right of", "left of")
        sides = [(f["index"], r["predicate"]) for f in window for r in f["relations"]
                 if r["subject"] == subject and r["object"] == obj and r["predicate"] in (before, after)]
        first_before = min((i for i, p in sides if p == before), default=None)
        last_after = max((i for i, p in sides if p == after), default=None)
        if first_before is None or last_after is None or first_before >= last_after:
            return []
    return hits


def is_true(spec: dict, window: list[dict], tracks: list[dict]) -> bool:
    """'a then b': a holds in some frame before one where b holds; 'a while b': both hold in one frame."""
    hits = [clause_frames(c, window, tracks) for c in spec["clauses"]]
    if not all(hits):
        return False
    if spec["order"] == "then":
        return min(hits[0]) < max(hits[1])
    if spec["order"] == "while":
        return bool(set(hits[0]) & set(hits[1]))
    return True


# ---------------------------------------------------------------- hard negatives


def _relation_flips(spec: dict) -> list[dict]:
    flipped = []
    for i, clause in enumerate(spec["clauses"]):
        if clause["predicate"] in FLIPS:
            variant = copy.deepcopy(spec)
            changed = variant["clauses"][i]
            changed["predicate"] = FLIPS[clause["predicate"]]
            if clause["kind"] in ("appear", "disappear"):
                changed["kind"] = "appear" if changed["predicate"] == "appears" else "disappear"
                changed["indefinite"] = False
            elif clause["kind"] in ("approach", "move_away"):
                changed["kind"] = "approach" if changed["predicate"] == "approaches" else "move_away"
            flipped.append(variant)
        if clause["modifier"] is not None:
            variant = copy.deepcopy(spec)
            modifier = variant["clauses"][i]["modifier"]
            modifier["predicate"] = FLIPS[modifier["predicate"]]
            flipped.append(variant)
    return flipped


def _mentioned_refs(spec: dict) -> list[dict]:
    refs = []
    for clause in spec["clauses"]:
        refs += [clause["subject"], clause["object"], clause["modifier"] and clause["modifier"]["object"]]
    return [r for r in refs if r is not None]


def _attribute_swap(spec: dict, tracks: list[dict], rng: np.random.Generator) -> dict | None:
    colors = list(dict.fromkeys(r["color"] for r in _mentioned_refs(spec)))
    if len(colors) >= 2:
        a, b = (str(c) for c in rng.choice(colors, size=2, replace=False))
        swap = {a: b, b: a}
    else:
        others = [t["color"] for t in tracks if t["color"] != colors[0]]
        if not others:
            return None
        swap = {colors[0]: others[int(rng.integers(len(others)))]}
    variant = copy.deepcopy(spec)
    for ref in _mentioned_refs(variant):
        ref["color"] = swap.get(ref["color"], ref["color"])
    return variant


def negatives(spec: dict, window: list[dict], tracks: list[dict], rng: np.random.Generator) -> list[dict]:
    """Hard negatives of a true caption spec, each a different string and false for the segment's frames."""
    candidates = [("relation", v) for v in _relation_flips(spec)]
    swapped = _attribute_swap(spec, tracks, rng)
    if swapped is not None:
        candidates.append(("attribute", swapped))
    if spec["order"] == "then":
        reordered = copy.deepcopy(spec)
        reordered["clauses"].reverse()
        candidates.append(("order", reordered))
    caption = render(spec)
    out, seen = [], {caption}
    for kind, variant in candidates:
        text = render(variant)
        if text not in seen and not is_true(variant, window, tracks):
            seen.add(text)
            out.append({"caption": text, "kind": kind})
    return out
