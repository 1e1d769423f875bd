"""Localization: prompt pairs, the patching engine on tiny real architectures and a random mini model,
the impact formula, the report files and the workflow's per-cell cone."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from tada.errors import ConfigError, MissingCheckpointError, UnknownNameError  # noqa: E402
from tada.localization import cells, prompts  # noqa: E402
from tada.localization.cells import run_cells, write_cells  # noqa: E402
from tada.localization.features import MUSICCAPS  # noqa: E402
from tada.localization.impact import bottleneck, impact_table, layer_impact, write_preset  # noqa: E402
from tada.localization.patching import Patcher, Patching, clips  # noqa: E402
from tada.localization.plots import published_panels  # noqa: E402
from tada.localization.report import write_family_preset, write_report  # noqa: E402
from tada.localization.studies import Study, WorldStudy, check_features, check_presets, study  # noqa: E402
from tada.models.base import ModelAdapter  # noqa: E402
from tada.models.mini import MiniAdapter, MiniConfig, MiniTextToMusic  # noqa: E402
from tada.testing import tiny  # noqa: E402

torch.set_num_threads(1)
pytestmark = [
    pytest.mark.filterwarnings("ignore:Should have:UserWarning"),
    pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated:FutureWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]
ROOT = Path(__file__).resolve().parents[1]
#: the shared reference data (read only): $TADA_SHARED, else ``shared`` next to the repository
SHARED = Path(os.environ.get("TADA_SHARED", ROOT.parent / "shared"))
PAIRS = pd.DataFrame(
    {
        "original_feature": ["violin", "violin", "fast"],
        "clean_prompt": ["a happy violin song with drums", "violin solo, sad", "a fast jazz piece"],
        "corrupted_prompt": ["a happy trumpet song with drums", "trumpet solo, sad", "a slow jazz piece"],
    }
)


# prompt pairs ----------------------------------------------------------------------------------
MUSICCAPS_CSV = """ytid,caption
a1,"A folk piece with violin and strings."
a2,"Violin solo over a trumpet fanfare."
a3,"The violinist plays a waltz."
a4,"A fiddle tune with
a fast beat."
a5,"A third VIOLIN piece."
a6,"Breakfast music, slow and calm."
a7,"A woman sings; her voice is soft. She smiles."
a8,"An orchestra plays; no band here."
"""


@pytest.fixture
def musiccaps(tmp_path: Path) -> Path:
    path = tmp_path / "musiccaps.csv"
    path.write_text(MUSICCAPS_CSV)
    return path


def test_pairs_from_musiccaps_keep_whole_words_without_counterfactuals(musiccaps: Path) -> None:
    pairs = prompts.build_pairs("stable_audio", musiccaps, ["violin", "fast", "female", "slow", "opera"], limit=2)
    assert list(pairs.columns) == prompts.COLUMNS
    by = {f: g for f, g in pairs.groupby("original_feature")}
    # a2 has the counterfactual 'trumpet', a3 only 'violinist'; a5 is past the limit of 2
    violin = by["violin"]
    assert violin.clean_prompt.tolist() == ["A folk piece with violin and strings.", "A fiddle tune with a fast beat."]
    assert violin.corrupted_prompt.tolist() == ["A folk piece with trumpet and.", "A trumpet tune with a fast beat."]
    assert by["fast"].corrupted_prompt.tolist() == ["A fiddle tune with a slow beat."]
    assert by["female"].corrupted_prompt.tolist() == ["A man sings; his voice is soft. He smiles."]
    assert by["slow"].clean_prompt.tolist() == ["Breakfast music, slow and calm."]  # 'Breakfast' is not 'fast'
    assert by["opera"].corrupted_prompt.tolist() == ["An band plays; no band here."]


def test_limit_and_case_insensitive(musiccaps: Path) -> None:
    three = prompts.build_pairs("stable_audio", musiccaps, ["violin"], limit=3)
    assert three.clean_prompt.tolist()[-1] == "A third VIOLIN piece."
    assert three.corrupted_prompt.tolist()[-1] == "A third TRUMPET piece."


def test_feature_tables() -> None:
    assert list(MUSICCAPS) == [
        "female", "male", "fast", "slow", "happy", "sad", "reggae", "metal", "opera", "jazz", "violin",
        "trumpet", "saxophone", "drums", "cello", "bongos", "flute", "maracas", "harmonica", "trombone", "xylophone",
    ]  # fmt: skip
    assert MUSICCAPS["harmonica"].corrupt("harmonica blues") == "harp blues"
    assert MUSICCAPS["happy"].corrupt("an upbeat, cheerful song") == "an downbeat, gloomy song"
    assert [f.name for f in check_features("mini", ["low", "violin"])] == ["low", "violin"]
    assert check_features("mini", ["flute"])[0].corrupt("flute solo") == "xylophone solo"  # the world's own swap


def test_studies_hold_what_differs_per_architecture(tmp_path: Path) -> None:
    mini, real = study("mini"), study("stable_audio")
    assert type(mini) is WorldStudy and type(real) is Study
    assert mini.families(["violin", "fast"]) == {"violin": "instrument", "fast": "tempo"}
    assert real.families(["violin"]) is None  # MusicCaps features have no families
    assert mini.layers(3) == ["tf0", "tf1", "tf2"] and real.layers() == real.layers(3)  # depth: mini's only
    (tmp_path / "config.json").write_text(json.dumps({"semantic_blocks": [1, 4]}))
    assert (mini.expected_sites(tmp_path / "config.json"), mini.expected_label) == (["tf1", "tf4"], "ground truth")
    with pytest.raises(ConfigError, match="ground truth of 'mini'"):
        mini.expected_sites()
    assert real.expected_label == "reference preset" and real.expected_sites()  # the shipped preset's layers
    with pytest.raises(UnknownNameError, match="'ministral'.*Did you mean 'mini'"):
        study("ministral")


def test_pair_files_and_mini_pairs(tmp_path: Path, musiccaps: Path) -> None:
    built = prompts.build_pairs("stable_audio", musiccaps, ["violin", "fast"], limit=5)
    built.to_parquet(tmp_path / "pairs.parquet")
    loaded = prompts.prompt_pairs("stable_audio", ["violin"], 1, tmp_path / "pairs.parquet")
    assert loaded.to_dict("records") == built.head(1).to_dict("records")
    via_csv = prompts.prompt_pairs("audioldm2", ["fast"], 5, musiccaps)  # a MusicCaps CSV works as a source
    assert via_csv.original_feature.tolist() == ["fast"]
    world = prompts.prompt_pairs("mini", ["violin", "low"], 3)
    assert world.groupby("original_feature").size().to_dict() == {"low": 3, "violin": 3}


# bad input fails before any generation ------------------------------------------------------
def test_unknown_feature_lists_valid_ones(musiccaps: Path) -> None:
    with pytest.raises(UnknownNameError, match="'violn'.*Did you mean 'violin'.*Valid:.*xylophone"):
        prompts.build_pairs("stable_audio", musiccaps, ["violn"], limit=2)
    with pytest.raises(UnknownNameError, match="Valid:.*high"):
        prompts.prompt_pairs("mini", ["saxophone"], 2)  # not a mini-world feature


def test_bad_prompt_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ConfigError, match="empty"):
        prompts.build_pairs("stable_audio", empty, ["violin"], 2)
    header_only = tmp_path / "header.csv"
    header_only.write_text("caption\n")
    with pytest.raises(ConfigError, match="no rows"):
        prompts.build_pairs("stable_audio", header_only, ["violin"], 2)
    no_caption = tmp_path / "nocap.csv"
    no_caption.write_text("ytid,text\na,violin music\n")
    with pytest.raises(ConfigError, match="no 'caption' column.*ytid, text"):
        prompts.build_pairs("stable_audio", no_caption, ["violin"], 2)
    with pytest.raises(ConfigError, match="lacks column.*corrupted_prompt"):
        prompts.prompt_pairs("stable_audio", ["violin"], 2, no_caption)
    with pytest.raises(ConfigError, match="does not exist .*a CSV or parquet file of pairs .*'caption' column"):
        prompts.prompt_pairs("stable_audio", ["violin"], 2, tmp_path / "missing.csv")


def test_published_dataset_offline_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    def offline(*_a: object, **_k: object) -> None:
        raise ConnectionError("offline")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(MissingCheckpointError, match="patching-music-musiccaps-prompts.*prompt_files"):
        prompts.prompt_pairs("stable_audio", ["violin"], 2)


def test_bad_variant_and_direction() -> None:
    with pytest.raises(UnknownNameError, match="Valid: ablate, key, patch, value"):
        Patching("keys")
    with pytest.raises(ConfigError, match="reverse"):
        Patching("ablate", reverse=True)


# a random mini model ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mini() -> MiniAdapter:
    torch.manual_seed(0)
    vocab = sorted({w for p in (*PAIRS.clean_prompt, *PAIRS.corrupted_prompt) for w in p.replace(",", "").split()})
    return MiniAdapter(MiniTextToMusic(MiniConfig(vocab=vocab, num_layers=3, steps=4)))


def generate(adapter: ModelAdapter, prompts: list[str], seeds: list[int], config=None) -> np.ndarray:
    return adapter.generate(prompts, seeds, config or adapter.generation_config("patching")).waveforms


@pytest.fixture
def no_generation(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("generation started before the input was checked")

    monkeypatch.setattr(MiniAdapter, "generate", refuse)


def test_unknown_preset_raises_before_generation(mini: MiniAdapter, no_generation: None, tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="'tf9'.*Valid:.*tf2"):
        write_cells(mini, None, PAIRS, "violin", ["none", "tf9"], tmp_path)
    with pytest.raises(UnknownNameError, match="'trombone'"):
        write_cells(mini, None, PAIRS, "trombone", ["none"], tmp_path)
    with pytest.raises(ConfigError, match="self-attention"):
        Patcher(mini).resolve(["tf1self"])


def test_presets_are_checked_from_data_as_the_model_resolves_them(mini: MiniAdapter) -> None:
    """A workflow checks presets while planning, against sites known without a model: the same sites, and
    the same refusals, as the loaded model's."""
    assert study("mini").sites(3) == mini.sites()
    assert check_presets("mini", ["tf1tf2", "except:tf0"], Patching("key"), 3) == [
        Patcher(mini, patching=Patching("key")).resolve([p])[p] for p in ["tf1tf2", "except:tf0"]
    ]
    with pytest.raises(UnknownNameError, match="'tf9'.*Valid:.*tf2"):
        check_presets("mini", ["tf9"], Patching(), 3)
    with pytest.raises(ConfigError, match="self-attention"):
        check_presets("mini", ["tf1self"], Patching(), 3)
    assert [s.name for s in check_presets("audioldm2", ["up1tf2"], Patching())[0]] == ["up1tf2attn0", "up1tf2attn1"]


