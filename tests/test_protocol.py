"""The evaluation protocol: AUC / smoothness / quality, the published tables, the Snakemake rules."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tada.errors import TadaError, UnknownNameError
from tada.protocol import curves as cv
from tada.protocol.aggregate import per_alpha
from tada.protocol.formats import cell_label, to_latex, to_markdown
from tada.protocol.published import DEFAULT_ROOT, load_curves, main, published_table
from tada.protocol.tables import concept_cutoffs, protocol_table

REPO = Path(__file__).resolve().parents[1]
needs_reference = pytest.mark.skipif(
    not (DEFAULT_ROOT / "steering_metrics.csv").is_file(), reason="shared reference CSVs not present"
)

# ---------------------------------------------------------------- hand-made curves


def test_auc_of_a_monotone_curve_is_its_integral() -> None:
    alpha = np.array([-3.0, -2, -1, 0, 1, 2, 3])
    pres = np.abs(alpha)
    score = 0.5 + 0.1 * alpha  # gain 0.1 * L in both directions (sign-corrected)
    for sign in cv.DIRECTIONS:
        assert cv.auc(alpha, pres, score, sign, cut=3.0) == pytest.approx(0.45)
    assert cv.auc(alpha, pres, 0.5 - 0.1 * alpha, 1, cut=3.0) == pytest.approx(-0.45)  # wrong way is negative


def test_auc_adds_a_point_interpolated_at_the_cutoff() -> None:
    alpha, pres = np.arange(4.0), np.arange(4.0)
    score = np.array([0.0, 0.1, 0.2, 0.6])
    # points 0..2 plus (2.5, 0.2 + 0.5 * (0.6 - 0.2)) -> 0.02 + ... trapezoids: 0.05 + 0.15 + 0.5 * (0.2 + 0.4) / 2
    assert cv.auc(alpha, pres, score, 1, cut=2.5) == pytest.approx(0.05 + 0.15 + 0.5 * 0.3)
    a, p, s = cv.truncated_curve(alpha, pres, score, 1, 2.5, boundary=True)
    np.testing.assert_allclose(p, [0, 1, 2, 2.5])
    np.testing.assert_allclose(s, [0, 0.1, 0.2, 0.4])
    np.testing.assert_allclose(a, [0, 1, 2, 3])  # the interpolated point takes the next point's |alpha|
    # a curve ending exactly at the cut-off keeps its last point and gets no extra one
    assert len(cv.truncated_curve(alpha, pres, score, 1, 3.0, boundary=True)[0]) == 4


def test_auc_follows_the_sweep_when_preservation_backtracks() -> None:
    alpha = np.array([0.0, 1, 2, 3])
    pres = np.array([0.0, 2, 1, 3])
    score = np.array([0.0, 1, 1, 1])
    # path integral in |alpha| order: 1 (0->2) - 1 (2->1) + 2 (1->3); sorting by L would give 2.5
    assert cv.auc(alpha, pres, score, 1, cut=3.0) == pytest.approx(2.0)


def test_auc_needs_two_points() -> None:
    # only L=0 lies inside: the interpolated point (1, 0.2) makes the second
    assert cv.auc(np.array([0.0, 1]), np.array([0.0, 5]), np.array([0.0, 1]), 1, cut=1.0) == pytest.approx(0.1)
    assert np.isnan(cv.auc(np.array([0.0]), np.array([0.0]), np.array([0.0]), 1, cut=1.0))


def test_csm_is_the_population_std_of_normalised_steps() -> None:
    alpha, pres = np.arange(4.0), np.arange(4.0)
    assert cv.csm(alpha, pres, np.array([0.0, 0.1, 0.2, 0.3]), 1, cut=3.0) == pytest.approx(0.0, abs=1e-12)
    value = cv.csm(alpha, pres, np.array([0.0, 0.3, 0.3, 0.4]), 1, cut=3.0)
    assert value == pytest.approx(np.std([0.75, 0.0, 0.25]))  # ddof=0
    # truncation at the cut-off drops the last point, and no interpolated point is added
    assert cv.csm(alpha, pres, np.array([0.0, 0.3, 0.3, 0.4]), 1, cut=2.5) == pytest.approx(0.5)


def test_csm_counts_negative_steps_and_is_undefined_without_positive_gain() -> None:
    alpha, pres = np.arange(4.0), np.arange(4.0)
    value = cv.csm(alpha, pres, np.array([0.0, 0.2, -0.1, 0.1]), 1, cut=3.0)
    assert value == pytest.approx(np.std([1.0, -1.5, 1.0]))
    assert np.isnan(cv.csm(alpha, pres, np.array([0.0, -0.1, -0.2, -0.3]), 1, cut=3.0))
    assert cv.auc(alpha, pres, np.array([0.0, -0.1, -0.2, -0.3]), 1, cut=3.0) == pytest.approx(-0.45)


def test_quality_reads_scores_on_an_even_grid() -> None:
    alpha, pres = np.arange(4.0), np.arange(4.0)
    assert cv.quality(alpha, pres, np.full(4, 6.5), 1, cut=3.0) == pytest.approx(6.5)
    assert cv.quality(alpha, pres, pres.copy(), 1, cut=3.0) == pytest.approx(1.5)  # mean of linspace(0, 3, 15)
    # grid values beyond the curve's range are skipped: only L <= 3 of linspace(0, 6, 15) count
    grid = np.linspace(0, 6, 15)
    assert cv.quality(alpha, pres, pres.copy(), 1, cut=6.0) == pytest.approx(grid[grid <= 3].mean())


def test_cutoff_is_the_smaller_maximum() -> None:
    a = np.array([-2.0, -1, 0, 1, 2])
    curves = [(a, np.array([3.0, 1, 0, 1, 4])), (a, np.array([2.0, 1, 0, 1, 5]))]
    assert cv.cutoff(curves, 1) == 4.0
    assert cv.cutoff(curves, -1) == 2.0


def _toy_curves() -> pd.DataFrame:
    alpha = np.array([-2.0, -1, 0, 1, 2])
    rows = []
    for concept in ("c1", "c2"):
        for cell, gain in (("pci_all", 0.1), ("pci_loc", 0.05), ("caa_loc", 0.2)):
            for a in alpha:
                score = 0.5 + gain * a if (concept, cell) != ("c2", "caa_loc") else 0.5 - abs(a) * gain
                rows.append({"concept": concept, "cell": cell, "alpha": a, "lpaps": abs(a), "clap": score})
    return pd.DataFrame(rows)


def test_protocol_table_rows_and_averages() -> None:
    table = protocol_table(_toy_curves(), "lpaps", ["clap"])
    assert list(table.columns) == ["concept", "cell", "auc_clap", "csm_clap", "quality"]
    assert list(table["concept"]) == ["c1"] * 3 + ["c2"] * 3 + ["average"] * 3
    c1 = table[table["concept"] == "c1"].set_index("cell")
    assert c1.at["caa_loc", "auc_clap"] == pytest.approx(0.2 * 2 * 2 / 2)  # 0.2 L over [0, 2]
    c2 = table[table["concept"] == "c2"].set_index("cell")
    assert np.isnan(c2.at["caa_loc", "csm_clap"])  # the positive direction never gains
    avg = table[table["concept"] == "average"].set_index("cell")
    assert avg.at["caa_loc", "csm_clap"] == pytest.approx(c1.at["caa_loc", "csm_clap"])  # NaN skipped
    assert avg.at["caa_loc", "auc_clap"] == pytest.approx((0.4 + c2.at["caa_loc", "auc_clap"]) / 2)
    assert table["quality"].isna().all()  # no aesthetic columns
    md, tex = to_markdown(table), to_latex(table)
    assert "| CAA (loc.) | `caa_loc` |" in md and " - |" in md
    assert r"\begin{tabular}" in tex and "c1 & PCI" in tex


def test_cutoffs_fall_back_to_all_cells_without_pci() -> None:
    curves = _toy_curves()
    curves = curves[curves["cell"] == "caa_loc"]
    cuts = concept_cutoffs(curves)
    assert cuts.loc["c1"].tolist() == [2.0, 2.0]


def test_cell_labels() -> None:
    assert cell_label("caa_loc") == "CAA (loc.)"
    assert cell_label("pci_all") == "PCI"
    assert cell_label("sae") == "SAE (loc.)"  # the published cell
    assert cell_label("sae_all") == "SAE"
    assert cell_label("sliders_loc") == "Concept Sliders (loc.)"
    assert cell_label("cs") == "Concept Sliders"
    assert cell_label("austeer_random") == "AUSteer (random dir.)"
    assert cell_label("my_method") == "my_method"


def test_per_alpha_means_over_prompts_and_seeds() -> None:
    metrics = pd.DataFrame(
        {
            "concept": "violin",
            "method": "caa_loc",
            "prompt_id": [0, 1, 0, 1],
            "prompt": ["a", "b", "a", "b"],
            "seed": 0,
            "alpha": [0.0, 0.0, 1.0, 1.0],
            "path": ["w0", "w1", "w2", "w3"],
            "mini": [0.1, 0.3, 0.5, np.nan],
            "lpaps": [0.0, 0.0, 1.0, 3.0],
        }
    )
    out = per_alpha(metrics)
    assert list(out.columns) == ["concept", "cell", "alpha", "n_clips", "mini", "lpaps"]
    assert out["mini"].tolist() == pytest.approx([0.2, 0.5])
    assert out["lpaps"].tolist() == pytest.approx([0.0, 2.0])
    with pytest.raises(TadaError):
        per_alpha(metrics.drop(columns="method"))


# ---------------------------------------------------------------- the published tables


@needs_reference
def test_published_worked_example_piano() -> None:
    table, cutoffs = published_table(DEFAULT_ROOT, "lpaps")
    assert cutoffs.loc["piano"].round(3).tolist() == [3.804, 3.492]
    row = table[(table["concept"] == "piano") & (table["cell"] == "caa_loc")].iloc[0]
    got = [round(row[c], 3) for c in ("auc_muqt", "auc_clap", "csm_muqt", "csm_clap", "quality")]
    assert got == [0.107, 0.053, 0.042, 0.038, 6.788]


@needs_reference
def test_published_tables_are_sane() -> None:
    table, _ = published_table(DEFAULT_ROOT, "lpaps")
    assert list(table.columns) == ["concept", "cell", "auc_muqt", "auc_clap", "csm_muqt", "csm_clap", "quality"]
    assert len(table) == 9 * 15 + 15
    piano = table[table["concept"] == "piano"].set_index("cell")
    assert len(piano) == 15 and "sae" in piano.index
    assert piano[["auc_muqt", "auc_clap", "csm_muqt", "csm_clap", "quality"]].notna().all().all()
    assert piano[["auc_muqt", "auc_clap"]].abs().lt(0.5).all().all()
    assert piano[["csm_muqt", "csm_clap"]].ge(0).all().all()
    assert piano["quality"].between(6.0, 7.5).all()
    # the published table marks some smoothness values undefined ("-")
    assert np.isnan(table[(table["concept"] == "mood") & (table["cell"] == "tokemb_loc")]["csm_muqt"].iloc[0])
    avg = table[table["concept"] == "average"].set_index("cell")
    assert round(avg.at["caa_loc", "auc_muqt"], 3) == 0.104 and round(avg.at["sae", "quality"], 3) == 6.770


@needs_reference
def test_published_cli_and_other_axes(tmp_path: Path) -> None:
    main(["--axis", "lpaps", "harmony", "--out", str(tmp_path)])
    csv = pd.read_csv(tmp_path / "tables_lpaps.csv")
    assert list(csv.columns) == ["concept", "cell", "auc_muqt", "auc_clap", "csm_muqt", "csm_clap", "quality"]
    lines = (tmp_path / "tables_lpaps.csv").read_text().splitlines()
    mood = next(line.split(",") for line in lines if line.startswith("mood,tokemb_loc,"))
    assert mood[4] == "" and mood[5] != ""  # undefined smoothness is left empty
    markdown = (tmp_path / "tables_lpaps.md").read_text()
    assert "| CAA (loc.) | `caa_loc` | 0.107 | 0.053 | 0.042 | 0.038 | 6.788 |" in markdown
    harmony = pd.read_csv(tmp_path / "tables_harmony.csv")
    assert harmony["quality"].isna().all() and harmony["auc_muqt"].notna().all()
    assert (tmp_path / "tables_harmony.tex").is_file()
    with pytest.raises(UnknownNameError, match="preservation axis"):
        load_curves(DEFAULT_ROOT, "timbre")


# ---------------------------------------------------------------- the Snakemake rules


def _write_metrics(results: Path) -> None:
    """Sweeps of two cells with ready per-clip metrics and their per-alpha means (the scorer-free part of
    the chain)."""
    (results / "mini" / "scorer").mkdir(parents=True)
    (results / "mini" / "scorer" / "config.json").write_text("{}")
    for method, gain in (("pci_all", 0.05), ("caa_loc", 0.1)):
        sweep = results / "sweeps" / "mini" / "violin" / method
        sweep.mkdir(parents=True)
        rows = [
            {"concept": "violin", "method": method, "prompt_id": p, "prompt": f"p{p}", "seed": 0, "alpha": a,
             "path": f"p{p}_a{a}.wav"}
            for p in range(2) for a in (-2.0, -1.0, 0.0, 1.0, 2.0)
        ]  # fmt: skip
        manifest = pd.DataFrame(rows)
        manifest.to_csv(sweep / "manifest.csv", index=False)
        out = results / "protocol" / "mini" / "violin" / method
        out.mkdir(parents=True)
        metrics = manifest.assign(mini=0.3 + gain * manifest["alpha"], lpaps=manifest["alpha"].abs() * (1 + gain))
        time.sleep(0.01)
        metrics.to_csv(out / "metrics.csv", index=False)
        per_alpha(metrics).to_csv(out / "per_alpha.csv", index=False)  # what protocol_metrics writes with it


@pytest.mark.slow
@needs_reference
def test_snakemake_rules(tmp_path: Path) -> None:
    results = tmp_path / "results"
    _write_metrics(results)
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["results"] = "results"
    config["protocol"] = {"published_axes": ["lpaps"], "window_seconds": 10.0}
    config["reference"] = {"published": str(DEFAULT_ROOT)}
    config["steering"]["archs"] = []  # no configured sweeps: the protocol tabulates the ones on disk
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    rules = REPO / "workflow" / "rules"
    (tmp_path / "Snakefile").write_text(
        f'configfile: "config.yaml"\ninclude: "{rules / "common.smk"}"\ninclude: "{rules / "protocol.smk"}"\n'
    )
    targets = [
        "results/protocol/mini/tables.csv",
        "results/protocol/mini/violin/caa_loc/table.csv",
        "results/published/tables_lpaps.csv",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "snakemake", *targets, "--cores", "2", "--quiet", "all"]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = pd.read_csv(results / "protocol" / "mini" / "tables.csv")
    assert set(table["concept"]) == {"violin", "average"} and set(table["cell"]) == {"pci_all", "caa_loc"}
    assert {"auc_mini", "csm_mini", "quality"} <= set(table.columns)
    cell = pd.read_csv(results / "protocol" / "mini" / "violin" / "caa_loc" / "table.csv")
    assert cell["cell"].tolist() == ["caa_loc"]
    # the PCI cell sets the cut-off (2.1), so the cell table agrees with the aggregate one
    expected = table[(table["concept"] == "violin") & (table["cell"] == "caa_loc")]["auc_mini"].iloc[0]
    assert cell["auc_mini"].iloc[0] == pytest.approx(expected)
    assert expected == pytest.approx(0.1 * 2.1 / 1.1 * 2.1 / 2)
    for name in ("tables.md", "tables.tex", "alignment_vs_lpaps.png", "gain_auc.png"):
        assert (results / "protocol" / "mini" / name).stat().st_size > 0
    published = pd.read_csv(results / "published" / "tables_lpaps.csv")
    row = published[(published["concept"] == "piano") & (published["cell"] == "caa_loc")].iloc[0]
    assert round(row["auc_muqt"], 3) == 0.107
    assert (results / "logs" / "protocol" / "mini" / "tables.log").is_file()
