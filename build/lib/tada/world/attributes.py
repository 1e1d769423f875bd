"""The synthetic music world: attribute families, their values and the counterfactual swaps."""

from __future__ import annotations

from dataclasses import dataclass

#: attribute family -> its values (each value is also the word that names it in captions)
FAMILIES: dict[str, tuple[str, ...]] = {
    "instrument": ("violin", "flute", "trumpet", "xylophone"),
    "tempo": ("slow", "fast"),
    "register": ("low", "high"),
    "mood": ("happy", "sad"),
}

#: counterfactual partner of every value, as in the reference's swaps (violin<->trumpet, fast<->slow, ...)
SWAPS: dict[str, str] = {
    "violin": "trumpet",
    "trumpet": "violin",
    "flute": "xylophone",
    "xylophone": "flute",
    "slow": "fast",
    "fast": "slow",
    "low": "high",
    "high": "low",
    "happy": "sad",
    "sad": "happy",
}

VALUE_FAMILY: dict[str, str] = {v: f for f, values in FAMILIES.items() for v in values}


@dataclass(frozen=True)
class Attributes:
    """The ground-truth attribute values of one clip."""

    instrument: str
    tempo: str
    register: str
    mood: str

    def as_dict(self) -> dict[str, str]:
        return {f: getattr(self, f) for f in FAMILIES}

    def with_value(self, value: str) -> Attributes:
        """A copy with ``value`` set in its family."""
        return Attributes(**{**self.as_dict(), VALUE_FAMILY[value]: value})
