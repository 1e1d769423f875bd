"""The HTML report: clip pages and Markdown pages, and the report itself in a real headless chromium.

The browser tests need Debian's chromium (CI: ``apt-get install -y chromium``); without it they skip.
The full report test (``slow``) builds the report from the default run's results (``make run``), in a
copy of the checkout whose results are hard links: nothing under this checkout's results/ is written.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import yaml

from tada.report.clips import clips_page, pick_alphas
from tada.report.markdown import markdown_page

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium not installed (Debian/CI: apt-get update && apt-get install -y chromium)"
)
#: appended to a page: checks the report's figures decode and a clip page's first player has a playable
#: source, then writes what it found as JSON into <pre id="tada-probe"> for --dump-dom
PROBE = """
window.addEventListener("load", async () => {
  const pre = document.createElement("pre"); pre.id = "tada-probe"; document.body.appendChild(pre);
  const out = {app: "", images: [], badImages: [], audio: 0, playable: []};
  const settle = (el, ok, bad) => new Promise(r => { el.addEventListener(ok, () => r(true)); el.addEventListener(bad, () => r(false)); });
  const playable = async (src) => {
    const el = document.createElement("audio"); el.preload = "metadata"; const done = settle(el, "loadedmetadata", "error");
    el.src = src; return (await done) && el.duration > 0 ? el.duration : 0;
  };
  try {
    const pages = typeof results === "undefined" ? {"": {mime_type: "text/html", self: true}} : results;
    for (const [path, res] of Object.entries(pages)) {
      if (res.mime_type.startsWith("image/")) {
        const img = new Image(); const done = settle(img, "load", "error"); img.src = res.data_uri;
        ((await done) && img.naturalWidth > 0 ? out.images : out.badImages).push(path);
      } else if (res.mime_type === "text/html") {
        const doc = res.self ? document : new DOMParser().parseFromString(await (await fetch(res.data_uri)).text(), "text/html");
        const players = doc.querySelectorAll("audio"); out.audio += players.length;
        if (players.length) out.playable.push([path, await playable(players[0].getAttribute("src"))]);
      }
    }
    out.app = (document.getElementById("app") || document.body).innerText;
    pre.textContent = JSON.stringify(out);
  } catch (e) { pre.textContent = JSON.stringify({error: String(e)}); }
});
"""


def probe(page: Path, tmp_path: Path) -> dict:
    """Open ``page`` with the probe in headless chromium and return what the probe found."""
    probed = tmp_path / "probed.html"
    text = page.read_text()
    cut = text.rfind("</body>")
    probed.write_text(text[:cut] + f"<script>{PROBE}</script>" + text[cut:])
    for budget in (30_000, 120_000):  # on a busy machine the DOM can be dumped before the probe has written
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--virtual-time-budget={budget}", "--dump-dom"]
        dom = subprocess.run([*cmd, probed.as_uri()], capture_output=True, text=True, timeout=300).stdout
        found = re.search(r'<pre id="tada-probe">(.+?)</pre>', dom, re.S)
        if found:
            break
    assert found, f"chromium did not finish the probe on {page.name}: {dom[-500:]}"
    result = json.loads(found.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
    assert "error" not in result, result
    return result


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """A fake sweep of 9 alphas x 2 prompts with a seed each (as an evaluation set pairs them): a manifest
    and tones as WAVs."""
    folder = tmp_path / "sweeps" / "caa_loc"
    (folder / "wav").mkdir(parents=True)
    rows = []
    for alpha in np.linspace(-0.4, 0.4, 9).round(2):
        for prompt in (0, 1):
            path = f"wav/p{prompt}_a{alpha}.wav"
            sf.write(folder / path, 0.3 * np.sin(np.linspace(0, 880 * np.pi, 8000)), 8000, subtype="PCM_16")
            rows.append({"prompt_id": prompt, "prompt": f"prompt {prompt}", "seed": 2 - 2 * prompt, "alpha": alpha, "path": path})
    pd.DataFrame(rows).to_csv(folder / "manifest.csv", index=False)
    return folder


def test_pick_alphas_spans_grid_and_keeps_zero() -> None:
    assert pick_alphas([-16, -12, -8, -4, 0, 4, 8, 12, 16]) == [-16, -8, 0, 8, 16]
    assert pick_alphas([-2, -1, 0, 1, 2, 3, 4, 5], 3) == [-2, 0, 5]
    assert pick_alphas([0, 1, 2], 5) == [0, 1, 2]


def test_clips_page_embeds_first_prompt_at_few_alphas(sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "clips.html"
    assert clips_page({"caa_loc": sweep}, "clips of violin", out) == 5
    page = out.read_text()
    assert page.count("<audio controls") == 5 and page.count('src="data:audio/wav;base64,') == 5
    assert "prompt 0" in page and "prompt 1" not in page
    assert [float(a) for a in re.findall(r"<figcaption>&alpha; = (-?[\d.]+)", page)] == [-0.4, -0.2, 0.0, 0.2, 0.4]


def test_clips_page_refuses_missing_clips(sweep: Path, tmp_path: Path) -> None:
    (sweep / "wav" / "p0_a0.0.wav").unlink()
    with pytest.raises(Exception, match="no clips to show"):
        clips_page({"caa_loc": sweep}, "clips", tmp_path / "clips.html")


def test_markdown_page_renders_headings_and_tables() -> None:
    page = markdown_page("# Title <x>\n\nsome `code`\n\n| a | b |\n|---|---:|\n| `pci` | 1.5 |\n", "t")
    assert "<h1>Title &lt;x&gt;</h1>" in page and "<p>some <code>code</code></p>" in page
    assert '<th>a</th><th>b</th>' in page and '<td style="text-align:right">1.5</td>' in page


@needs_chromium
def test_clips_page_plays_in_chromium(sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "clips.html"
    clips_page({"caa_loc": sweep}, "clips", out)
    found = probe(out, tmp_path)
    assert found["audio"] == 5 and found["playable"][0][1] == pytest.approx(1.0, abs=0.01)


@pytest.mark.slow
@needs_chromium
def test_report_shows_figures_and_plays_clips(tmp_path: Path, copy_checkout) -> None:
    if not (ROOT / "results" / "protocol" / "mini" / "tables.md").is_file():
        pytest.skip("needs the default run's results (make run)")
    repo = tmp_path / "tada"
    copy_checkout(repo, link_results=True)
    env = os.environ | {"HF_HUB_OFFLINE": "1"}
    for built in ("report", "logs/report"):  # hard links: the report's jobs must write new files, not these
        shutil.rmtree(repo / "results" / built, ignore_errors=True)
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    pages = ["localization_summary.html", "protocol_tables.html", "protocol_claims.html"]
    pages += [f"clips_{c}.html" for c in config["steering"]["concepts"]]
    rules = ["report_clips", "report_localization_summary", "report_protocol_page"]
    # the results are the default run's: only the report's own pages may be built (mtime: hard links keep times)
    build = [SNAKEMAKE, "--cores", "1", "--rerun-triggers", "mtime", "--allowed-rules", *rules, "--"]
    out = subprocess.run(
        [*build, *(f"results/report/mini/{page}" for page in pages)], cwd=repo, env=env, capture_output=True, text=True, timeout=600
    )
    stale = re.search(r"No rule to produce (results/(?!report/)\S+)", out.stderr)
    if stale:
        pytest.skip(f"the default run's results are not up to date ({stale.group(1)} would be rebuilt)")
    assert out.returncode == 0, out.stderr[-3000:]
    report = [SNAKEMAKE, "--rerun-triggers", "mtime", "--report", "report.html"]
    out = subprocess.run(report, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    found = probe(repo / "report.html", tmp_path)
    assert {"Localization", "Steering protocol", "Steering clips"} <= set(found["app"].split("\n"))
    assert not found["badImages"]
    assert {"results/localization/mini/heatmap.png", "results/protocol/mini/gain_auc.png"} <= set(found["images"])
    assert found["playable"] and all(duration > 0 for _, duration in found["playable"]), found["playable"]
    assert found["audio"] >= 5 * len(found["playable"])
