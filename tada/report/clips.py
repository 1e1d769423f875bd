"""An HTML page of steering clips a reader can play: a few alphas per sweep, WAVs embedded as data URIs."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from tada.errors import TadaError

#: alphas shown per sweep: both ends, zero and the points halfway to each end
CLIPS_PER_SWEEP = 5
STYLE = (
    "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.4em;vertical-align:top}figure{margin:0}"
    "figcaption{font-size:.85em;text-align:center}audio{width:11em}"
)


def pick_alphas(alphas: Sequence[float], n: int = CLIPS_PER_SWEEP) -> list[float]:
    """``n`` alphas of a grid spread evenly from its lowest to its highest, always with 0 if the grid has it."""
    grid = sorted(set(alphas))
    if len(grid) <= n:
        return grid
    picked = {grid[round(i * (len(grid) - 1) / (n - 1))] for i in range(n)}
    if 0 in grid and 0 not in picked:
        picked.remove(min(picked, key=abs))
        picked.add(0)
    return sorted(picked)


def wav_data_uri(path: str | Path) -> str:
    return "data:audio/wav;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


def example_clips(sweep_dir: str | Path, n: int = CLIPS_PER_SWEEP) -> pd.DataFrame:
    """Rows of a sweep's manifest for its first prompt and seed at ``n`` alphas, with absolute paths."""
    sweep_dir = Path(sweep_dir)
    manifest = pd.read_csv(sweep_dir / "manifest.csv")
    first = manifest[manifest["prompt_id"] == manifest["prompt_id"].min()]
    first = first[first["seed"] == first["seed"].min()]  # an evaluation set gives each prompt its own seed
    rows = first[first["alpha"].isin(pick_alphas(first["alpha"].tolist(), n))].sort_values("alpha")
    missing = [p for p in rows["path"] if not (sweep_dir / p).is_file()]
    if rows.empty or missing:
        raise TadaError(f"sweep {sweep_dir}: no clips to show (missing: {missing[:3]})")
    return rows.assign(path=[sweep_dir / p for p in rows["path"]])


def clips_page(sweeps: Mapping[str, str | Path], title: str, out: str | Path, n: int = CLIPS_PER_SWEEP) -> int:
    """Write one page with a row of players per sweep (cell name -> sweep folder); returns the clip count."""
    rows, count = [], 0
    for cell, sweep_dir in sweeps.items():
        clips = example_clips(sweep_dir, n)
        players = "".join(
            f'<td><figure><audio controls preload="metadata" src="{wav_data_uri(c.path)}"></audio>'
            f"<figcaption>&alpha; = {c.alpha:g}</figcaption></figure></td>"
            for c in clips.itertuples()
        )
        prompt = html.escape(str(clips["prompt"].iloc[0]))
        rows.append(f"<tr><th><code>{html.escape(cell)}</code><br><small>{prompt}</small></th>{players}</tr>")
        count += len(clips)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        "<p>Each row: one sweep's first evaluation prompt and seed at a few alphas (&alpha; = 0: unsteered).</p>"
        f"<table>{''.join(rows)}</table></body></html>\n"
    )
    return count
