"""Cost of activation patching on the mini model (the trained one when present, else random weights).

1. A sweep over the L cross-attention layers with the clean conditioning recorded once per batch
   (``Patcher``), against naive recomputation, which re-records per site with a full clean
   generation (every step's conditioning kept and replayed). Goal: ratio <= (L+1)/(2L).
   For reference, re-recording per site with the one-step ``record_conditioning`` is also shown.
2. One patched clip (every layer patched, conditioning already recorded) against one plain clip.
   Goal: <= 1.05x.

Runs on CPU with one thread. Usage: ``python benchmarks/patching.py [--repeats 3] [--batch 8]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from tada.interventions import Record, ReplaceConditioning  # noqa: E402
from tada.localization.patching import Patcher, clips  # noqa: E402
from tada.localization.prompts import prompt_pairs  # noqa: E402
from tada.models import load_model  # noqa: E402
from tada.models.mini import MiniAdapter, MiniConfig, MiniTextToMusic  # noqa: E402
from tada.sites import Site  # noqa: E402

TRAINED = Path(__file__).resolve().parents[1] / "results" / "mini" / "model"


def mini() -> tuple[str, MiniAdapter]:
    """The trained mini model if the workflow has built it, else a random one of the default size."""
    if (TRAINED / "config.json").is_file():
        return "trained", load_model("mini", str(TRAINED))
    torch.manual_seed(0)
    vocab = "a an and of in on with recording track where plays register low high violin trumpet flute xylophone "
    vocab += "fast slow happy sad"
    return "random", MiniAdapter(MiniTextToMusic(MiniConfig(vocab=vocab.split())))


def seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``fn`` over ``repeats`` runs after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def naive_full(adapter: MiniAdapter, table, layers: list[Site]) -> None:
    """Per site: a full clean generation recording every call, then the patched generation."""
    config = adapter.generation_config("patching")
    clean, corrupted, seeds = table.clean_prompt.tolist(), table.corrupted_prompt.tolist(), table.seed.tolist()
    calls = config.steps * adapter.denoiser_calls_per_step
    for site in layers:
        record = Record(n_calls=calls)
        with adapter.intervene({site: record}):
            adapter.generate(clean, seeds, config)
        with adapter.intervene({site: ReplaceConditioning(record.calls)}):
            adapter.generate(corrupted, seeds, config)


def naive_step(adapter: MiniAdapter, table, layers: list[Site]) -> None:
    """Per site: the one-step recording, then the patched generation."""
    config = adapter.generation_config("patching")
    clean, corrupted, seeds = table.clean_prompt.tolist(), table.corrupted_prompt.tolist(), table.seed.tolist()
    for site in layers:
        recorded = adapter.record_conditioning(clean, seeds, config, [site])
        with adapter.intervene({site: ReplaceConditioning(recorded[site.name])}):
            adapter.generate(corrupted, seeds, config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8, help="clips per generation")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    kind, adapter = mini()
    table = clips(prompt_pairs("mini", ["violin"], args.batch))
    layers = adapter.registry().layers
    names = [s.name for s in layers]
    patcher = Patcher(adapter, batch_size=args.batch, progress=False)
    config = patcher.config
    n = len(layers)

    once = seconds(lambda: patcher.run(table, names), args.repeats)
    full = seconds(lambda: naive_full(adapter, table, layers), args.repeats)
    step = seconds(lambda: naive_step(adapter, table, layers), args.repeats)

    clean, corrupted, seeds = table.clean_prompt.tolist(), table.corrupted_prompt.tolist(), table.seed.tolist()
    recorded = adapter.record_conditioning(clean, seeds, config, layers)
    plain_times, patched_times = [], []
    adapter.generate(corrupted, seeds, config)  # warm-up
    for _ in range(max(4 * args.repeats, 10)):  # interleaved, so drifts in machine load hit both alike
        start = time.perf_counter()
        adapter.generate(corrupted, seeds, config)
        plain_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        with adapter.intervene({s: ReplaceConditioning(recorded[s.name]) for s in layers}):
            adapter.generate(corrupted, seeds, config)
        patched_times.append(time.perf_counter() - start)
    plain, patched = statistics.median(plain_times), statistics.median(patched_times)

    print(f"mini ({kind}): L = {n} sites, {args.batch} clips per generation, {config.steps} steps, 1 thread")
    print(f"{'measure':<48}{'seconds':>9}{'ratio':>8}{'goal':>8}")
    print(f"{'sweep, clean conditioning recorded once':<48}{once:>9.3f}")
    print(f"{'naive: full clean generation per site':<48}{full:>9.3f}{once / full:>8.3f}{(n + 1) / (2 * n):>8.3f}")
    print(f"{'naive: one-step re-recording per site':<48}{step:>9.3f}{once / step:>8.3f}{'-':>8}")
    print(f"{'plain clip (per generation)':<48}{plain:>9.3f}")
    print(f"{'patched clip, all sites (per generation)':<48}{patched:>9.3f}{patched / plain:>8.3f}{1.05:>8.2f}")


if __name__ == "__main__":
    main()
