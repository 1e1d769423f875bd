"""SAE steering: the activation cache, TopK SAEs per site and their reconstruction quality, per-step feature
scores, steering with decoder directions, artifacts (new-process round trip, hub layout) and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from test_steering import BUILDERS, SEEDS, real_concept, tiny_mini
from test_steering_sliders import fake_hub
from trained_mini import log_odds, trained_mini

from tada.errors import ConfigError
from tada.steering import SAE, ActivationCache, SiteSAEs, make_controller, mini_concept
from tada.steering.concepts import mini_prompts
from tada.steering.sae import TopKSAE, fvu
from tada.testing.tiny import STEERING_DURATIONS, tiny_mini_world

pytestmark = [
    pytest.mark.filterwarnings("ignore:Should have:UserWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]
SMALL = {"expansion": 2, "k": 4, "learning_rate": 3e-3, "epochs": 3, "batch_size": 128}


@pytest.mark.parametrize("arch", list(BUILDERS))
def test_sae_computes_and_steers_two_steps_on_every_arch(arch: str) -> None:
    adapter = BUILDERS[arch]()
    config = adapter.generation_config("steering", steps=2, duration=adapter.generation_config().duration)
    if arch == "mini":
        concept, prompts = mini_concept("violin", 2), mini_prompts("violin", 2)
    else:
        config = config.with_(duration=STEERING_DURATIONS[arch])
        concept, prompts = real_concept(), ["a happy song", "a slow jazz piece"]
    site = adapter.registry().layers[-1].name
    sae = SAE.compute(adapter, concept, target_layers=site, every=1, config=config, top_k=3, progress=False, **SMALL)
    assert set(sae.meta["fvu"]) == {site} and 0 <= sae.meta["dead"][site] <= sae.meta["expansion"] * sae.meta["widths"][site]
    assert sae.tensors[f"{site}.tfidf"].shape == (2, sae.meta["expansion"] * sae.meta["widths"][site])
    neutral = adapter.generate([sae.neutral(p) for p in prompts], SEEDS, config).waveforms
    waves = {}
    for alpha in (0.0, 2.0):
        sae.set_alpha(alpha)
        with adapter.steer(sae):
            waves[alpha] = adapter.generate(prompts, SEEDS, config).waveforms
    np.testing.assert_array_equal(waves[0.0], neutral)
    assert np.isfinite(waves[2.0]).all() and not np.array_equal(waves[2.0], neutral)


def test_cache_records_its_steps_and_the_sae_reconstructs_it(tmp_path) -> None:
    adapter = tiny_mini()
    concept = mini_concept("violin", 4)
    cache = ActivationCache.collect(adapter, [*concept.positive, *concept.negative], "tf1", every=2, progress=False)
    assert cache.meta["steps_sampled"] == [0, 2]  # 3 sampling steps
    tokens = 9  # 8 frames + the DiT's global token
    assert cache.tensors["tf1"].shape == (8 * 2 * tokens, 32)
    cache.save_pretrained(tmp_path / "cache")
    again = ActivationCache.from_pretrained(tmp_path / "cache")
    assert torch.equal(again.tensors["tf1"], cache.tensors["tf1"]) and again.meta["steps_sampled"] == [0, 2]
    saes = SiteSAEs.train(again, expansion=4, k=8, learning_rate=3e-3, epochs=40, batch_size=32, progress=False)
    assert saes.meta["fvu"]["tf1"] < 0.15, saes.meta["fvu"]
    assert saes.meta["loss"]["tf1"][-1] < saes.meta["loss"]["tf1"][0]
    assert saes.meta["dead"]["tf1"] < 128 and saes.meta["cache"]["steps_sampled"] == [0, 2]
    x = cache.tensors["tf1"]
    with torch.no_grad():  # an untrained SAE of the same size reconstructs far worse
        assert fvu(x, TopKSAE(32, 128, 8)(x)[0]) > 2 * saes.meta["fvu"]["tf1"]
        z = saes.sae("tf1").encode(x)
    assert ((z > 0).sum(-1) <= 8).all()


def test_scores_pick_the_concepts_features_and_top_k_is_per_site(tmp_path) -> None:
    adapter = tiny_mini()
    sae = SAE.compute(adapter, mini_concept("violin", 4), target_layers="tf0tf1", every=1, progress=False, **SMALL)
    mp, mn = sae.tensors["tf0.mean_pos"], sae.tensors["tf0.diff"]
    torch.testing.assert_close(sae.tensors["tf0.tfidf"], mp * torch.log1p(1 / (mp - mn + 1e-6)))
    sae.top_k = {"tf0": 1, "tf1": 3}
    with adapter.steer(sae):
        pass
    decoder, tfidf = sae.tensors["tf1.decoder"], sae.tensors["tf1.tfidf"]
    top = tfidf[2].topk(3).indices
    torch.testing.assert_close(sae.vectors["tf1"][2, 0], decoder[top].sum(0))
    torch.testing.assert_close(sae.vectors["tf0"][1, 0], sae.tensors["tf0.decoder"][sae.tensors["tf0.tfidf"][1].argmax()])
    assert not sae.vectors["tf1"][:, 1].any()  # unconditional pass untouched
    weighted = SAE(sae.concept, sae.tensors, sae.meta, top_k=3, weighting="difference", target_layers="tf0tf1")  # each row times its latent's diff
    with adapter.steer(weighted):
        pass
    diff = sae.tensors["tf1.diff"][2, top]
    torch.testing.assert_close(weighted.vectors["tf1"][2, 0], (decoder[top] * diff[:, None]).sum(0))
    assert not torch.allclose(weighted.vectors["tf1"][2, 0], decoder[top].sum(0))


def test_bad_sae_input_fails_before_generating(tmp_path) -> None:
    adapter = tiny_mini()
    concept = mini_concept("violin", 2)
    sae = SAE.compute(adapter, concept, target_layers="tf0tf1", every=1, progress=False, **SMALL)
    sae.save_pretrained(tmp_path / "sae")
    with pytest.raises(ConfigError, match=r"no vectors for site\(s\) \['tf2'\]"):
        adapter.steer(SAE.from_pretrained(tmp_path / "sae", target_layers="tf2")).__enter__()
    with pytest.raises(ConfigError, match="expansion 2, not 4"):
        SAE.from_pretrained(tmp_path / "sae", expansion=4)
    with pytest.raises(ConfigError, match="computed with expansion 2; the configuration asks for expansion 4"):
        make_controller("sae", concept, "tf0", tmp_path / "sae", expansion=4, k=4)
    wide = tiny_mini_world(width=64)
    with pytest.raises(ConfigError, match="width 64"):
        wide.steer(SAE.from_pretrained(tmp_path / "sae", target_layers="tf0")).__enter__()
    with pytest.raises(ConfigError, match=r"SAE weighting must be one of unit \| difference; got 'size'"):
        SAE.from_pretrained(tmp_path / "sae", weighting="size")
    with pytest.raises(ConfigError, match="top_k names sites"):
        adapter.steer(SAE.from_pretrained(tmp_path / "sae", top_k={"tf0": 2})).__enter__()
    cache = ActivationCache.collect(adapter, concept.positive, "tf0", every=1, progress=False)
    saes = SiteSAEs.train(cache, expansion=2, k=2, epochs=1, progress=False)
    with pytest.raises(ConfigError, match=r"covers sites \['tf0'\], not \['tf1'\]"):
        SAE.compute(adapter, concept, target_layers="tf1", saes=saes)
    with pytest.raises(ConfigError, match="width 64"):
        SAE.compute(wide, concept, target_layers="tf0", cache=cache)
    cache.save_pretrained(tmp_path / "cache")
    with pytest.raises(ConfigError, match="'sae_cache' artifact, not 'sae'"):
        SiteSAEs.from_pretrained(tmp_path / "cache")
    saes.tensors["tf0.W_dec"] = saes.tensors["tf0.W_dec"][:40]
    with pytest.raises(ConfigError, match="expansion 2 at width 32"):
        saes.sae("tf0")


def test_every_sae_artifact_goes_through_the_hub(monkeypatch, tmp_path) -> None:
    fake_hub(monkeypatch, tmp_path / "hub")
    adapter = tiny_mini()
    concept = mini_concept("violin", 2)
    cache = ActivationCache.collect(adapter, concept.positive, "tf0", every=1, progress=False)
    cache.push_to_hub("someone/mini-cache")
    cache = ActivationCache.from_pretrained("someone/mini-cache")
    saes = SiteSAEs.train(cache, expansion=2, k=2, epochs=1, progress=False)
    saes.push_to_hub("someone/mini-saes")
    sae = SAE.compute(adapter, concept, target_layers="tf0", saes="someone/mini-saes", progress=False)
    sae.push_to_hub("someone/mini-violin-sae")
    loaded = SAE.from_pretrained("someone/mini-violin-sae")
    assert all(torch.equal(loaded.tensors[k], v) for k, v in sae.tensors.items())
    assert json.loads((tmp_path / "hub" / "someone/mini-saes" / "config.json").read_text())["kind"] == "sae"


ROUND_TRIP = """
import sys, numpy as np, torch
torch.set_num_threads(1)
from tada.models.mini import MiniAdapter, MiniTextToMusic
from tada.steering import SAE
adapter = MiniAdapter(MiniTextToMusic.from_pretrained(sys.argv[1]))
with adapter.steer(SAE.from_pretrained(sys.argv[2], alpha=0.7, top_k={"tf0": 2, "tf1": 5})):
    np.save(sys.argv[3], adapter.generate(sys.argv[4:], [0] * len(sys.argv[4:])).waveforms)
