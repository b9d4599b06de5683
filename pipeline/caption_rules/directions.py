"""Pass: direction phrases ("moves to the left", "comes into view") found on the words themselves."""


def find_direction_phrases(state) -> None:
    """Reads tokens; writes direction_phrases, in_predicate.

    "moves to the left (quickly)": a direction, not a place named "left"; found on the words themselves,
    since the parser often reads "quickly" as the object of "to"."""
    words = [t.lower_ for t in state.tokens]
    for i in range(len(words) - 2):
        if (words[i] in ("to", "toward", "towards") and words[i + 1] == "the" and words[i + 2] in ("left", "right")
                and (i + 3 == len(words) or words[i + 3] != "of")):
            verb = i - 1
            while verb >= 0 and state.tokens[verb].pos_ == "ADV":
                verb -= 1
            if verb >= 0 and state.tokens[verb].pos_ == "VERB":
                state.direction_phrases[verb] = [state.tokens[i], state.tokens[i + 2]]
                state.in_predicate.update((i, i + 2))
    for i in range(2, len(words)):
        # "comes into view", "goes out of sight": how something appears or vanishes, not a place
        if words[i] in ("view", "sight") and words[i - 1] in ("into", "of", "from"):
            start = i - 1
            while start > 0 and state.tokens[start - 1].pos_ in ("ADP", "ADV") and words[start - 1] != "to":
                start -= 1
            verb = start - 1
            if verb >= 0 and state.tokens[verb].pos_ == "VERB":
                phrase = state.direction_phrases.setdefault(verb, [])
                phrase.extend(t for t in state.tokens[start:i + 1] if t not in phrase)
                state.in_predicate.update(range(start, i + 1))
    for i in range(1, len(words)):
        # "moves right slowly": the parser may hang "right" on the adverb; it still says where the verb goes.
        if (words[i] in ("left", "right") and state.tokens[i - 1].pos_ == "VERB" and i - 1 not in state.in_predicate
                and (i + 1 == len(words) or words[i + 1] != "of") and state.tokens[i].head.i != i - 1):
            state.direction_phrases.setdefault(i - 1, []).append(state.tokens[i])
            state.in_predicate.add(i)
