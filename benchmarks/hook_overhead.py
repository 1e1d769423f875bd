"""Cost of the intervention hooks: one generation with and without a no-op edit on every site.

Runs each real architecture as a tiny random-weight instance (and the built-in ``mini`` model at its
default size, when ``tada.models.mini`` exists) on CPU with one thread, and prints the time ratio
(goal: <= 1.03x). Usage: ``python benchmarks/hook_overhead.py [--repeats 5] [--steps 4]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import time
import warnings
from collections.abc import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from tada.interventions import MapOutput  # noqa: E402
from tada.models.base import GenerationConfig, ModelAdapter  # noqa: E402
from tada.testing import tiny  # noqa: E402

PROMPTS = ["a happy violin song with drums", "a slow jazz piece"]
SEEDS = [0, 1]


def mini_adapter() -> ModelAdapter:
    """The mini model at its default size, random weights."""
    from tada.models.mini import MiniAdapter, MiniConfig, MiniTextToMusic

    torch.manual_seed(0)
    return MiniAdapter(MiniTextToMusic(MiniConfig(vocab=sorted(set(" ".join(PROMPTS).split())))))


def models(steps: int) -> list[tuple[str, Callable[[], ModelAdapter], Callable[[GenerationConfig], GenerationConfig]]]:
    """(label, builder, config tweak) per model; tiny clips are kept short."""
    short = {"stable_audio": None, "audioldm2": 0.064, "ace_step_15": 4.0}
    entries = [
        (f"{arch} (tiny)", build, lambda c, d=short[arch]: c.with_(steps=steps, duration=d))
        for arch, build in (
            ("stable_audio", tiny.tiny_stable_audio),
            ("audioldm2", tiny.tiny_audioldm2),
            ("ace_step_15", tiny.tiny_ace_step_15),
        )
    ]
    if importlib.util.find_spec("tada.models.mini") is not None:
        entries.append(("mini", mini_adapter, lambda c: c))
    return entries


def seconds(adapter: ModelAdapter, config: GenerationConfig) -> float:
    start = time.perf_counter()
    adapter.generate(PROMPTS, SEEDS, config)
    return time.perf_counter() - start


def measure(adapter: ModelAdapter, config: GenerationConfig, repeats: int) -> tuple[int, float, float]:
    """Number of sites and median seconds per generation without / with a no-op edit on each site."""
    sites = adapter.sites()
    noop = {site: MapOutput(lambda h: h) for site in sites}
    seconds(adapter, config)  # warm-up
    plain, hooked = [], []
    for _ in range(repeats):  # interleaved, so drifts in machine load hit both alike
        plain.append(seconds(adapter, config))
        with adapter.intervene(noop):
            hooked.append(seconds(adapter, config))
    return len(sites), statistics.median(plain), statistics.median(hooked)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=4, help="sampling steps of the tiny instances")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    print(f"{'model':<22}{'sites':>7}{'plain s':>10}{'hooked s':>10}{'ratio':>8}")
    for label, build, tweak in models(args.steps):
        adapter = build()
        n, plain, hooked = measure(adapter, tweak(adapter.generation_config("patching")), args.repeats)
        print(f"{label:<22}{n:>7}{plain:>10.3f}{hooked:>10.3f}{hooked / plain:>7.3f}x")


if __name__ == "__main__":
    main()
