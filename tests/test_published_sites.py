"""Site names against the published layer-impact table: every (model, block, attn) of the reference's
localization_impact.csv resolves, on the full-size structure of its architecture (meta device), to a
cross-attention module that really receives the text; the reference's combination presets ship."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch import nn

from tada.errors import ConfigError, UnknownNameError
from tada.localization.layout import shipped_sites
from tada.localization.studies import layer_names
from tada.models import adapter_class
from tada.models.ace_step import AceStepV1Adapter
from tada.models.audioldm2 import AudioLDM2Adapter
from tada.models.stable_audio import StableAudioAdapter
from tada.models.structures import load_config, shipped
from tada.sites import PRESETS_DIR, Site, SiteRegistry

ROOT = Path(__file__).resolve().parents[1]
#: the shared reference data (read only): $TADA_SHARED, else ``shared`` next to the repository
SHARED = Path(os.environ.get("TADA_SHARED", ROOT.parent / "shared"))
IMPACT_CSV = SHARED / "reference" / "tada-published" / "localization_impact.csv"
#: model names of the published table -> our architectures
MODELS = {"ace": "ace_step_v1", "audioldm2": "audioldm2", "stableaudio": "stable_audio"}
ADAPTERS = {"ace_step_v1": AceStepV1Adapter, "audioldm2": AudioLDM2Adapter, "stable_audio": StableAudioAdapter}

#: combination presets of the reference (luk-st/steer-audio configs/patch_layers/<arch>/, steering arms)
COMBOS = {
    "ace_step_v1": {
        "tf5tf6": ["tf5", "tf6"],
        "tf5tf6tf7": ["tf5", "tf6", "tf7"],
        "tf6tf7": ["tf6", "tf7"],
        "tf6tf7tf13": ["tf6", "tf7", "tf13"],
        "tf7tf13": ["tf7", "tf13"],
        "no_tf6tf7": [f"tf{n}" for n in range(24) if n not in (6, 7)],
    },
    "audioldm2": {
        "up1tf2tf5tf9tf10": [f"up1tf{a}attn{t}" for a in (2, 5, 9, 10) for t in (0, 1)],
        "up1tf5tf9tf10": [f"up1tf{a}attn{t}" for a in (5, 9, 10) for t in (0, 1)],
        "up1tf5tf9": [f"up1tf{a}attn{t}" for a in (5, 9) for t in (0, 1)],
        "up1tf5tf10": [f"up1tf{a}attn{t}" for a in (5, 10) for t in (0, 1)],
        "up1tf5attn0tf9attn0": ["up1tf5attn0", "up1tf9attn0"],
        "up1tf5attn0tf10attn0": ["up1tf5attn0", "up1tf10attn0"],
        "up1_late7": [f"up1tf{a}attn{t}" for a in (5, 6, 9) for t in (0, 1)] + ["up1tf10attn0"],
    },
    "stable_audio": {
        "tf11tf12": ["tf11", "tf12"],
        "tf11ktf12k": ["tf11k", "tf12k"],
        "tf11vtf12v": ["tf11v", "tf12v"],
    },
}


@pytest.fixture(scope="module")
def published() -> pd.DataFrame:
    """The published (model, block, attn) triples, as our arch and site name."""
    if not IMPACT_CSV.is_file():
        pytest.skip(f"reference table not available: {IMPACT_CSV} (set TADA_SHARED to the shared folder)")
    table = pd.read_csv(IMPACT_CSV)[["model", "block", "attn"]].drop_duplicates()
    assert set(table.model) == set(MODELS), f"unexpected models {sorted(set(table.model))}"
    table["arch"] = table.model.map(MODELS)
    # AudioLDM2 rows name one transformer block of an attention module; the DiTs have one per block
    table["site"] = [
        f"{b}attn{a}" if arch == "audioldm2" else b for arch, b, a in zip(table.arch, table.block, table.attn, strict=True)
    ]
    assert (table[table.arch != "audioldm2"].attn == 0).all()
    return table


def text_inputs(arch: str, denoiser: nn.Module) -> dict[str, tuple[int, ...] | None]:
    """Shape of the ``encoder_hidden_states`` every attention module receives in one forward pass on
    the meta device, fed text streams of distinct lengths (None: the module sees no conditioning)."""
    seen: dict[str, tuple[int, ...] | None] = {}

    def hook(name: str):
        def record(_module: nn.Module, _args: tuple, kwargs: dict) -> None:
            states = kwargs.get("encoder_hidden_states")
            seen[name] = None if states is None else tuple(states.shape)

        return record

    handles = [
        m.register_forward_pre_hook(hook(n), with_kwargs=True)
        for n, m in denoiser.named_modules()
        if n.rsplit(".", 1)[-1] in {"attn1", "attn2"}
    ]
    try:
        with torch.device("meta"), torch.no_grad():
            if arch == "audioldm2":
                denoiser(
                    torch.empty(2, 8, 16, 16),
                    torch.empty(2),
                    encoder_hidden_states=torch.empty(2, *GPT2_STREAM),
                    encoder_hidden_states_1=torch.empty(2, *T5_STREAM),
                    encoder_attention_mask_1=torch.empty(2, T5_STREAM[0]),
                    return_dict=False,
                )
            else:
                denoiser(
                    torch.empty(2, 64, 32),
                    torch.empty(2),
                    encoder_hidden_states=torch.empty(2, *SA_TEXT_STREAM),
                    global_hidden_states=torch.empty(2, 1, 1536),
                    return_dict=False,
                )
    finally:
        for h in handles:
            h.remove()
    return seen


#: (tokens, width) of the text streams fed to the meta forward passes; distinct lengths identify them
GPT2_STREAM, T5_STREAM = (8, 768), (13, 1024)  # AudioLDM2: generated GPT-2 states, Flan-T5 states
SA_TEXT_STREAM = (130, 768)  # Stable Audio: T5 states + the seconds tokens


def resolve_published(arch: str, sites: list[Site], names: list[str]) -> SiteRegistry:
    """Every published name resolves to exactly that one whole cross-attention site; together they are
    all the layers of the structure."""
    registry = SiteRegistry(arch, sites)
    for name in names:
        resolved = registry.resolve(name)
        assert [(s.name, s.kind, s.projection) for s in resolved] == [(name, "cross", None)], name
    assert sorted(names) == sorted(s.name for s in registry.layers)
    return registry


@pytest.mark.parametrize("arch", ["stable_audio", "audioldm2"])
def test_published_sites_receive_text(arch: str, published: pd.DataFrame) -> None:
    names = published[published.arch == arch].site.tolist()
    assert len(names) == {"stable_audio": 24, "audioldm2": 64}[arch]
    denoiser = ADAPTERS[arch].meta_denoiser()
    registry = resolve_published(arch, ADAPTERS[arch].sites_of(denoiser), names)
    received = text_inputs(arch, denoiser)
    for name in names:
        site = registry.sites[name]
        attn = denoiser.get_submodule(site.module)
        if arch == "stable_audio":
            assert site.module.endswith(".attn2")
            assert received[site.module] == (2, *SA_TEXT_STREAM), name
        else:
            # attn2 of attention module a: text only where the module was built with a cross dim;
            # the block routes index 1 of each layer to the GPT-2 states, index 2 to Flan-T5
            assert attn.is_cross_attention, name
            block = denoiser.get_submodule(site.module.split(".attentions.")[0])
            a = int(site.module.split(".attentions.")[1].split(".")[0])
            stream = {1: GPT2_STREAM, 2: T5_STREAM}[a % len(block.cross_attention_dim)]
            assert received[site.module] == (2, *stream), name
            assert attn.to_k.in_features == stream[1]
    # nothing else takes text: self-attention and self-only attn2 modules see none
    text_modules = {m for m, shape in received.items() if shape is not None}
    assert text_modules == {registry.sites[n].module for n in names}


def test_published_ace_step_v1_sites(published: pd.DataFrame) -> None:
    """ACE-Step v1 (the ``acestep`` package is not on PyPI): names resolve on the shipped 24-block
    layout to ``transformer_blocks.N.cross_attn``, the module the reference patches and steers; with
    the package installed, those modules exist in the full-size DiT."""
    names = published[published.arch == "ace_step_v1"].site.tolist()
    assert len(names) == 24
    registry = resolve_published("ace_step_v1", AceStepV1Adapter.structure_sites(), names)
    for name in names:
        assert registry.sites[name].module == f"transformer_blocks.{name[2:]}.cross_attn"
        assert registry.sites[f"{name}self"].module == f"transformer_blocks.{name[2:]}.attn"
    try:
        import acestep  # noqa: F401
    except ImportError:
        return
    dit = AceStepV1Adapter.meta_denoiser()
    assert AceStepV1Adapter.sites_of(dit) == AceStepV1Adapter.structure_sites()
    for site in registry.sites.values():
        dit.get_submodule(site.target)


@pytest.mark.parametrize("arch", list(COMBOS))
def test_reference_combination_presets_ship(arch: str) -> None:
    """The reference's combination presets are files users find by name; each resolves on the
    full-size structure to the layers it names, all of them text cross-attention sites."""
    registry = SiteRegistry(arch, ADAPTERS[arch].structure_sites())
    assert set(COMBOS[arch]) <= set(registry.preset_files())
    for name, sites in COMBOS[arch].items():
        assert (PRESETS_DIR / arch / f"{name}.yaml").is_file()
        resolved = registry.resolve(name)
        assert [s.name for s in resolved] == sites, name
        assert all(s.kind == "cross" for s in resolved)
    for name in registry.preset_files():  # every shipped preset resolves to whole layers or projections
        assert registry.resolve(name), name


@pytest.mark.parametrize("arch", ["stable_audio", "audioldm2", "ace_step_v1", "ace_step_15"])
def test_shipped_site_lists_match_the_structures(arch: str) -> None:
    """The sites a workflow plans and checks presets with (data, no model library) are those of the arch's
    shipped structure, in order; its layers are their whole cross-attention sites."""
    sites = adapter_class(arch).structure_sites(None)
    assert shipped_sites()[arch] == sites, f"update tada/models/structures/_sites.json: {arch}"
    assert layer_names(arch) == [s.name for s in SiteRegistry(arch, sites).layers]


# another checkpoint's structure -------------------------------------------------------------------------
def test_structure_from_a_checkpoint_config(tmp_path: Path) -> None:
    """Sites of another checkpoint of an architecture come from its own config: a checkpoint folder
    (the denoiser's subfolder), a ``config.json`` or a mapping; the shipped ones need none of these."""
    assert shipped() == ["ace_step_15", "ace_step_v1", "audioldm2_large", "stable_audio"]
    dit = load_config("stable_audio") | {"num_layers": 6}
    (tmp_path / "transformer").mkdir()
    (tmp_path / "transformer" / "config.json").write_text(json.dumps(dit))
    assert layer_names("stable_audio", structure=tmp_path) == [f"tf{n}" for n in range(6)]
    assert layer_names("stable_audio", structure=tmp_path / "transformer" / "config.json")[-1] == "tf5"
    assert len(StableAudioAdapter.structure_sites(dit)) == 6 * 4  # tfN, tfNk, tfNv, tfNself
    v1 = tmp_path / "v1" / "ace_step_transformer"
    v1.mkdir(parents=True)
    (v1 / "config.json").write_text(json.dumps(load_config("ace_step_v1") | {"num_layers": 3}))
    assert layer_names("ace_step_v1", structure=tmp_path / "v1") == ["tf0", "tf1", "tf2"]
    assert layer_names("ace_step_v1") == [f"tf{n}" for n in range(24)]
    with pytest.raises(ConfigError, match="no denoiser config"):
        StableAudioAdapter.structure_sites(tmp_path / "v1")
    with pytest.raises(UnknownNameError, match="stable_audio"):
        load_config("stable_audo")
