"""The synthetic world: attributes audible in measurable features; captions and prompt pairs."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from tada.world.attributes import FAMILIES, SWAPS, Attributes
from tada.world.captions import (
    HELDOUT_TEMPLATES,
    TRAIN_TEMPLATES,
    caption,
    has_word,
    prompt_pairs,
    random_caption,
    swap_word,
)
from tada.world.dataset import Clips, make_clips
from tada.world.synth import check_prior, render

SR = 8000


def clips_of(n: int = 12, seed: int = 0, **attrs: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = {"instrument": "flute", "tempo": "slow", "register": "low", "mood": "happy"} | attrs
    return np.stack([render(Attributes(**base), rng, SR) for _ in range(n)])


def peak_hz(waves: np.ndarray) -> np.ndarray:
    spec = np.abs(np.fft.rfft(waves, axis=-1))
    return np.fft.rfftfreq(waves.shape[-1], 1 / SR)[spec.argmax(-1)]


def test_register_is_audible_in_pitch() -> None:
    low, high = peak_hz(clips_of(register="low")), peak_hz(clips_of(register="high"))
    assert low.max() < high.min() and np.median(low) < 240 < 290 < np.median(high)


def test_tempo_is_audible_in_onset_rate() -> None:
    def onsets(w: np.ndarray) -> float:
        return float(np.mean([len(librosa.onset.onset_detect(y=x, sr=SR)) for x in w]))

    kw = {"instrument": "xylophone"}
    assert onsets(clips_of(tempo="fast", **kw)) > 1.8 * onsets(clips_of(tempo="slow", **kw))


def test_instrument_is_audible_in_spectrum() -> None:
    def centroid(w: np.ndarray) -> float:
        return float(np.mean(librosa.feature.spectral_centroid(y=w, sr=SR)))

    c = {i: centroid(clips_of(instrument=i, register="high")) for i in FAMILIES["instrument"]}
    assert min(c["violin"], c["trumpet"]) > 1.3 * c["flute"]
    # the xylophone decays: the second half of each slow event is much quieter than its start
    env = np.abs(clips_of(instrument="xylophone", tempo="slow")).reshape(12, -1, 256).mean(-1)
    assert np.median(env[:, 9:12].mean(1) / env[:, 0:3].mean(1)) < 0.2


def test_mood_is_audible_in_chroma() -> None:
    major, minor = np.zeros(12), np.zeros(12)
    major[[0, 4, 7]], minor[[0, 3, 7]] = 1, 1

    def says_major(w: np.ndarray) -> bool:
        chroma = librosa.feature.chroma_stft(y=w, sr=SR, n_fft=2048, norm=None).sum(1)  # loud frames count most
        score = lambda t: max(np.dot(np.roll(t, k), chroma) for k in range(12))  # noqa: E731
        return score(major) > score(minor)

    happy = [says_major(w) for w in clips_of(mood="happy", instrument="flute")]
    sad = [not says_major(w) for w in clips_of(mood="sad", instrument="flute")]
    assert np.mean(happy + sad) >= 0.9


def test_clips_differ_and_repeat_with_seed() -> None:
    a, b = make_clips(4, seed=1), make_clips(4, seed=1)
    assert np.array_equal(a.waves, b.waves) and a.captions == b.captions
    assert not any(np.allclose(a.waves[i], a.waves[j]) for i in range(4) for j in range(i))
    assert np.abs(a.waves).max() <= 1.0


def test_a_prior_sets_how_often_a_value_is_drawn() -> None:
    uniform = make_clips(200, seed=4, duration=0.3)
    skewed = make_clips(200, seed=4, duration=0.3, prior={"register": {"low": 0.1, "high": 0.9}})
    assert 0.4 < np.mean(uniform.attributes["register"] == "high") < 0.6
    assert np.mean(skewed.attributes["register"] == "high") > 0.8
    assert 0.4 < np.mean(skewed.attributes["tempo"] == "fast") < 0.6  # other families stay uniform
    assert make_clips(3, seed=4, prior={}).captions == make_clips(3, seed=4).captions


@pytest.mark.parametrize(
    ("prior", "message"),
    [
        ({"pitch": {"low": 1.0}}, "unknown family 'pitch'"),
        ({"register": {"low": 1.0}}, "each of low, high"),
        ({"register": {"low": 0.6, "high": 0.6}}, "sum to 1"),
        ({"register": {"low": 1.5, "high": -0.5}}, "sum to 1"),
    ],
)
def test_a_bad_prior_is_refused(prior, message) -> None:
    with pytest.raises(ValueError, match=message):
        check_prior(prior)


def test_clips_round_trip(tmp_path) -> None:
    clips = make_clips(3, seed=2)
    clips.save(tmp_path / "c.npz")
    back = Clips.load(tmp_path / "c.npz")
    assert np.array_equal(back.waves, clips.waves) and back.captions == clips.captions
    assert back.attributes.equals(clips.attributes)


def test_captions_name_attributes_with_words() -> None:
    attrs = Attributes("violin", "fast", "low", "sad")
    for template in TRAIN_TEMPLATES + HELDOUT_TEMPLATES:
        text = caption(attrs, template, dict.fromkeys(FAMILIES, True))
        assert all(has_word(text, v) for v in attrs.as_dict().values()), text
        neutral = caption(attrs, template, {"instrument": False, "tempo": True, "register": True, "mood": True})
        assert not has_word(neutral, "violin") and has_word(neutral, "instrument")
    assert not set(TRAIN_TEMPLATES) & set(HELDOUT_TEMPLATES)
    rng = np.random.default_rng(0)
    texts = {random_caption(attrs, rng) for _ in range(50)}
    assert len(texts) > 10  # varied templates and omissions


def test_prompt_pairs_swap_only_the_feature_word() -> None:
    pairs = prompt_pairs(["violin", "fast", "happy", "low"], per_feature=5)
    assert list(pairs.columns) == ["original_feature", "clean_prompt", "corrupted_prompt"]
    assert (pairs.groupby("original_feature").size() == 5).all()
    for row in pairs.itertuples():
        partner = SWAPS[row.original_feature]
        assert has_word(row.clean_prompt, row.original_feature) and not has_word(row.clean_prompt, partner)
        assert row.corrupted_prompt == swap_word(row.clean_prompt, row.original_feature, partner)


def test_has_word_is_whole_word() -> None:
    assert has_word("A Violin solo", "violin")
    assert not has_word("violins and violinists", "violin")


@pytest.mark.parametrize("value", sorted(SWAPS))
def test_swaps_are_within_a_family(value: str) -> None:
    from tada.world.attributes import VALUE_FAMILY

    assert VALUE_FAMILY[SWAPS[value]] == VALUE_FAMILY[value] and SWAPS[SWAPS[value]] == value
