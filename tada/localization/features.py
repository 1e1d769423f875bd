"""The features of the localization study and their word-level counterfactuals, as data.

A :class:`Feature` has the words that mark it in a caption, the words that rule a caption out
(its counterfactual partner's words) and the swap map that corrupts a caption. The 21 MusicCaps
features follow the published prompt-pair dataset (female<->male, fast<->slow, happy<->sad,
reggae<->metal, jazz<->opera, violin<->trumpet, saxophone<->drums, cello<->bongos, flute<->maracas,
harmonica->harp, trombone<->xylophone). The mini world's features are its attribute values, each
swapped for its partner in :data:`tada.world.attributes.SWAPS`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tada.world.attributes import SWAPS as MINI_SWAPS


@dataclass(frozen=True)
class Feature:
    """Marker words, excluding words and the swap map (word -> replacement; ``""`` deletes it)."""

    name: str
    words: tuple[str, ...]
    excluded: tuple[str, ...]
    swaps: Mapping[str, str]

    def matches(self, caption: str) -> bool:
        """Has a marker word and none of the excluded words (whole words, case-insensitive)."""
        return _pattern(self.words).search(caption) is not None and (
            not self.excluded or _pattern(self.excluded).search(caption) is None
        )

    def corrupt(self, caption: str) -> str:
        """``caption`` with deleted words dropped (with the space before them), then every other
        swap applied at once, so no swap sees another's output."""
        deleted = tuple(w for w, r in self.swaps.items() if not r)
        replaced = {w.lower(): r for w, r in self.swaps.items() if r}
        if deleted:
            caption = re.sub(rf"\s*{_pattern(deleted).pattern}", "", caption, flags=re.IGNORECASE).strip()
        return _pattern(tuple(replaced)).sub(lambda m: _like(m.group(0), replaced[m.group(0).lower()]), caption)


