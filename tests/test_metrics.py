"""Metric backends: LPAPS, FAD, MIR axes, CLAP, caching, missing checkpoints and the sweep driver."""

from __future__ import annotations

import importlib.util
import itertools
import sys
import types
from collections.abc import Sequence
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from torch import nn

from tada.errors import MissingCheckpointError, TadaError, UnknownNameError
from tada.metrics import Clip, ClipCache, MissingPackageError, compute_metrics, load_scorer, scorer_name
from tada.metrics.aesthetics import AestheticsMetric
from tada.metrics.alignment import AlignmentMetric
from tada.metrics.fad import FadMetric, ScorerEmbedding, VGGishEmbedding, frechet_distance
from tada.metrics.lpaps import LpapsMetric, lpaps, windows
from tada.metrics.mir import MirMetric, melody, rhythm
from tada.metrics.sweep import evaluate_sweep, load_manifest
from tada.scoring.base import AudioTextScorer
from tada.scoring.mulan import MuqScorer

SR = 8000


class FakeScorer(AudioTextScorer):
    """A tiny deterministic CLAP-shaped scorer: four conv stages over a log-spectrogram."""

    sample_rate = SR

    def __init__(self) -> None:
        torch.manual_seed(0)
        widths = [65, 16, 16, 16, 16]
        self.stages = nn.ModuleList(nn.Conv1d(i, o, 3, stride=2, padding=1) for i, o in itertools.pairwise(widths))
        self.proj = nn.Linear(16, 8)
        self.calls = 0

    def audio_stages(self, waveforms: np.ndarray, sample_rate: int) -> list[torch.Tensor]:
        x = torch.as_tensor(np.asarray(waveforms, dtype=np.float32))
        h = torch.log1p(torch.stft(x, 128, 64, window=torch.hann_window(128), return_complex=True).abs())
        out = []
        with torch.no_grad():
            for stage in self.stages:
                h = torch.tanh(stage(h))
                out.append(h)
        return out

    def embed_audio(self, waveforms: np.ndarray, sample_rate: int) -> torch.Tensor:
        self.calls += 1
        with torch.no_grad():
            return nn.functional.normalize(self.proj(self.audio_stages(waveforms, sample_rate)[-1].mean(-1)), dim=-1)

    def embed_text(self, texts: Sequence[str]) -> torch.Tensor:
        rows = [torch.randn(8, generator=torch.Generator().manual_seed(sum(t.encode()))) for t in texts]
        return nn.functional.normalize(torch.stack(rows), dim=-1)


