"""Cost of steering: steered vs unsteered generation time per method, reported as ratios in one run.

1. **mini** (default size, random weights): a whole generation of 8 prompts with each controller
   (PCI, TextEmb, FreeSliders, CAA, TokEmb, AUSteer at every site) vs the plain generation of the same
   neutral prompts. The one-step recordings PCI / TextEmb / FreeSliders / TokEmb make are included (a fresh
   controller each time); the compute steps of CAA, TokEmb and AUSteer are timed on their own, and so are
   Concept Sliders' LoRA training (mini's configured iterations) and SAE's (cache, one TopK SAE per site,
   feature scores). Sliders and SAE steer every site like the others.
2. **Real width**: the Stable Audio Open DiT configuration (width 1536, 24 heads; 4 of its 24 blocks,
   so it fits a laptop) at a short clip (64 latent frames, batch 2 with CFG), random weights, in a
   sampling loop that drives the step clock: CAA's edit on every block (goal <= 1.03x) and FreeSliders'
   two extra conditional passes (its measured pass ratio, in denoiser rows and in time).

Usage: ``python benchmarks/steering.py [--repeats 3] [--steps 8]``. One torch thread, interleaved repeats.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from diffusers import StableAudioDiTModel  # noqa: E402
from diffusers.models.embeddings import get_1d_rotary_pos_embed  # noqa: E402

from tada.interventions import HookContext, ReplaceConditioning, SteerOutput, StepClock, intervene  # noqa: E402
from tada.models.mini import MiniAdapter, MiniConfig, MiniTextToMusic  # noqa: E402
from tada.models.structures import init_kwargs, load_config  # noqa: E402
from tada.sites import Site  # noqa: E402
from tada.steering import (  # noqa: E402
    CAA,
    PCI,
    SAE,
    AUSteer,
    ConceptSliders,
    FreeSliders,
    TextEmb,
    TokEmb,
    mini_concept,
)
from tada.steering.concepts import mini_prompts  # noqa: E402
from tada.steering.freesliders import DENOISER, ScoreShift  # noqa: E402
from tada.steering.schedules import renormed  # noqa: E402
from tada.world.attributes import SWAPS  # noqa: E402

VOCAB = sorted({*SWAPS, ",", "a", "an", "and", "in", "instrument", "register", "recording", "of", "track", "where", "plays"})


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def mini_rows(repeats: int) -> None:
    torch.manual_seed(0)
    adapter = MiniAdapter(MiniTextToMusic(MiniConfig(vocab=VOCAB, num_layers=4)))
    concept = mini_concept("violin", 8)
    prompts, seeds = mini_prompts("violin", 8), [0] * 8
    config = adapter.generation_config("steering")
    start = time.perf_counter()
    caa = CAA.compute(adapter, concept, config=config)
    print(f"mini: CAA compute step ({len(concept.positive)} pairs, {config.steps} steps): {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    tokemb = TokEmb.compute(adapter, concept, config=config)
    print(f"mini: TokEmb compute step ({len(concept.positive)} pairs, text encoder only): {1000 * (time.perf_counter() - start):.1f} ms")
    start = time.perf_counter()
    austeer = AUSteer.compute(adapter, concept, config=config)
    print(f"mini: AUSteer compute step ({len(concept.positive)} pairs, {config.steps} steps): {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    sliders = ConceptSliders.compute(adapter, concept, iterations=100, learning_rate=1e-3, progress=False)
    print(f"mini: Concept Sliders compute step (100 iterations, rank 4, every site): {time.perf_counter() - start:.2f} s")
    start = time.perf_counter()
    sae = SAE.compute(adapter, concept, config=config, every=2, k=8, learning_rate=1e-3, epochs=20, batch_size=256, progress=False)
    print(f"mini: SAE compute step (cache of {2 * len(concept.positive)} prompts, every 2nd step, 20 epochs): {time.perf_counter() - start:.2f} s")
    builders = {
        "pci": lambda: PCI(concept, alpha=8),
        "textemb": lambda: TextEmb(concept, alpha=0.5),
        "freesliders": lambda: FreeSliders(concept, alpha=1.0),
        "caa": lambda: CAA(concept, caa.tensors, caa.meta, alpha=0.2),
        "tokemb": lambda: TokEmb(concept, tokemb.tensors, tokemb.meta, alpha=0.5),
        "austeer": lambda: AUSteer(concept, austeer.tensors, austeer.meta, alpha=0.02, top_k=64),
        "sliders": lambda: ConceptSliders(concept, sliders.tensors, sliders.meta, alpha=1.0),
        "sae": lambda: SAE(concept, sae.tensors, sae.meta, alpha=0.05),
    }
    neutral = [caa.neutral(p) for p in prompts]
    plain = median_seconds(lambda: adapter.generate(neutral, seeds, config), repeats)
    print(f"{'mini method':<14}{'plain s':>10}{'steered s':>11}{'ratio':>8}")
    for name, build in builders.items():

        def steered(build: Callable = build) -> None:
            with adapter.steer(build()):
                adapter.generate(prompts, seeds, config)

        seconds = median_seconds(steered, repeats)
        print(f"{name:<14}{plain:>10.3f}{seconds:>11.3f}{seconds / plain:>7.2f}x")


def real_width_rows(repeats: int, steps: int, layers: int = 4, frames: int = 64) -> None:
    config = load_config("stable_audio") | {"num_layers": layers, "sample_size": frames}
    torch.manual_seed(0)
    dit = StableAudioDiTModel(**init_kwargs(config)).eval()
    batch = 1
    clock = StepClock("uncond_cond")
    ctx = HookContext(clock)
    x = torch.randn(2 * batch, config["in_channels"], frames)
    text = torch.randn(2 * batch, 64, config["cross_attention_input_dim"])
    glob = torch.randn(2 * batch, 1, config["global_states_input_dim"])
    head = config["attention_head_dim"]
    rot = get_1d_rotary_pos_embed(head // 2, frames + 1, use_real=True, repeat_interleave_real=False)
    sites = [Site(f"tf{n}", f"transformer_blocks.{n}.attn2") for n in range(layers)]
    width = config["num_attention_heads"] * head

    @torch.no_grad()
    def loop() -> None:
        clock.start(batch, steps)
        for step in range(steps):
            clock.begin_call()
            t = torch.full((1,), 1.0 - step / steps)
            dit(x, t, encoder_hidden_states=text, global_hidden_states=glob, rotary_embedding=rot)
            clock.tick()

    vectors = torch.nn.functional.normalize(torch.randn(steps, 2, width), dim=-1)
    caa = {s: SteerOutput(lambda h, step, _p: renormed(h, 4.0 * vectors[step, 0], True)) for s in sites}
    recorded = {"cond": {"encoder_hidden_states": torch.randn(batch, 64 + 2, config["cross_attention_dim"])}}
    shift = ScoreShift(
        {s: ReplaceConditioning(recorded, source={"extra": "cond"}) for s in sites},
        {s: ReplaceConditioning(recorded, source={"extra": "cond"}) for s in sites},
        alpha=1.0,
    )
    loop()  # warm-up
    plain, with_caa, with_sliders = [], [], []
    for _ in range(repeats):
        plain.append(median_seconds(loop, 1))
        with intervene(dit, caa, ctx):
            with_caa.append(median_seconds(loop, 1))
        with intervene(dit, {DENOISER: shift}, ctx):
            shift.extra_rows = 0
            with_sliders.append(median_seconds(loop, 1))
    base = statistics.median(plain)
    rows_ratio = (2 * batch * steps + shift.extra_rows) / (2 * batch * steps)
    print(
        f"real width (Stable Audio DiT, width {width}, {layers} of 24 blocks, {frames} frames, {steps} steps, "
        f"CFG batch {2 * batch}): plain {base:.3f} s"
    )
    print(f"  CAA on every block: {statistics.median(with_caa) / base:.3f}x (goal <= 1.03x)")
    print(
        f"  FreeSliders: {statistics.median(with_sliders) / base:.2f}x in time, "
        f"{rows_ratio:.2f}x denoiser rows (two extra conditional passes per step)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=8, help="sampling steps of the real-width loop")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    mini_rows(args.repeats)
    real_width_rows(args.repeats, args.steps)


if __name__ == "__main__":
    main()