def test_run_cells_checks_feature_before_loading(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("a model was loaded before the feature was checked")

    monkeypatch.setattr(cells, "load_model", refuse)
    with pytest.raises(UnknownNameError, match="'drums'"):
        run_cells("mini", "unused", {}, tmp_path / "pairs.parquet", "drums", ["none"], tmp_path, refuse)


def test_mini_all_is_clean_none_is_corrupted(mini: MiniAdapter, monkeypatch: pytest.MonkeyPatch) -> None:
    table = clips(PAIRS, seeds_per_pair=2)
    assert table.seed.tolist() == [0, 1, 2, 3, 0, 1]  # per feature: pair * seeds_per_pair + j
    seeds = table.seed.tolist()
    clean = generate(mini, table.clean_prompt.tolist(), seeds)
    corrupted = generate(mini, table.corrupted_prompt.tolist(), seeds)
    recordings = []
    record = mini.record_conditioning
    monkeypatch.setattr(mini, "record_conditioning", lambda *a: recordings.append(1) or record(*a))
    out = Patcher(mini, batch_size=4, progress=False).run(table, ["none", "all", "tf1"])
    assert len(recordings) == 2  # once per batch, shared by the three presets
    np.testing.assert_allclose(out["all"].waveforms, clean, atol=1e-5)
    np.testing.assert_array_equal(out["none"].waveforms, corrupted)
    assert np.abs(out["tf1"].waveforms - corrupted).max() > 1e-4
    back = Patcher(mini, patching=Patching(reverse=True), progress=False).run(table, ["none", "all"])
    np.testing.assert_allclose(back["all"].waveforms, corrupted, atol=1e-5)
    np.testing.assert_array_equal(back["none"].waveforms, clean)


def test_mini_key_value_and_ablate(mini: MiniAdapter) -> None:
    table = clips(PAIRS.head(2))
    corrupted = generate(mini, table.corrupted_prompt.tolist(), table.seed.tolist())
    clean = generate(mini, table.clean_prompt.tolist(), table.seed.tolist())
    registry = mini.registry()
    assert [s.name for s in Patching("key").sites(registry, "tf0tf2")] == ["tf0k", "tf2k"]
    assert [s.name for s in Patching("value").sites(registry, "all")] == ["tf0v", "tf1v", "tf2v"]
    keys = Patcher(mini, patching=Patching("key"), progress=False).run(table, ["all"])["all"].waveforms
    values = Patcher(mini, patching=Patching("value"), progress=False).run(table, ["all"])["all"].waveforms
    for out in (keys, values):
        assert out.shape == corrupted.shape
        assert np.abs(out - corrupted).max() > 1e-4 and np.abs(out - clean).max() > 1e-4
    ablated = Patcher(mini, patching=Patching("ablate"), progress=False).run(table, ["none", "tf1"])
    np.testing.assert_array_equal(ablated["none"].waveforms, clean)  # ablate generates the clean prompt
    assert np.abs(ablated["tf1"].waveforms - clean).max() > 1e-4


class ConstantScorer:
    """Scores each clip by its mean absolute amplitude (enough to exercise the cell files)."""

    def similarity(self, waves: np.ndarray, sample_rate: int, texts: list[str]) -> np.ndarray:
        return np.abs(waves).mean(axis=-1)


def test_cells_write_audio_manifest_scores(mini: MiniAdapter, tmp_path: Path) -> None:
    scores = write_cells(mini, ConstantScorer(), PAIRS, "violin", ["none", "tf2"], tmp_path, seeds_per_pair=2)
    cell = tmp_path / "violin" / "tf2"
    manifest = pd.read_csv(cell / "manifest.csv")
    assert len(manifest) == 4 and (cell / manifest.file[0]).is_file()
    assert manifest.patched_from[0] == PAIRS.clean_prompt[0] and manifest.generated[0] == PAIRS.corrupted_prompt[0]
    on_disk = pd.read_csv(cell / "scores.csv")
    assert on_disk.text.unique().tolist() == ["violin"]
    np.testing.assert_allclose(on_disk.score, scores["tf2"].score, rtol=1e-6)


# tiny real architectures -------------------------------------------------------------------------
BUILDERS = tiny.TINY_REAL_ARCHS


@pytest.mark.parametrize("arch", list(BUILDERS))
def test_tiny_architectures_patch_exactly(arch: str) -> None:
    adapter = BUILDERS[arch]()
    config = adapter.generation_config("patching", steps=3).with_(duration=tiny.PATCHING_DURATIONS[arch])
    table = clips(PAIRS.head(2))
    clean = generate(adapter, table.clean_prompt.tolist(), table.seed.tolist(), config)
    corrupted = generate(adapter, table.corrupted_prompt.tolist(), table.seed.tolist(), config)
    layer = adapter.registry().layers[-1].name
    out = Patcher(adapter, config, progress=False).run(table, ["none", "all", layer])
    scale = np.abs(clean).max()
    np.testing.assert_allclose(out["all"].waveforms, clean, atol=1e-5 * max(scale, 1.0))
    np.testing.assert_array_equal(out["none"].waveforms, corrupted)
    ablated = Patcher(adapter, config, Patching("ablate"), progress=False).run(table, [layer])[layer].waveforms
    assert np.abs(ablated - clean).max() > 1e-6 * scale


# impact -------------------------------------------------------------------------------------------
def hand_scores() -> pd.DataFrame:
    """Two pairs per cell; means: violin none 0.1, all 0.5, tf0 0.3, tf1 0.05, tf2 0.9;
    fast none 0.2, all 0.6, tf0 0.2, tf1 0.4, tf2 0.6; low: all == none (undefined)."""
    means = {
        "violin": {"none": 0.1, "all": 0.5, "tf0": 0.3, "tf1": 0.05, "tf2": 0.9},
        "fast": {"none": 0.2, "all": 0.6, "tf0": 0.2, "tf1": 0.4, "tf2": 0.6},
        "low": {"none": 0.3, "all": 0.3, "tf0": 0.5, "tf1": 0.1, "tf2": 0.3},
    }
    rows = [
        (f, p, m + d) for f, presets in means.items() for p, m in presets.items() for d in (-0.05, 0.05)
    ]
    return pd.DataFrame(rows, columns=["feature", "preset", "score"])


def test_impact_formula() -> None:
    impact = impact_table(hand_scores(), ["tf0", "tf1", "tf2"])
    got = impact.pivot(index="feature", columns="site", values="impact")
    np.testing.assert_allclose(got.loc["violin"], [0.5, 0.0, 2.0])  # (s(l)-s(none))/(s(all)-s(none)), floored at 0
    np.testing.assert_allclose(got.loc["fast"], [0.0, 0.5, 1.0])
    assert got.loc["low"].isna().all()  # s(all) == s(none): undefined, left out of the means
    overall = layer_impact(impact).loc["all"]
    np.testing.assert_allclose(overall, [0.25, 0.25, 1.5])
    assert bottleneck(overall, 0.3) == ["tf2"] and bottleneck(overall, 0.2) == ["tf0", "tf1", "tf2"]
    families = layer_impact(impact, {"violin": "instrument", "fast": "tempo", "low": "register"})
    np.testing.assert_allclose(families.loc["tempo"], [0.0, 0.5, 1.0])
    with pytest.raises(ConfigError, match="lack preset.*tf3"):
        impact_table(hand_scores(), ["tf3"])
    # ablation and reverse patching lower the score: the same ratios, defined for the other sign
    assert (Patching().sign, Patching(reverse=True).sign, Patching("ablate").sign) == (1, -1, -1)
    lowered = hand_scores().assign(score=lambda d: -d.score)
    pd.testing.assert_frame_equal(
        impact_table(lowered, ["tf0", "tf1", "tf2"], sign=-1)[["feature", "site", "impact"]],
        impact[["feature", "site", "impact"]],
    )
    assert impact_table(lowered, ["tf0", "tf1", "tf2"]).impact.isna().all()


def test_preset_file_resolves(mini: MiniAdapter, tmp_path: Path) -> None:
    overall = layer_impact(impact_table(hand_scores(), ["tf0", "tf1", "tf2"])).loc["all"]
    write_preset(tmp_path / "localized.yaml", bottleneck(overall, 0.2), 0.2, overall)
    assert [s.name for s in mini.registry().resolve(tmp_path / "localized.yaml")] == ["tf0", "tf1", "tf2"]
    (tmp_path / "typo.yaml").write_text("sites: [tf1, tf9]\n")
    with pytest.raises(UnknownNameError, match=r"preset file \S*typo.yaml: unknown preset or site for 'mini' 'tf9'"):
        mini.registry().resolve(tmp_path / "typo.yaml")  # the error names the file it came from


def test_report_files(tmp_path: Path) -> None:
    names = {"impact": "impact.csv", "heatmap_png": "h.png", "heatmap_pdf": "h.pdf", "bars": "bars.png",
             "preset": "loc.yaml", "summary": "summary.md"}  # fmt: skip
    out = {k: tmp_path / n for k, n in names.items()}
    write_report("mini", hand_scores(), ["tf0", "tf1", "tf2"], 0.3, out, {"variant": "patch"}, ["tf2"])
    assert all(p.stat().st_size > 0 for p in out.values())
    impact = pd.read_csv(out["impact"])
    assert {"feature", "family", "site", "impact"} <= set(impact.columns)
    assert yaml.safe_load(out["preset"].read_text())["sites"] == ["tf2"]
    summary = out["summary"].read_text()
    assert "| all features | tf2 | tf2 | yes |" in summary and "undefined" in summary and "low" in summary
    assert write_family_preset(impact, "tempo", 0.3, tmp_path / "tempo.yaml") == ["tf1", "tf2"]
    with pytest.raises(UnknownNameError, match="'mood'"):
        write_family_preset(impact, "mood", 0.3, tmp_path / "mood.yaml")


def test_published_panels() -> None:
    path = SHARED / "reference" / "tada-published" / "localization_impact.csv"
    table = pd.read_csv(path) if path.is_file() else pd.DataFrame(
        {"model": ["audioldm2"] * 2, "metric": ["clap_1_mean"] * 2, "concept": ["fast"] * 2,
         "block": ["up1tf5"] * 2, "attn": [0, 1], "impact": [0.3, 0.1]}
    )  # fmt: skip
    panels = published_panels(table, "audioldm2")
    assert "up1tf5attn0" in next(iter(panels.values())).columns


# workflow -----------------------------------------------------------------------------------------
def test_one_cell_builds_only_its_cone(tmp_path: Path) -> None:
    results = tmp_path / "results"
    (results / "mini" / "model").mkdir(parents=True)
    (results / "mini" / "scorer").mkdir(parents=True)
    (results / "mini" / "model" / "config.json").write_text(json.dumps({"semantic_blocks": [2, 3]}))
    (results / "mini" / "scorer" / "config.json").write_text("{}")
    (tmp_path / "override.yaml").write_text(f"results: {results}\n")
    (tmp_path / "Snakefile").write_text(
        f'configfile: "{ROOT}/config/config.yaml"\nconfigfile: "{tmp_path}/override.yaml"\n'
        f'include: "{ROOT}/workflow/rules/common.smk"\ninclude: "{ROOT}/workflow/rules/localization.smk"\n'
    )
    snakemake = shutil.which("snakemake", path=str(Path(sys.executable).parent)) or "snakemake"
    target = results / "localization" / "mini" / "violin" / "tf2" / "scores.csv"
    run = subprocess.run(
        [snakemake, "-n", "--cores", "1", str(target)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr + run.stdout
    stats = run.stdout.split("Job stats:")[1]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", stats, flags=re.MULTILINE))
    assert jobs == {"localization_pairs": "1", "localization_mini": "1", "total": "2"}


# the trained mini models' localization is checked on the default run's results: tests/default_run


def test_cells_draw_the_reference_noise_of_a_feature(tmp_path: Path) -> None:
    """``noise: reference``: a feature's clips start from rows ``pair * seeds_per_pair + j`` of one draw for
    all its pairs, exactly the clips generated from that draw directly."""
    adapter = tiny.tiny_stable_audio()
    adapter.generation_presets = {"patching": adapter.generation_config("patching", steps=2).with_(duration=None)}
    pairs = PAIRS[PAIRS.original_feature == "violin"].head(2)
    write_cells(adapter, ConstantScorer(), pairs, "violin", ["none"], tmp_path, seeds_per_pair=2, noise="reference")
    manifest = pd.read_csv(tmp_path / "violin" / "none" / "manifest.csv")
    assert manifest.seed.tolist() == [0, 1, 2, 3]
    config = adapter.generation_config("patching", noise="reference", noise_rows=4)
    direct = adapter.generate(manifest.generated.tolist(), manifest.seed.tolist(), config).waveforms
    written = np.stack([sf.read(tmp_path / "violin" / "none" / f, dtype="float32", always_2d=True)[0].T
                        for f in manifest.file])  # fmt: skip
    np.testing.assert_allclose(written, direct, atol=1 / 2**14)  # 16-bit WAV
    other = adapter.generate(manifest.generated.tolist(), manifest.seed.tolist(), config.with_(noise="per_clip"))
    assert np.abs(other.waveforms - direct).max() > 1e-3  # per-clip seeds are other noise
