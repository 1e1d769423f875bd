"""The text each concept's alignment is measured against."""

from __future__ import annotations

from tada.errors import unknown_name

#: real concepts (the published benchmark's nine) -> alignment text
CONCEPT_TEXTS: dict[str, str] = {
    "piano": "a piano song",
    "mood": "a cheerful track",
    "tempo": "a fast track",
    "vocal_gender": "This is a music of a female vocal singing",
    "vocal_style": "This is music with rap vocal",
    "violin": "a song with violin",
    "guitar_electronic": "a song with acoustic guitar",
    "rock_genre": "a jazz song",
    "electronic_music": "a classical song",
}
#: (concept, metric) -> text, where one alignment metric used its own wording
METRIC_TEXTS: dict[tuple[str, str], str] = {("vocal_gender", "muqt"): "female, woman, vocal singing"}


def concept_text(concept: str, arch: str, metric: str = "clap") -> str:
    """Alignment text of ``concept``: in the mini world the value word itself (``violin``,
    ``fast``...), for real architectures the published wording (``a piano song``...)."""
    if arch == "mini":
        from tada.world.attributes import VALUE_FAMILY

        if concept not in VALUE_FAMILY:
            raise unknown_name("mini-world concept", concept, VALUE_FAMILY)
        return concept
    if concept not in CONCEPT_TEXTS:
        raise unknown_name("concept", concept, CONCEPT_TEXTS)
    return METRIC_TEXTS.get((concept, metric), CONCEPT_TEXTS[concept])