def _pattern(words: Sequence[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\b", flags=re.IGNORECASE)


def _like(word: str, replacement: str) -> str:
    """``replacement`` capitalised like ``word`` (``She`` -> ``He``, ``VIOLIN`` -> ``TRUMPET``)."""
    if len(word) > 1 and word.isupper():
        return replacement.upper()
    return replacement[:1].upper() + replacement[1:] if word[:1].isupper() else replacement


def _feature(name: str, words: str, excluded: str, swaps: Mapping[str, str]) -> Feature:
    return Feature(name, tuple(words.split()), tuple(excluded.split()), dict(swaps))


#: the 21 features of the paper, in its order
MUSICCAPS: dict[str, Feature] = {
    f.name: f
    for f in (
        _feature(
            "female", "female woman girlish", "male man",
            {"female": "male", "woman": "man", "her": "his", "girlish": "boyish", "she": "he"},
        ),
        _feature(
            "male", "male man", "female woman girl lady her she",
            {"male": "female", "man": "woman", "boy": "girl", "his": "her", "him": "her", "himself": "herself",
             "he": "she"},
        ),
        _feature(
            "fast",
            "fast rapid dynamic quick quickly fastly energetic tireless sprightly groovy lively fast-paced vigorous",
            "slow slowed slower slowly",
            {"fast": "slow", "rapid": "slow", "dynamic": "slow", "quick": "slow", "quickly": "slowly",
             "fastly": "slowly", "energetic": "slow", "tireless": "slow", "sprightly": "slowly", "groovy": "slowly",
             "lively": "slowly", "fast-paced": "slow-paced", "vigorous": "slow"},
        ),
        _feature(
            "slow", "slow slowed slower slowly slow-paced leisurely sedate plodding slow-moving",
            "fast rapidly quickly fastly energetic tireless sprightly groovy lively fast-paced vigorous",
            {"slow": "fast", "slowed": "fasted", "slower": "faster", "slowly": "fastly", "slow-paced": "fast-paced",
             "leisurely": "hastily", "sedate": "agitated", "romantic": "action", "plodding": "quick",
             "slow-moving": "fast-moving"},
        ),
        _feature(
            "happy", "happy joyful upbeat uplifting cheerful", "sad depressing dejected",
            {"passionate": "apathetic", "joyful": "sorrowful", "fun": "dreary", "cheerful": "gloomy", "warm": "cold",
             "high-spirited": "downcast", "lively": "lifeless", "enthusiastic": "disheartened",
             "energetic": "weary", "engaging": "detached", "vivacious": "melancholic", "happy": "sad",
             "enthusiastically": "reluctantly", "danceable": "plodding", "light": "heavy", "positive": "negative",
             "vibrant": "dull", "upbeat": "downbeat", "pulsating": "flat", "loud": "quiet", "punchy": "muted",
             "buoyant": "heavy-hearted", "youthful": "world-weary", "uplifting": "depressing"},
        ),
        _feature(
            "sad", "sad depressing dejected",
            "passionate joyful fun cheerful warm high-spirited lively enthusiastic energetic engaging vivacious "
            "happy enthusiastically danceable light positive upbeat uplifting pulsating loud punchy buoyant "
            "youthful vibrant",
            {"sad": "happy", "depressing": "cheerful", "dejected": "joyful", "haunting": "uplifting",
             "melancholic": "cheerful", "emotional": "lighthearted", "pensive": "carefree", "regretful": "content",
             "contemplative": "playful", "wistful": "hopeful", "meditative": "breezy", "crying": "laughing",
             "soulful": "spirited", "lonely": "connected", "poignant": "joyous", "mellow": "vibrant"},
        ),
        _feature(
            "reggae", "reggae jamaican tropical summer vacation beach",
            "metal heavy rock opera choir orchestra classical",
            {"reggae": "metal", "jamaican": "metal", "tropical": "metal", "chill": "heavy", "summer": "concert",
             "vacation": "concert", "paradise": "concert", "beach": "concert"},
        ),
        _feature(
            "metal", "metal heavy rock", "reggae rock opera choir orchestra classical",
            {"metal": "reggae", "heavy": "chill"},
        ),
        _feature(
            "opera", "opera choir orchestra", "reggae rock metal heavy jazz",
            {"opera": "jazz", "choir": "blues", "orchestra": "band", "classical": "jazz"},
        ),
        _feature(
            "jazz", "jazz blues", "reggae rock opera choir orchestra classical",
            {"jazz": "opera", "blues": "opera", "band": "choir"},
        ),
        _feature(
            "violin", "violin fiddle", "trumpet",
            {"violin": "trumpet", "fiddle": "trumpet", "string": "", "strings": "", "violins": "trumpet",
             "violinist": "trumpeter"},
        ),
        _feature(
            "trumpet", "trumpet trumpets", "violin violins fiddle fiddles",
            {"trumpet": "violin", "trumpeter": "violinist", "trumpets": "violins"},
        ),
        _feature(
            "saxophone", "saxophone sax saxophones", "drum drums percussion",
            {"saxophone": "drum", "sax": "drum", "saxophones": "drums", "saxophonist": "drummer",
             "saxophonists": "drummers"},
        ),
        _feature(
            "drums", "drums drum percussion", "saxophone sax saxophones",
            {"drums": "saxophone", "drum": "saxophone", "percussion": "saxophone", "percussionist": "saxophonist",
             "percussionists": "saxophonists", "drummer": "saxophonist"},
        ),
        _feature(
            "cello", "cello cellos", "bongo bongos",
            {"cello": "bongo", "cellos": "bongos", "cellist": "bongomaster", "cellists": "bongomasters",
             "celloist": "bongomaster", "celloists": "bongomasters"},
        ),
        _feature(
            "bongos", "bongos bongo", "cello cellos",
            {"bongos": "cello", "bongo": "cello", "bongomaster": "cellist", "bongomasters": "cellists"},
        ),
        _feature(
            "flute", "flute flutes", "maracas maraca",
            {"flute": "maracas", "flutes": "maracas", "flutist": "maracast", "flutists": "maracasts",
             "fluteist": "maracast", "fluteists": "maracasts"},
        ),
        _feature(
            "maracas", "maracas maraca", "flute flutes",
            {"maracas": "flute", "maraca": "flute", "maracast": "flutist", "maracasts": "flutists"},
        ),
        _feature(
            "harmonica", "harmonica harmonicas", "harp harps harpist harpists",
            {"harmonica": "harp", "harmonicas": "harps", "harmonicaist": "harpist", "harmonicaists": "harpists"},
        ),
        _feature(
            "trombone", "trombone trombones", "xylophone xylophones xylophonist xylophonists",
            {"trombone": "xylophone", "trombones": "xylophones", "trombonist": "xylophonist",
             "trombonists": "xylophonists", "tromboneist": "xylophonist", "tromboneists": "xylophonists"},
        ),
        _feature(
            "xylophone", "xylophone xylophones", "trombone trombones",
            {"xylophone": "trombone", "xylophones": "trombones", "xylophonist": "trombonist",
             "xylophonists": "trombonists", "xylophoneist": "trombonist", "xylophoneists": "trombonists"},
        ),
    )
}  # fmt: skip

#: the mini world's attribute values, each swapped for its partner
MINI: dict[str, Feature] = {v: Feature(v, (v,), (p,), {v: p}) for v, p in MINI_SWAPS.items()}
