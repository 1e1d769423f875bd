"""Named intervention sites and the presets that select them.

A *site* is one attention layer of a denoiser, named as in the reference code: ``tf6`` (block 6's
cross-attention), ``tf6k`` / ``tf6v`` (only its key / value projection), ``tf6self`` (its
self-attention), ``up1tf5attn0`` (AudioLDM2: up block 1, attention module 5, transformer block 0).

A *preset* names a set of sites. It is resolved, in this order, from

1. ``all`` / ``none``;
2. a YAML file: a path, or ``<presets_dir>/<arch>/<name>.yaml`` with a ``sites:`` list
   (or ``sites: all``);
3. a concatenation of site names and groups, e.g. ``tf5tf6tf7``, ``up1`` (every cross-attention
   site of up block 1), ``up1tf2tf5`` (the block prefix carries over), ``tf11k``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml

from tada.errors import ConfigError, UnknownNameError, unknown_name

#: the shipped presets (package data): ``tada/presets/<arch>/<name>.yaml``
PRESETS_DIR = Path(__file__).resolve().parent / "presets"
#: prefix of a preset that selects every layer except the named preset's sites (``except:tf6tf7``)
EXCEPT = "except:"

_TOKEN = re.compile(r"(up\d+|down\d+|mid)|(tf\d+)|(attn\d+)|(self)|([kv])$|([kv])(?=tf|up|down|mid)")


@dataclass(frozen=True)
class Site:
    """One attention layer of a denoiser, addressed by its reference name."""

    name: str
    module: str
    kind: Literal["cross", "self"] = "cross"
    projection: Literal["k", "v"] | None = None

    @property
    def target(self) -> str:
        """Dotted path of the module the hook attaches to (the projection for k/v sites)."""
        return f"{self.module}.to_{self.projection}" if self.projection else self.module


class SiteRegistry:
    """Resolves site and preset names of one architecture to :class:`Site` lists."""

    def __init__(self, arch: str, sites: list[Site], presets_dir: Path | None = None) -> None:
        self.arch = arch
        self.sites = {s.name: s for s in sites}
        self.presets_dir = Path(presets_dir or PRESETS_DIR) / arch

    @property
    def layers(self) -> list[Site]:
        """Whole cross-attention sites in model order: the layers a patching sweep visits."""
        return [s for s in self.sites.values() if s.kind == "cross" and s.projection is None]

    def preset_files(self) -> list[str]:
        """Names of the preset files shipped for this architecture."""
        return sorted(p.stem for p in self.presets_dir.glob("*.yaml")) if self.presets_dir.is_dir() else []

    def valid_names(self) -> list[str]:
        """Every preset a user can name directly (files, ``all``, ``none`` and single sites)."""
        return ["all", "none", *self.preset_files(), *self.sites]

    def resolve(self, preset: str | Path) -> list[Site]:
        """Sites selected by ``preset``; raises a listing error for an unknown name."""
        preset = str(preset)
        if preset == "all":
            return self.layers
        if preset.startswith(EXCEPT):  # every layer but a preset's: the reference's "ablated" arm
            excluded = self.resolve(preset[len(EXCEPT) :])
            return [s for s in self.layers if s not in excluded]
        if preset == "none":
            return []
        path = Path(preset)
        if path.suffix in {".yaml", ".yml"}:
            return self._from_file(path)
        file = self.presets_dir / f"{preset}.yaml"
        if file.is_file():
            return self._from_file(file)
        return self._parse(preset)

    def _from_file(self, path: Path) -> list[Site]:
        if not path.is_file():
            raise ConfigError(f"preset file {path} does not exist")
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict) or "sites" not in data:
            raise ConfigError(f"preset file {path} must be a mapping with a 'sites' list")
        sites = data["sites"]
        if sites == "all":
            return self.layers
        if not isinstance(sites, list) or not all(isinstance(s, str) for s in sites):
            raise ConfigError(f"preset file {path}: 'sites' must be a list of site names or 'all'")
        resolved: list[Site] = []
        for name in sites:
            try:
                resolved += [s for s in self._parse(name) if s not in resolved]
            except UnknownNameError as err:
                raise UnknownNameError(f"preset file {path}: {err}") from None
        return resolved

    def _parse(self, name: str) -> list[Site]:
        items = self._split(name)
        if items is None:
            raise unknown_name(f"preset or site for '{self.arch}'", name, self.valid_names())
        resolved: list[Site] = []
        for item in items:
            matches = self._expand(item)
            if not matches:
                raise unknown_name(f"preset or site for '{self.arch}'", name, self.valid_names())
            resolved += [s for s in matches if s not in resolved]
        return resolved

    @staticmethod
    def _split(name: str) -> list[str] | None:
        """Split ``up1tf2tf5attn0`` into ``[up1tf2, up1tf5attn0]``; None if it does not tokenize."""
        pos, prefix, items = 0, "", []
        while pos < len(name):
            m = _TOKEN.match(name, pos)
            if not m:
                return None
            block, tf, attn, self_, proj_end, proj = m.groups()
            tok = m.group(0)
            if block:
                prefix = block
                items.append(block)
            elif tf:
                if items and items[-1] == prefix and prefix:
                    items.pop()
                items.append(prefix + tf)
            elif items and (attn or self_ or proj_end or proj):
                items[-1] += tok
            else:
                return None
            pos = m.end()
        return items

    def _expand(self, item: str) -> list[Site]:
        if item in self.sites:
            return [self.sites[item]]
        return [
            s
            for s in self.layers
            if s.name.startswith(item) and s.name[len(item)].isalpha()
        ]


def dit_sites(n_blocks: int, cross: str, self_attn: str) -> list[Site]:
    """``tfN`` / ``tfNk`` / ``tfNv`` / ``tfNself`` for a DiT; ``cross``/``self_attn`` are ``{}``-templates."""
    sites: list[Site] = []
    for n in range(n_blocks):
        module = cross.format(n)
        sites += [
            Site(f"tf{n}", module),
            Site(f"tf{n}k", module, projection="k"),
            Site(f"tf{n}v", module, projection="v"),
            Site(f"tf{n}self", self_attn.format(n), kind="self"),
        ]
    return sites
