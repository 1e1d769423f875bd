"""The steering core on tiny random-weight models of every architecture: step clock, pass-aware edits,
conditioning- and score-level access, the four methods behind one controller interface, artifacts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from tada.errors import ConfigError, TadaError, UnknownNameError  # noqa: E402
from tada.interventions import Edit, RecordOutput, StepClock  # noqa: E402
from tada.models.base import GenerationConfig, ModelAdapter  # noqa: E402
from tada.models.mini import MiniAdapter  # noqa: E402
from tada.steering import CAA, PCI, Concept, FreeSliders, TextEmb, make_controller, mini_concept  # noqa: E402
from tada.steering.concepts import edit_caption, mini_prompts  # noqa: E402
from tada.testing import tiny  # noqa: E402
from tada.world.attributes import SWAPS  # noqa: E402
from tada.world.captions import has_word  # noqa: E402

torch.set_num_threads(1)
pytestmark = [
    pytest.mark.filterwarnings("ignore:Should have:UserWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

STEPS = 3
SEEDS = [0, 1]


def tiny_mini() -> MiniAdapter:
    return tiny.tiny_mini_world(STEPS)


BUILDERS = {"mini": tiny_mini, **tiny.TINY_REAL_ARCHS}


@dataclass
class Tiny:
    adapter: ModelAdapter
    config: GenerationConfig
    concept: Concept
    prompts: list[str]


def real_concept() -> Concept:
    """A reference-style concept (templates as in the reference data) for the real architectures."""
    templates = {
        "neutral_template": "{p}, with instrument",
        "pci_positive_template": "{p}, with violin",
        "pci_negative_template": "{p}, with drums",
        "textemb_positive_template": "{p}, with violin",
        "textemb_negative_template": "{p}, with drums",
        "freesliders_neutral_template": "{p}",
        "freesliders_positive_template": "{p}, with violin",
        "freesliders_negative_template": "{p}",
    }
    return Concept("violin", ["a song, with violin", "a tune, with violin"], ["a song", "a tune"], templates)


@pytest.fixture(scope="module", params=list(BUILDERS))
def model(request) -> Tiny:
    adapter = BUILDERS[request.param]()
    config = adapter.generation_config("steering", steps=STEPS, duration=adapter.generation_config().duration)
    if adapter.arch == "mini":
        return Tiny(adapter, config, mini_concept("violin", 2), mini_prompts("violin", 2))
    config = config.with_(duration=tiny.STEERING_DURATIONS[adapter.arch])
    return Tiny(adapter, config, real_concept(), ["a happy song", "a slow jazz piece"])


def generate(m: Tiny, controller=None, alpha: float = 0.0, prompts=None) -> np.ndarray:
    prompts = prompts or m.prompts
    if controller is None:
        return m.adapter.generate(prompts, SEEDS, m.config).waveforms
    controller.set_alpha(alpha)
    with m.adapter.steer(controller):
        return m.adapter.generate(prompts, SEEDS, m.config).waveforms


def controllers(m: Tiny, target: str = "all") -> dict[str, object]:
    caa = CAA.compute(m.adapter, m.concept, seeds=[5, 6], config=m.config, target_layers=target)
    return {
        "pci": PCI(m.concept, target_layers=target),
        "textemb": TextEmb(m.concept, target_layers=target),
        "freesliders": FreeSliders(m.concept, target_layers=target),
        "caa": caa,
    }


ALPHAS = {"pci": 2, "textemb": 1.0, "freesliders": 1.0, "caa": 4.0}


# --- the step clock ------------------------------------------------------------------------------
def test_clock_layouts() -> None:
    batched = StepClock("uncond_cond")
    batched.start(batch=2, steps=3)
    assert batched.passes(4) == {"uncond": slice(0, 2), "cond": slice(2, 4)}
    assert batched.passes(2) == {"cond": slice(0, 2)}  # no guidance
    ace15 = StepClock("cond_uncond")
    ace15.start(batch=2, steps=3)
    assert ace15.passes(4) == {"cond": slice(0, 2), "uncond": slice(2, 4)}
    assert ace15.passes(2) == {"cond": slice(0, 2)}  # a step outside the guidance interval
    with ace15.extra_pass():
        assert ace15.passes(2) == {"extra": slice(0, 2)}


def test_clock_separate_passes_with_a_guidance_interval() -> None:
    """ACE-Step v1: two calls per step inside the guidance interval, one outside (interval < 1)."""
    clock = StepClock("separate")
    clock.start(batch=2, steps=3)
    seen = []
    for calls in [2, 1, 2]:
        for _ in range(calls):
            clock.begin_call()
            seen.append((clock.step, *clock.passes(2)))
        clock.tick()
    assert seen == [(0, "cond"), (0, "uncond"), (1, "cond"), (2, "cond"), (2, "uncond")]


@dataclass
class ClockProbe(Edit):
    seen: list

    def attach(self, module, site, ctx):
        def hook(_mod, args, kwargs):
            rows = args[0].shape[0] if args else kwargs["hidden_states"].shape[0]
            self.seen.append((ctx.clock.step, tuple(ctx.clock.passes(rows))))

        return [module.register_forward_pre_hook(hook, with_kwargs=True)]


def test_clock_reports_step_and_pass_on_every_arch(model: Tiny) -> None:
    site = model.adapter.registry().layers[0]
    probe = ClockProbe([])
    with model.adapter.intervene({site: probe}):
        model.adapter.generate(model.prompts, SEEDS, model.config)
    order = ("cond", "uncond") if model.adapter.cfg_layout == "cond_uncond" else ("uncond", "cond")
    assert probe.seen == [(step, order) for step in range(STEPS)]


def test_passes_hold_the_rows_their_names_say(model: Tiny) -> None:
    """Unconditional conditioning is the same for any prompt; conditional rows follow the prompt."""
    site = model.adapter.registry().layers[0]
    a = model.adapter.record_conditioning(model.prompts, SEEDS, model.config, [site])[site.name]
    b = model.adapter.record_conditioning(model.prompts[::-1], SEEDS, model.config, [site])[site.name]
    key = "encoder_hidden_states"
    for name in ("cond", "uncond"):  # rows follow their prompt through the layout
        torch.testing.assert_close(a[name][key][0], b[name][key][1])
    assert not torch.equal(a["cond"][key], b["cond"][key])
    if model.adapter.arch != "audioldm2":  # AudioLDM2's negative GPT-2 states depend on the paired prompt
        torch.testing.assert_close(a["uncond"][key], b["uncond"][key])


# --- conditioning-level access -------------------------------------------------------------------
def test_prompt_embeds_reproduce_the_prompt(model: Tiny) -> None:
    embeds = model.adapter.encode_prompt(model.prompts, model.config)
    via_embeds = model.adapter.generate(model.prompts, SEEDS, model.config, prompt_embeds=embeds).waveforms
    np.testing.assert_allclose(via_embeds, generate(model), atol=1e-5)


# --- every method on every architecture ---------------------------------------------------------
def test_every_method_steers_two_steps_and_alpha_zero_is_neutral(model: Tiny) -> None:
    for method, controller in controllers(model).items():
        neutral = [controller.neutral(p) for p in model.prompts]
        np.testing.assert_array_equal(generate(model, controller, 0.0), generate(model, prompts=neutral), err_msg=method)
        steered, plain = generate(model, controller, ALPHAS[method]), generate(model, prompts=neutral)
        assert np.isfinite(steered).all() and np.abs(steered - plain).max() > 1e-3 * np.abs(plain).max(), method


def test_steering_no_site_changes_nothing(model: Tiny) -> None:
    for method, controller in controllers(model, target="none").items():
        neutral = [controller.neutral(p) for p in model.prompts]
        np.testing.assert_array_equal(generate(model, controller, ALPHAS[method]), generate(model, prompts=neutral))


def test_cond_only_leaves_the_unconditional_pass_alone(model: Tiny) -> None:
    layers = model.adapter.registry().layers
    caa = CAA.compute(model.adapter, model.concept, seeds=[5, 6], config=model.config, target_layers=layers[0].name)
    caa.set_alpha(4.0)
    neutral = [caa.neutral(p) for p in model.prompts]
    last = layers[-1]

    def outputs(steered: bool) -> dict:
        record = RecordOutput(keep=True)
        with model.adapter.intervene({last: record}):
            if steered:
                with model.adapter.steer(caa):
                    model.adapter.generate(model.prompts, SEEDS, model.config)
            else:
                model.adapter.generate(neutral, SEEDS, model.config)
        return record.kept

    plain, steered = outputs(False), outputs(True)
    assert torch.equal(plain[(0, "uncond")][0], steered[(0, "uncond")][0])  # same latents, pass untouched
    assert not torch.equal(plain[(0, "cond")][0], steered[(0, "cond")][0])


def test_freesliders_runs_two_extra_conditional_passes_per_step(model: Tiny) -> None:
    sliders = FreeSliders(model.concept)
    generate(model, sliders, 1.0)
    assert sliders.shift.extra_rows == 2 * len(model.prompts) * STEPS
    same = Concept("same", ["a"], ["a"], edit=lambda p: (p, p, p))  # e_pos == e_neg: nothing moves
    np.testing.assert_array_equal(generate(model, FreeSliders(same), 3.0), generate(model))


# --- controller life cycle, artifacts, bad input -------------------------------------------------
def test_steer_restores_the_model_even_after_an_exception() -> None:
    m = Tiny(tiny_mini(), tiny_mini().generation_config("steering"), mini_concept("violin", 2), mini_prompts("violin", 2))
    plain = generate(m)
    caa = CAA.compute(m.adapter, m.concept, config=m.config)
    caa.set_alpha(5.0)
    with pytest.raises(RuntimeError, match="boom"), m.adapter.steer(caa):
        m.adapter.generate(m.prompts, SEEDS, m.config)
        raise RuntimeError("boom")
    hooks = [mod._forward_hooks or mod._forward_pre_hooks for mod in m.adapter.denoiser.modules()]
    assert not any(hooks)
    np.testing.assert_array_equal(generate(m), plain)
    with m.adapter.steer(caa), pytest.raises(TadaError, match="nested"), m.adapter.steer(PCI(m.concept)):
        pass


def test_bad_input_fails_before_generating(tmp_path) -> None:
    adapter = tiny_mini()
    concept = mini_concept("violin", 2)
    with pytest.raises(UnknownNameError, match="pci"):
        make_controller("pcx", concept, "all")
    with pytest.raises(ConfigError, match="integer"), adapter.steer(PCI(concept, alpha=1.5)):
        adapter.generate(mini_prompts("violin", 1), [0])
    with pytest.raises(UnknownNameError, match="preset or site"):
        adapter.steer(PCI(concept, target_layers="tf9")).__enter__()
    with pytest.raises(ConfigError, match="mode"):
        CAA(concept, {}, {}, mode="sideways")
    with pytest.raises(ConfigError, match="not a caption"):
        edit_caption("a piano sonata", "violin")
    with pytest.raises(ConfigError, match="step window"), adapter.steer(TextEmb(concept, start_step=2, end_step=99)):
        pass


def test_artifact_refuses_another_model(tmp_path) -> None:
    adapter = tiny_mini()
    caa = CAA.compute(adapter, mini_concept("violin", 2), target_layers="tf0tf1")
    caa.save_pretrained(tmp_path / "caa")
    meta = json.loads((tmp_path / "caa" / "config.json").read_text())
    assert meta["arch"] == "mini" and meta["sites"] == ["tf0", "tf1"] and meta["steps"] == STEPS
    with pytest.raises(ConfigError, match="no vectors for site"):
        adapter.steer(CAA.from_pretrained(tmp_path / "caa", target_layers="tf2")).__enter__()
    with pytest.raises(ConfigError, match="'mini', not 'stable_audio'"):
        tiny.tiny_stable_audio().steer(CAA.from_pretrained(tmp_path / "caa")).__enter__()
    with pytest.raises(ConfigError, match="concept 'violin', not 'fast'"):
        CAA.from_pretrained(tmp_path / "caa", mini_concept("fast", 2))
    with pytest.raises(ConfigError, match="sampling steps"), adapter.steer(CAA.from_pretrained(tmp_path / "caa", alpha=1)):
        adapter.generate(mini_prompts("violin", 1), [0], adapter.generation_config("steering", steps=STEPS + 1))
    wide = tiny.tiny_mini_world(STEPS, width=64)
    with pytest.raises(ConfigError, match="width"):
        wide.steer(CAA.from_pretrained(tmp_path / "caa", target_layers="tf0")).__enter__()


def test_caa_difference_weighting_keeps_the_raw_differences_and_a_mismatch_is_refused(tmp_path) -> None:
    adapter = tiny_mini()
    concept = mini_concept("violin", 2)
    unit_caa = CAA.compute(adapter, concept, target_layers="tf0tf1")
    raw = CAA.compute(adapter, concept, target_layers="tf0tf1", weighting="difference")
    assert raw.meta["weighting"] == "difference" and unit_caa.meta["weighting"] == "unit"
    for site, v in raw.tensors.items():
        norms = v.norm(dim=-1, keepdim=True)
        assert not torch.allclose(norms, torch.ones_like(norms))  # the differences keep their sizes
        torch.testing.assert_close(v / norms.clamp_min(1e-12), unit_caa.tensors[site])  # same directions
    raw.save_pretrained(tmp_path / "caa")
    loaded = make_controller("caa", None, "tf0", tmp_path / "caa", weighting="difference")
    assert loaded.meta["weighting"] == "difference"
    with pytest.raises(ConfigError, match="computed with weighting difference; the configuration asks for weighting unit"):
        make_controller("caa", None, "tf0", tmp_path / "caa", weighting="unit")
    with pytest.raises(ConfigError, match="CAA weighting must be one of unit \\| difference; got 'sign'"):
        CAA.compute(adapter, concept, target_layers="tf0", weighting="sign")


ROUND_TRIP = """
import sys, numpy as np, torch
torch.set_num_threads(1)
from tada.models.mini import MiniAdapter, MiniTextToMusic
from tada.steering import CAA
adapter = MiniAdapter(MiniTextToMusic.from_pretrained(sys.argv[1]))
with adapter.steer(CAA.from_pretrained(sys.argv[2], alpha=6.0)):
    np.save(sys.argv[3], adapter.generate(sys.argv[4:], [0] * len(sys.argv[4:])).waveforms)
