"""The wordings of the demo captions: several per concept, none of them a word the DSG uses, split in two parts.

Captions of the train split (and of dev and heldout-composition, which test other things) take their words and
sentence templates from the TRAIN part, captions of the heldout-wording split from the HELDOUT part; no word of one
part is a word of the other. The DSG names the same things with detector class names ("circle"), colour terms ("red")
and its predicate vocabulary ("moves left", "above"): a caption word that occurs verbatim there would let a model
match strings instead of learning (pipeline/demo/splits.py measures that share per split).

Every wording was kept only if pipeline.parse_captions reads it as intended in the demo's sentence shapes: colour
words as attributes of their object, shape words as objects, verb phrases as relation nodes, order words as temporal
edges (tests/pipeline/demo/test_lexicon.py). That rules out many good synonyms the small spaCy model misreads
("emerald", "cobalt", "azure", "heather" become nouns of a compound, "drifts", "travels", "vanishes", "floats" nouns;
"west of" becomes an object "west"); for the horizontal relations "left of" / "right of" no other wording parses, so
captions do not use them as modifiers.
"""

TRAIN, HELDOUT = "train", "heldout"
PARTS = (TRAIN, HELDOUT)

# keyed by the generator's colour names (pipeline/demo/generate.py COLORS)
COLOR_WORDS = {
    "red": {TRAIN: ("crimson", "maroon"), HELDOUT: ("scarlet",)},
    "green": {TRAIN: ("lime", "verdant"), HELDOUT: ("olive",)},
    "blue": {TRAIN: ("navy",), HELDOUT: ("turquoise",)},
    "yellow": {TRAIN: ("golden", "sunny"), HELDOUT: ("gold",)},
    "purple": {TRAIN: ("violet",), HELDOUT: ("magenta",)},
}
# keyed by the detector's class names (pipeline/demo/generate.py SHAPES)
SHAPE_WORDS = {
    "circle": {TRAIN: ("disc", "ball"), HELDOUT: ("orb", "coin")},
    "square": {TRAIN: ("box", "block"), HELDOUT: ("tile", "slab")},
    "triangle": {TRAIN: ("wedge", "pyramid"), HELDOUT: ("arrowhead", "cone")},
    "star": {TRAIN: ("asterisk", "spark"), HELDOUT: ("pentagram", "rosette")},
}
ADVERB_WORDS = {
    "slow": {TRAIN: ("slowly", "gently"), HELDOUT: ("leisurely", "sluggishly", "unhurriedly")},
    "quick": {TRAIN: ("quickly", "rapidly"), HELDOUT: ("swiftly", "briskly", "hastily")},
}
MOTION_VERBS = {TRAIN: ("goes", "advances"), HELDOUT: ("sweeps", "slips")}
DIRECTION_WORDS = {
    "left": {TRAIN: ("leftward",), HELDOUT: ("westward",)},
    "right": {TRAIN: ("rightward",), HELDOUT: ("eastward",)},
    "up": {TRAIN: ("upward",), HELDOUT: ("skyward",)},
    "down": {TRAIN: ("downward",), HELDOUT: ("earthward",)},
}
# Verb phrases of the other predicates; {o} is the object's noun phrase. A flipped predicate (approaches <-> moves
# away from) keeps the clause's variant index, so a negative changes the relation and nothing else.
EVENT_PHRASES = {
    "approaches": {TRAIN: ("draws closer to {o}", "closes in on {o}"), HELDOUT: ("creeps toward {o}",)},
    "moves away from": {TRAIN: ("draws back from {o}", "backs off from {o}"), HELDOUT: ("pulls back from {o}",)},
    "appears": {TRAIN: ("arrives", "comes into view"), HELDOUT: ("becomes visible", "shows itself")},
    "disappears": {TRAIN: ("fades out", "evaporates"), HELDOUT: ("dematerializes", "goes out of sight")},
}
PASS_PHRASE = "{move} past {o}"  # "passes" is no DSG predicate: the DSG has the move and the sides before and after
SPATIAL_PHRASES = {
    "above": {TRAIN: ("over",), HELDOUT: ("atop",)},
    "below": {TRAIN: ("under", "beneath"), HELDOUT: ("underneath",)},
}
SEQUENTIAL_TEMPLATES = {
    TRAIN: ("{a}, then {b}", "{a}, and then {b}", "{a} before {b}", "After {a}, {b}", "{a}, and after that {b}"),
    HELDOUT: ("{a}, and afterwards {b}", "{a}, and later {b}", "{a}, and subsequently {b}"),
}
CONCURRENT_TEMPLATES = {
    TRAIN: ("{a} while {b}", "While {a}, {b}"),
    HELDOUT: ("{a}, and meanwhile {b}", "{a}, and simultaneously {b}"),
}
SINGLE_TEMPLATES = {TRAIN: ("{a}",), HELDOUT: ("{a}",)}

CONCEPTS = {"colour": COLOR_WORDS, "shape": SHAPE_WORDS, "adverb": ADVERB_WORDS, "direction": DIRECTION_WORDS,
            "event": EVENT_PHRASES, "spatial": SPATIAL_PHRASES}
TEMPLATES = {"motion verb": MOTION_VERBS, "sequential": SEQUENTIAL_TEMPLATES, "concurrent": CONCURRENT_TEMPLATES}


def wording(options: dict, part: str, pick: int) -> str:
    """One wording of a concept's `options` ({TRAIN: (...), HELDOUT: (...)}) in `part`, chosen by `pick`."""
    if part not in PARTS:
        raise ValueError(f"wording part '{part}' is unknown; expected one of {PARTS}.")
    words = options[part]
    return words[pick % len(words)]


def words_of(part: str) -> set[str]:
    """Every word a caption of `part` may take from the lexicon (function words of phrases included)."""
    tables = [*(table[key] for table in CONCEPTS.values() for key in table), *TEMPLATES.values()]
    found = set()
    for options in tables:
        for text in options[part]:
            found.update(text.replace("{a}", " ").replace("{b}", " ").replace("{o}", " ").replace(",", " ").lower()
                         .split())
    return found
