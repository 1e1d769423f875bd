"""TokEmb and AUSteer on tiny random-weight models of every architecture, their artifacts and bad input;
on the trained mini model (default run), both move the scorer's alignment with the sign of alpha."""

from __future__ import annotations

import json
import os
import subprocess
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from trained_mini import RESULTS, log_odds, trained_mini  # noqa: E402

from tada.errors import ConfigError  # noqa: E402
from tada.models.base import GenerationConfig, ModelAdapter  # noqa: E402
from tada.models.mini import MiniAdapter  # noqa: E402
from tada.steering import Concept, mini_concept  # noqa: E402
from tada.steering.austeer import AUSteer, top_k_mask  # noqa: E402
from tada.steering.caa import CAA  # noqa: E402
from tada.steering.compose import Composite  # noqa: E402
from tada.steering.concepts import mini_prompts  # noqa: E402
from tada.steering.methods import make_controller  # noqa: E402
from tada.steering.sae import SAE  # noqa: E402
from tada.steering.tokemb import TokEmb, compute_pairs  # noqa: E402
from tada.testing import tiny  # noqa: E402

torch.set_num_threads(1)
pytestmark = [
    pytest.mark.filterwarnings("ignore:Should have:UserWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]

STEPS = 2
SEEDS = [0, 1]


def tiny_mini() -> MiniAdapter:
    return tiny.tiny_mini_world(STEPS)


BUILDERS = {"mini": tiny_mini, **tiny.TINY_REAL_ARCHS}


def tempo_concept() -> Concept:
    """A reference-style concept whose TokEmb words ("song", first) are single tokens of every tiny tokenizer."""
    templates = {
        "neutral_template": "a song, {p}",
        "pci_positive_template": "fast song, {p}",
        "pci_negative_template": "slow song, {p}",
        "tokemb_compute_positive_template": "fast song, {p}",
        "tokemb_compute_negative_template": "slow song, {p}",
    }
    return Concept("tempo", ["fast song, a happy tune", "fast song, jazz"], ["slow song, a happy tune", "slow song, jazz"], templates)


def setup(arch: str) -> tuple[ModelAdapter, GenerationConfig, Concept, list[str]]:
    adapter = BUILDERS[arch]()
    config = adapter.generation_config("steering", steps=STEPS, duration=adapter.generation_config().duration)
    if arch == "mini":
        return adapter, config, mini_concept("violin", 2), mini_prompts("violin", 2)
    config = config.with_(duration=tiny.STEERING_DURATIONS[arch])
    return adapter, config, tempo_concept(), ["a happy tune", "a sad piano piece"]


def run(adapter: ModelAdapter, controller, prompts: list[str], config: GenerationConfig, alpha: float) -> np.ndarray:
    controller.set_alpha(alpha)
    with adapter.steer(controller):
        return adapter.generate(prompts, SEEDS, config).waveforms


@pytest.mark.parametrize("arch", list(BUILDERS))
def test_both_methods_steer_two_steps_on_every_arch(arch: str) -> None:
    adapter, config, concept, prompts = setup(arch)
    tokemb = TokEmb.compute(adapter, concept, config=config)
    austeer = AUSteer.compute(adapter, concept, seeds=[5, 6], config=config, top_k=8)
    control = AUSteer(concept, austeer.tensors, austeer.meta, top_k=8, random_control=True, alpha=-1.0)
    both = Composite([AUSteer(concept, austeer.tensors, austeer.meta, top_k=8, target_layers=austeer.meta["sites"][:1]), control])
    for controller in (tokemb, austeer, control, both):
        neutral = adapter.generate([controller.neutral(p) for p in prompts], SEEDS, config).waveforms
        if controller is not both:  # a composite at alpha 0 still steers with its other members
            np.testing.assert_array_equal(run(adapter, controller, prompts, config, 0.0), neutral)
        steered = run(adapter, controller, prompts, config, 2.0)
        assert np.isfinite(steered).all() and np.abs(steered - neutral).max() > 1e-4 * np.abs(neutral).max(), controller.method


def test_tokemb_direction_is_the_mean_token_difference() -> None:
    adapter = tiny_mini()
    concept = mini_concept("violin", 3)
    tokemb = TokEmb.compute(adapter, concept)
    enc = adapter.encode_prompt(concept.positive + concept.negative)
    diffs = [enc.hidden_states[i, enc.positions(i, "violin")[-1]] - enc.hidden_states[3 + i, enc.positions(i, "violin")[-1]] for i in range(3)]
    torch.testing.assert_close(tokemb.tensors["direction"], torch.stack(diffs).mean(0))
    assert tokemb.meta["eval_words"] == ["instrument"]
    # the steered encoding moves only the eval word's token, by alpha * direction
    tokemb.set_alpha(1.5)
    neutral = [tokemb.neutral(p) for p in mini_prompts("violin", 2)]
    steered = tokemb.steered_encoding(adapter, neutral, adapter.generation_config("steering"))
    plain = adapter.encode_prompt(neutral)
    moved = (steered.hidden_states - plain.hidden_states).norm(dim=-1)
    for i in range(2):
        assert moved[i].nonzero().flatten().tolist() == [plain.positions(i, "instrument")[-1]]
    torch.testing.assert_close(moved.max(), 1.5 * tokemb.tensors["direction"].norm())


def test_tokemb_compute_pairs_from_the_reference_templates() -> None:
    pos, neg = compute_pairs(tempo_concept())
    assert pos == ["fast song, a happy tune", "fast song, jazz"] and neg == ["slow song, a happy tune", "slow song, jazz"]
    violin = Concept(
        "violin", ["a song, with violin"], ["a song"],
        {"tokemb_compute_positive_template": "{p}, with violin", "tokemb_compute_negative_template": "{p}, with instrument"},
    )
    assert compute_pairs(violin) == (["a song, with violin"], ["a song, with instrument"])


def test_tokemb_refuses_a_missing_or_split_word_before_generating() -> None:
    adapter = tiny_mini()
    tokemb = TokEmb.compute(adapter, mini_concept("violin", 2), alpha=1.0)
    calls = []
    adapter.denoiser.register_forward_pre_hook(lambda *_: calls.append(1))
    tokemb.meta["eval_words"] = ["cello"]
    with pytest.raises(ConfigError, match="needs the word 'cello'"), adapter.steer(tokemb):
        adapter.generate(mini_prompts("violin", 1), [0])
    assert not calls
    sa = tiny.tiny_stable_audio()  # "instrument" is not a word of the tiny T5 vocabulary: spelled by characters
    words = {"compute_word": "song", "eval_words": ["instrument"], "occurrence": "first"}
    split = TokEmb.compute(sa, tempo_concept(), words=words, alpha=1.0)
    with pytest.raises(ConfigError, match="spans several tokens"), sa.steer(split):
        sa.generate(["a tune with instrument"], [0], sa.generation_config("steering", steps=STEPS, duration=0.5))


def test_austeer_scores_and_global_top_k() -> None:
    adapter = tiny_mini()
    austeer = AUSteer.compute(adapter, mini_concept("violin", 3), top_k=10)
    betas = torch.stack(list(austeer.tensors.values()))
    assert betas.shape == (3, STEPS, 32) and (betas.abs() >= 0.5 - 1e-6).all() and (betas.abs() <= 1).all()
    ties = top_k_mask([torch.tensor([1.0, 0.5]), torch.tensor([1.0, 0.2])], 2)
    assert [m.tolist() for m in ties] == [[True, False], [True, False]]  # ties: earlier site first
    with adapter.steer(austeer):
        pass
    kept = torch.stack([(austeer.vectors[s][:, 0] != 0).sum(-1) for s in ("tf0", "tf1", "tf2")]).sum(0)
    assert kept.tolist() == [10] * STEPS


def test_austeer_difference_weighting_scales_each_beta_by_its_mean_difference(tmp_path) -> None:
    """``weighting="difference"``: the reference's signs, each beta times the channel's |mean(pos - neg)|
    relative to its mean over sites, steps and channels, checked against CAA's raw differences (computed
    independently from the same pairs and seeds); an artifact of the other weighting is refused."""
    adapter = tiny_mini()
    concept = mini_concept("violin", 3)
    sign = AUSteer.compute(adapter, concept)
    weighted = AUSteer.compute(adapter, concept, weighting="difference")
    size = {s: v[:, 0].abs() for s, v in CAA.compute(adapter, concept, weighting="difference").tensors.items()}
    scale = torch.cat([v.flatten() for v in size.values()]).mean()
    for site, beta in sign.tensors.items():
        torch.testing.assert_close(weighted.tensors[site], beta * size[site] / scale, rtol=1e-4, atol=1e-6)
    assert weighted.meta["weighting"] == "difference" and sign.meta["weighting"] == "sign"
    weighted.save_pretrained(tmp_path / "austeer")
    with pytest.raises(ConfigError, match="computed with weighting difference; the configuration asks for weighting sign"):
        make_controller("austeer", None, "tf0", tmp_path / "austeer", weighting="sign")
    with pytest.raises(ConfigError, match=r"weighting must be one of sign \| difference; got 'size'"):
        AUSteer.compute(adapter, concept, weighting="size")


def test_austeer_loc_ranks_only_the_localized_sites_of_the_all_site_artifact() -> None:
    adapter = tiny_mini()
    artifact = AUSteer.compute(adapter, mini_concept("violin", 3))
    assert artifact.meta["sites"] == ["tf0", "tf1", "tf2"]
    loc = AUSteer(artifact.concept, artifact.tensors, artifact.meta, target_layers="tf1tf2", top_k=12)
    with adapter.steer(loc):
        pass
    assert set(loc.vectors) == {"tf1", "tf2"}
    for step in range(STEPS):
        pooled = torch.cat([artifact.tensors["tf1"][step], artifact.tensors["tf2"][step]])
        chosen = torch.cat([loc.vectors["tf1"][step, 0], loc.vectors["tf2"][step, 0]])
        order = torch.sort(pooled.abs(), descending=True, stable=True).indices[:12]
        expected = torch.zeros_like(pooled)
        expected[order] = pooled[order]
        torch.testing.assert_close(chosen, expected)
        assert not loc.vectors["tf1"][step, 1].any()  # the unconditional pass is never steered
    with pytest.raises(ConfigError, match="exceeds"), adapter.steer(AUSteer(artifact.concept, artifact.tensors, artifact.meta, target_layers="tf1", top_k=33)):
        pass


ROUND_TRIP = """
import sys, numpy as np, torch
torch.set_num_threads(1)
from tada.models.mini import MiniAdapter, MiniTextToMusic
from tada.steering.methods import make_controller
adapter = MiniAdapter(MiniTextToMusic.from_pretrained(sys.argv[1]))
prompts = sys.argv[4:]
out = {}
for method in ("tokemb", "austeer"):
    with adapter.steer(make_controller(method, None, artifact=f"{sys.argv[2]}/{method}", alpha=1.5)):
        out[method] = adapter.generate(prompts, list(range(len(prompts)))).waveforms
np.savez(sys.argv[3], **out)
"""


def test_artifacts_round_trip_in_a_new_process(tmp_path) -> None:
    adapter = tiny_mini()
    adapter.model.save_pretrained(tmp_path / "model")
    prompts = mini_prompts("violin", 2)
    here = {}
    for cls in (TokEmb, AUSteer):
        controller = cls.compute(adapter, mini_concept("violin", 2), top_k=16) if cls is AUSteer else cls.compute(adapter, mini_concept("violin", 2))
        controller.save_pretrained(tmp_path / "artifacts" / cls.method)
        meta = json.loads((tmp_path / "artifacts" / cls.method / "config.json").read_text())
        assert meta["method"] == cls.method and meta["arch"] == "mini"
        if cls is AUSteer:  # top_k is an apply-time setting, not part of the artifact
            controller = AUSteer(controller.concept, controller.tensors, controller.meta)
        here[cls.method] = run(adapter, controller, prompts, adapter.generation_config("steering"), 1.5)
    script = tmp_path / "round_trip.py"
    script.write_text(ROUND_TRIP)
    args = [sys.executable, str(script), str(tmp_path / "model"), str(tmp_path / "artifacts"), str(tmp_path / "out.npz")]
    subprocess.run([*args, *prompts], check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    loaded = np.load(tmp_path / "out.npz")
    for method, waves in here.items():
        np.testing.assert_array_equal(loaded[method], waves, err_msg=method)


def test_artifacts_refuse_another_model(tmp_path) -> None:
    adapter = tiny_mini()
    TokEmb.compute(adapter, mini_concept("violin", 2)).save_pretrained(tmp_path / "tokemb")
    with pytest.raises(ConfigError, match="'mini', not 'stable_audio'"):
        tiny.tiny_stable_audio().steer(TokEmb.from_pretrained(tmp_path / "tokemb")).__enter__()
    wide = tiny.tiny_mini_world(STEPS, text_dim=32)
    with pytest.raises(ConfigError, match="text encoder has width 32"):
        wide.steer(TokEmb.from_pretrained(tmp_path / "tokemb")).__enter__()
    AUSteer.compute(adapter, mini_concept("violin", 2)).save_pretrained(tmp_path / "austeer")
    with pytest.raises(ConfigError, match="sampling steps"), adapter.steer(AUSteer.from_pretrained(tmp_path / "austeer", alpha=1.0)):
        adapter.generate(mini_prompts("violin", 1), [0], adapter.generation_config("steering", steps=STEPS + 1))


# --- the trained mini model of the default run --------------------------------------------------------
@pytest.mark.default_run
@pytest.mark.parametrize("method", ["tokemb", "austeer"])
def test_trained_mini_violin_alignment_follows_the_sign_of_alpha(method: str) -> None:
    """At the localized sites, violin +alpha raises the violin-vs-trumpet log-odds and -alpha lowers them."""
    from tada.steering.profiles import profile

    adapter, scorer = trained_mini()
    prof = profile("mini", str(RESULTS / "localization" / "mini" / "localized.yaml"))
    cls = {"tokemb": TokEmb, "austeer": AUSteer}[method]
    options = {"top_k": 32} if method == "austeer" else {}  # the config's setting for mini
    controller = cls.compute(adapter, prof.concept("violin"), target_layers=prof.target_layers("loc"), **options)
    alpha = {"tokemb": 1.0, "austeer": 0.1}[method]
    prompts = prof.eval_prompts("violin", 8)

    def violin_log_odds(a: float) -> float:
        controller.set_alpha(a)
        return log_odds(adapter, scorer, prompts, [("violin", "trumpet")], controller)[0]

    assert violin_log_odds(alpha) > violin_log_odds(0.0) + 1 > violin_log_odds(-alpha) + 2


def test_reference_top_k_follows_concept_and_arm() -> None:
    """``top_k: reference`` takes the reference's k per (concept, arm) (AUSteer) or per site (SAE)."""
    assert AUSteer.reference_option("top_k", "violin", "all") == 256
    assert AUSteer.reference_option("top_k", "violin", "loc") == 2048
    assert AUSteer.reference_option("top_k", "violin", "random") == 2048  # the control uses the localized sites
    assert SAE.reference_option("top_k", "mood", "loc") == {"tf6": 500, "tf7": 10}
    fast = mini_concept("fast", 2)
    with pytest.raises(ConfigError, match="no austeer top_k for concept 'fast'; it has .*'violin'"):
        make_controller("austeer", fast, "tf1", None, arm="loc", top_k="reference")
    with pytest.raises(ConfigError, match="caa has no reference value for option 'mode'"):
        make_controller("caa", fast, "tf1", None, arm="loc", mode="reference")