"""


def test_round_trips_in_a_new_process(tmp_path) -> None:
    adapter = tiny_mini()
    adapter.model.save_pretrained(tmp_path / "model")
    sae = SAE.compute(adapter, mini_concept("violin", 2), target_layers="tf0tf1", every=1, progress=False, **SMALL)
    sae.save_pretrained(tmp_path / "sae")
    prompts = mini_prompts("violin", 2)
    sae.set_alpha(0.7)
    sae.top_k = {"tf0": 2, "tf1": 5}
    with adapter.steer(sae):
        here = adapter.generate(prompts, [0, 0]).waveforms
    script = tmp_path / "round_trip.py"
    script.write_text(ROUND_TRIP)
    args = [sys.executable, str(script), str(tmp_path / "model"), str(tmp_path / "sae"), str(tmp_path / "out.npy")]
    subprocess.run([*args, *prompts], check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), here)


@pytest.mark.default_run
def test_sae_orders_violin_alignment_on_the_trained_mini() -> None:
    """On the trained mini's localized sites, -alpha / 0 / +alpha order the violin alignment (log-odds
    against trumpet) of the same prompts and seeds."""
    from tada.steering.profiles import profile

    adapter, scorer = trained_mini()
    concept = mini_concept("violin", 8)
    sae = SAE.compute(
        adapter, concept, target_layers="tf1tf2", every=2, expansion=4, k=8, learning_rate=1e-3, epochs=10,
        batch_size=256, progress=False,
    )
    assert max(sae.meta["fvu"].values()) < 0.2, sae.meta["fvu"]
    prompts = profile("mini").eval_prompts("violin", 4)
    align = []
    for alpha in (-0.05, 0.0, 0.05):
        sae.set_alpha(alpha)
        align += log_odds(adapter, scorer, prompts, [("violin", "trumpet")], sae)
    assert align[0] < align[1] < align[2], align
