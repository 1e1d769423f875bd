"""What the localization of an architecture is studied with: one class per kind of architecture.

A :class:`Study` holds everything that differs between architectures: the feature table, where the
prompt pairs come from when no prompt file is given, how features group into families, the layers a
sweep measures (known before any model loads) and the sites the found bottleneck is compared with.
:func:`study` picks the class of an architecture; nothing else in the package asks which one it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from tada.errors import ConfigError, unknown_name
from tada.localization.features import MINI, MUSICCAPS, Feature
from tada.localization.layout import mini_truth, reference_sites, shipped_sites, structure_layers
from tada.localization.patching import Patching
from tada.models import ARCHITECTURES
from tada.models.structures import StructureConfig, mini_sites
from tada.sites import Site, SiteRegistry


class Study:
    """A real architecture, as the paper studies it: the 21 MusicCaps features, the published prompt pairs,
    the layers of its shipped (or a given) structure, compared with the reference's localized preset."""

    features: Mapping[str, Feature] = MUSICCAPS
    #: what the found sites are compared with, as reports name it
    expected_label = "reference preset"

    def __init__(self, arch: str) -> None:
        self.arch = arch

    def check_features(self, names: Sequence[str]) -> list[Feature]:
        """The named features; an unknown name (or none) raises, listing the valid ones."""
        if not names:
            raise ConfigError(f"no localization features given for '{self.arch}'. Valid: {', '.join(self.features)}")
        for name in names:
            if name not in self.features:
                raise unknown_name(f"localization feature for '{self.arch}'", name, self.features)
        return [self.features[n] for n in names]

    def default_pairs(self, features: Sequence[str], limit: int, seed: int = 0) -> pd.DataFrame:
        """The pairs used when no prompt file is configured: the published dataset."""
        from tada.localization.prompts import load_published_pairs  # prompts checks features through here

        return load_published_pairs(self.arch, features, limit)

    def families(self, features: Sequence[str]) -> dict[str, str] | None:
        """Feature -> family, for architectures whose features group into families (None: they do not)."""
        return None

    def layers(self, num_layers: int | None = None, structure: StructureConfig | None = None) -> list[str]:
        """Whole cross-attention layers in model order: the shipped structure's, or ``structure``'s (a
        checkpoint folder, a ``config.json`` or a mapping) for another checkpoint of the architecture."""
        return structure_layers(self.arch, structure)

    def sites(self, num_layers: int | None = None) -> list[Site]:
        """Every site (layers, k/v projections, self-attention) of the shipped structure, as data."""
        return shipped_sites()[self.arch]

    def check_presets(
        self, presets: Sequence[str], patching: Patching, num_layers: int | None = None
    ) -> list[list[Site]]:
        """The sites ``patching`` intervenes on for each preset (a name, a concatenation of sites,
        ``except:…`` or a YAML file), resolved against :meth:`sites`; an unknown name, or a site the
        variant cannot patch, raises (listing the valid names)."""
        return [patching.sites(self.registry(num_layers), preset) for preset in presets]

    def registry(self, num_layers: int | None = None) -> SiteRegistry:
        """The names of :meth:`sites` and the arch's shipped presets, resolved as a loaded model would."""
        return SiteRegistry(self.arch, self.sites(num_layers))

    def expected_sites(self, truth: str | Path | None = None) -> list[str] | None:
        """The reference's localized preset of the architecture, if one ships."""
        return reference_sites(self.arch, self.layers())


class WorldStudy(Study):
    """The mini model, on the world it was trained on: the world's attribute values as features, its
    captions as prompt pairs, its attribute families, ``tf0..`` at the trained depth, compared with the
    trained model's ground truth (its ``semantic_blocks``)."""

    features = MINI
    expected_label = "ground truth"

    def default_pairs(self, features: Sequence[str], limit: int, seed: int = 0) -> pd.DataFrame:
        """Pairs from the world's own held-out captions."""
        from tada.world.captions import prompt_pairs as world_pairs

        return world_pairs(list(features), limit, seed)

    def families(self, features: Sequence[str]) -> dict[str, str]:
        from tada.world.attributes import VALUE_FAMILY

        return {f: VALUE_FAMILY[f] for f in features}

    def layers(self, num_layers: int | None = None, structure: StructureConfig | None = None) -> list[str]:
        """``tf0..`` at the configured depth (``num_layers``, default 6)."""
        return [s.name for s in self.registry(num_layers).layers]

    def sites(self, num_layers: int | None = None) -> list[Site]:
        """Every site of the mini model at the configured depth (``num_layers``, default 6)."""
        return mini_sites(6 if num_layers is None else num_layers)

    def expected_sites(self, truth: str | Path | None = None) -> list[str]:
        """The trained model's ground truth, read from its ``config.json`` (``truth``)."""
        if truth is None:
            raise ConfigError(f"the ground truth of '{self.arch}' is read from its trained model's config.json")
        return mini_truth(truth)


#: the architectures not studied as the paper studies the real ones
STUDIES: dict[str, type[Study]] = {"mini": WorldStudy}


def study(arch: str) -> Study:
    """The study of ``arch``; an unknown architecture raises, listing the known ones."""
    if arch not in ARCHITECTURES:
        raise unknown_name("architecture", arch, ARCHITECTURES)
    return STUDIES.get(arch, Study)(arch)


def check_features(arch: str, names: Sequence[str]) -> list[Feature]:
    """The named localization features of ``arch`` (:meth:`Study.check_features`)."""
    return study(arch).check_features(names)


def check_presets(
    arch: str, presets: Sequence[str], patching: Patching, num_layers: int | None = None
) -> list[list[Site]]:
    """The sites of each preset of ``arch`` as ``patching`` intervenes on them (:meth:`Study.check_presets`),
    before any model loads."""
    return study(arch).check_presets(presets, patching, num_layers)


def layer_names(arch: str, num_layers: int | None = None, structure: StructureConfig | None = None) -> list[str]:
    """Whole cross-attention layers of ``arch`` in model order, known before any model loads
    (:meth:`Study.layers`; ``num_layers``: the mini model's configured depth)."""
    return study(arch).layers(num_layers, structure)