def tone(freq: float = 220.0, seconds: float = 1.0, sr: int = SR, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    return (0.4 * np.sin(2 * np.pi * freq * t) + noise * rng.standard_normal(len(t))).astype(np.float32)


# ---------------------------------------------------------------- LPAPS


def test_lpaps_is_zero_for_identical_clips_and_grows_with_distortion() -> None:
    scorer, clean = FakeScorer(), tone()
    assert lpaps(scorer, clean, clean, SR) == 0.0
    values = [lpaps(scorer, tone(noise=level, seed=1), clean, SR) for level in (0.01, 0.1, 0.5)]
    assert 0 < values[0] < values[1] < values[2]


def test_windows_clamp_to_the_clip_and_cover_it() -> None:
    assert windows(8192, SR, 10.0) == [slice(0, 8192)]  # a ~1 s mini clip is one window
    spans = windows(30 * SR, SR, 10.0, overlap=0.1)
    assert [s.start / SR for s in spans] == [0, 9, 18, 20] and all(s.stop - s.start == 10 * SR for s in spans)


def test_lpaps_metric_and_disk_cache(tmp_path: Path) -> None:
    scorer = FakeScorer()
    clips = [Clip.from_array(tone(noise=0.2, seed=s), SR) for s in range(3)]
    ref = Clip.from_array(tone(), SR)
    first = LpapsMetric(scorer, tag="fake", cache=ClipCache(tmp_path)).compute([*clips, ref], [ref] * 4)
    assert first["lpaps"].iloc[-1] == 0.0 and (first["lpaps"].iloc[:3] > 0).all()
    again = LpapsMetric(None, tag="fake", cache=ClipCache(tmp_path)).compute(clips, [ref] * 3)  # type: ignore[arg-type]
    np.testing.assert_allclose(again["lpaps"], first["lpaps"].iloc[:3])  # read back without a scorer


def test_alignment_embeds_each_clip_once() -> None:
    scorer, cache = FakeScorer(), ClipCache()
    clips = [Clip.from_array(tone(f), SR) for f in (220, 330)]
    metric = AlignmentMetric(scorer, "violin", "mini", tag="fake", cache=cache)
    values = metric.compute(clips + clips, clips + clips)["mini"]
    assert scorer.calls == 1 and values.iloc[0] == values.iloc[2]
    expected = scorer.similarity(np.stack([c.wave for c in clips]), SR, ["violin"])
    np.testing.assert_allclose(values.iloc[:2], expected, rtol=1e-5)


# ---------------------------------------------------------------- FAD


def test_frechet_distance() -> None:
    x = np.random.default_rng(0).standard_normal((200, 4))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(x, x + 2.0) == pytest.approx(16.0, rel=1e-6)  # |mu shift|^2, same covariance
    assert frechet_distance(x[:3], x[:3]) == pytest.approx(0.0, abs=1e-8)  # singular covariances


def test_fad_metric_with_scorer_embeddings() -> None:
    backend = ScorerEmbedding(FakeScorer(), "fake")
    refs = [Clip.from_array(tone(220 + 10 * i, noise=0.05, seed=i), SR) for i in range(4)]
    same = FadMetric(backend).compute(refs, refs)["fad"]
    assert (same == 0).all()
    moved = FadMetric(backend).compute([Clip.from_array(tone(800, noise=0.3, seed=i), SR) for i in range(4)], refs)
    assert (moved["fad"] > 0).all() and moved["fad"].nunique() == 1


# ---------------------------------------------------------------- MIR axes


def song(freq: float, bpm: float, sr: int = 22050, seconds: float = 2.0) -> np.ndarray:
    """A tone with a click on every beat."""
    beats = librosa.clicks(times=np.arange(0.25, seconds, 60.0 / bpm), sr=sr, length=int(seconds * sr))
    return (tone(freq, seconds, sr) + beats).astype(np.float32)


def test_mir_axes_are_perfect_for_identical_clips() -> None:
    clip = Clip.from_array(song(220.0, 120.0), 22050)
    other = Clip.from_array(song(311.0, 75.0), 22050)
    values = MirMetric().compute([clip, other], [clip, clip])
    assert values.columns.tolist() == ["harmony", "ssm", "rhythm", "melody"]
    np.testing.assert_allclose(values.iloc[0], 0.0, atol=1e-6)
    assert values.at[1, "harmony"] > 0.05 and values.at[1, "melody"] > 0.5
    assert np.isnan(rhythm(np.array([]), np.array([])))
    assert rhythm(np.array([1.0, 1.5]), np.array([])) == 1.0
    assert np.isnan(melody(np.array([220.0]), np.array([np.nan])))
    with pytest.raises(UnknownNameError):
        MirMetric(axes=["timbre"])


# ---------------------------------------------------------------- missing backends


def test_missing_backends_give_one_clear_message_and_others_still_compute(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    scorer, ref = FakeScorer(), Clip.from_array(tone(), SR)
    clips = [Clip.from_array(tone(noise=0.1, seed=1), SR), ref]
    metrics = [
        AestheticsMetric(checkpoint="/nonexistent/checkpoint.pt"),
        FadMetric(VGGishEmbedding(None)),
        LpapsMetric(scorer),
        AlignmentMetric(scorer, "violin", "mini"),
    ]
    report = compute_metrics(metrics, clips, [ref, ref])
    assert set(report.errors) == {"aesthetics", "fad"}
    for message in report.errors.values():
        assert "\n" not in message and ("not installed" in message or "not found" in message)
    assert report.values.columns.tolist() == ["lpaps", "mini"]
    assert report.values["lpaps"].iloc[1] == 0.0


def test_missing_checkpoints_and_packages_raise_tada_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    from tada.scoring.clap import ClapScorer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingCheckpointError, match="CLAP checkpoint not found at '/nonexistent/clap'"):
        ClapScorer.from_pretrained("/nonexistent/clap")
    with pytest.raises(MissingCheckpointError, match="not in the local Hugging Face cache"):
        ClapScorer.from_pretrained("tada-tests/no-such-clap")
    with pytest.raises(MissingPackageError, match="'muq'"):
        MuqScorer.from_pretrained()
    expected = MissingCheckpointError if importlib.util.find_spec("torchvggish") else MissingPackageError
    with pytest.raises(expected, match="VGGish"):
        VGGishEmbedding("/nonexistent/vggish.pth").embed([], ClipCache())


# ---------------------------------------------------------------- CLAP


@pytest.fixture(scope="module")
def tiny_clap(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny CLAP model and processor saved to a local folder (no download)."""
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor, RobertaTokenizer

    torch.manual_seed(0)
    audio = {"patch_embeds_hidden_size": 8, "depths": [1, 1, 1, 1], "num_attention_heads": [1, 1, 1, 1],
             "hidden_size": 64, "projection_dim": 16, "window_size": 8}  # fmt: skip
    text = {"vocab_size": 40, "hidden_size": 16, "num_hidden_layers": 1, "num_attention_heads": 1,
            "intermediate_size": 32, "projection_dim": 16, "max_position_embeddings": 64}  # fmt: skip
    model = ClapModel(ClapConfig(text_config=text, audio_config=audio, projection_dim=16))
    tokens = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", *"abcdefghijklmnopqrstuvwxyz", "Ġ"]
    vocab = {t: i for i, t in enumerate(tokens)}
    tokenizer = RobertaTokenizer(vocab=vocab, merges=[])
    path = tmp_path_factory.mktemp("clap")
    model.save_pretrained(path)
    extractor = ClapFeatureExtractor(max_length_s=2)  # 2 s inputs keep the test fast
    ClapProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(path)
    return path


def test_tiny_clap_embeds_audio_and_text_offline(tiny_clap: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tada.scoring.clap import ClapScorer

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    scorer = ClapScorer.from_pretrained(str(tiny_clap))
    waves = np.stack([tone(220), tone(440, noise=0.1)])
    audio = scorer.embed_audio(waves, SR)
    assert audio.shape == (2, 16) and torch.allclose(audio.norm(dim=-1), torch.ones(2), atol=1e-5)
    text = scorer.embed_text(["a piano song", "fast"])
    assert text.shape == (2, 16) and torch.allclose(text.norm(dim=-1), torch.ones(2), atol=1e-5)
    sims = scorer.similarity(waves, SR, ["a piano song"])
    assert sims.shape == (2,) and np.all(np.abs(sims) <= 1 + 1e-5)
    stages = scorer.audio_stages(waves, SR)
    assert [s.shape[1] for s in stages] == [8, 16, 32, 64] and all(s.shape[0] == 2 for s in stages)
    long = tone(220, seconds=3.0)[None]  # two 2 s windows, embedded deterministically
    torch.testing.assert_close(scorer.embed_audio(long, SR), scorer.embed_audio(long, SR))
    assert lpaps(scorer, waves[1], waves[1], SR) == 0.0 and lpaps(scorer, waves[1], waves[0], SR) > 0


# ---------------------------------------------------------------- sweeps, registry, texts


def _sweep(root: Path) -> Path:
    sweep = root / "sweeps" / "mini" / "violin" / "caa_loc"
    sweep.mkdir(parents=True)
    rows = []
    for pid in range(2):
        for alpha in (-1.0, 0.0, 1.0):
            name = f"p{pid}_a{alpha}.wav"
            sf.write(sweep / name, tone(220 + 50 * pid, noise=0.1 * abs(alpha), seed=pid), SR)
            rows.append({"concept": "violin", "method": "caa_loc", "prompt_id": pid, "prompt": f"p{pid}",
                         "seed": 0, "alpha": alpha, "path": name})  # fmt: skip
    pd.DataFrame(rows).to_csv(sweep / "manifest.csv", index=False)
    return sweep


def test_evaluate_sweep_pairs_each_clip_with_its_reference(tmp_path: Path) -> None:
    sweep, scorer = _sweep(tmp_path), FakeScorer()
    required = [AlignmentMetric(scorer, "violin", "mini"), LpapsMetric(scorer)]
    report = evaluate_sweep(sweep, required, optional=[AestheticsMetric("/nonexistent.pt")])
    values = report.values
    assert list(report.errors) == ["aesthetics"]
    assert values.columns.tolist()[-2:] == ["mini", "lpaps"] and len(values) == 6
    assert (values.loc[values["alpha"] == 0, "lpaps"] == 0).all()
    row = values[(values["prompt_id"] == 1) & (values["alpha"] == 1.0)].iloc[0]
    wave, ref = (sf.read(sweep / f"p1_a{a}.wav", dtype="float32")[0] for a in (1.0, 0.0))
    assert row["lpaps"] == pytest.approx(lpaps(scorer, wave, ref, SR), rel=1e-5)


def test_manifest_needs_a_reference_per_prompt_and_seed(tmp_path: Path) -> None:
    sweep = _sweep(tmp_path)
    manifest = pd.read_csv(sweep / "manifest.csv")
    manifest[~((manifest["prompt_id"] == 1) & (manifest["alpha"] == 0))].to_csv(sweep / "manifest.csv", index=False)
    with pytest.raises(TadaError, match="no alpha=0 reference"):
        load_manifest(sweep)
    manifest.drop(columns="seed").to_csv(sweep / "manifest.csv", index=False)
    with pytest.raises(TadaError, match="seed"):
        load_manifest(sweep)


def test_load_scorer_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = []

    class MiniScorer:
        @classmethod
        def from_pretrained(cls, path: str) -> str:
            loaded.append(path)
            return "mini-scorer"

    monkeypatch.setitem(sys.modules, "tada.scoring.mini", types.SimpleNamespace(MiniScorer=MiniScorer))
    assert load_scorer("mini", "some/results") == "mini-scorer"
    assert loaded == ["some/results/mini/scorer"]
    assert scorer_name("mini") == "mini" and scorer_name("clap") == "clap"
    with pytest.raises(UnknownNameError, match="scorer"):
        load_scorer("tiny_diffusion", "results")