"""


def test_artifact_round_trips_in_a_new_process(tmp_path) -> None:
    adapter = tiny_mini()
    adapter.model.save_pretrained(tmp_path / "model")
    caa = CAA.compute(adapter, mini_concept("violin", 2))
    caa.save_pretrained(tmp_path / "caa")
    prompts = mini_prompts("violin", 2)
    caa.set_alpha(6.0)
    with adapter.steer(caa):
        here = adapter.generate(prompts, [0, 0]).waveforms
    script = tmp_path / "round_trip.py"
    script.write_text(ROUND_TRIP)
    args = [sys.executable, str(script), str(tmp_path / "model"), str(tmp_path / "caa"), str(tmp_path / "out.npy")]
    subprocess.run([*args, *prompts], check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), here)


def test_concept_triples_edit_only_the_concept_family() -> None:
    for value in ("violin", "fast", "happy", "high"):
        for prompt in mini_prompts(value, 4, seed=3):
            neutral, pos, neg = edit_caption(prompt, value)
            assert neutral == prompt and has_word(pos, value) and has_word(neg, SWAPS[value])
            assert pos.replace(value, SWAPS[value]) == neg
    concept = mini_concept("fast", 8)
    assert len(concept.positive) == 8 and all(has_word(n, "slow") for n in concept.negative)


def test_prompt_files_as_text_or_csv_column_and_their_errors(tmp_path) -> None:
    from tada.errors import ConfigError
    from tada.steering.concepts import read_prompt_file

    (tmp_path / "p.txt").write_text("a violin tune\n\n  a fast song \n")
    (tmp_path / "p.csv").write_text("prompt,other\na violin tune,x\n")
    (tmp_path / "empty.txt").write_text("\n")
    assert read_prompt_file(tmp_path / "p.txt") == ["a violin tune", "a fast song"]
    assert read_prompt_file(tmp_path / "p.csv") == ["a violin tune"]
    with pytest.raises(ConfigError, match="has no column 'caption'; it has \\['prompt', 'other'\\]"):
        read_prompt_file(tmp_path / "p.csv", column="caption")
    with pytest.raises(ConfigError, match="holds no prompts"):
        read_prompt_file(tmp_path / "empty.txt")
    with pytest.raises(ConfigError, match="does not exist .*one prompt per line, or a CSV file with a 'prompt' column"):
        read_prompt_file(tmp_path / "missing.txt")
