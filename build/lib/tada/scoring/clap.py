"""CLAP (``transformers.ClapModel``) as an audio-text scorer, with its HTSAT stages for LPAPS.

The paper scores with LAION-CLAP's ``music_audioset_epoch_15_esc_90.14.pt``; convert it once with
:func:`tada.scoring.clap_convert.convert_laion_clap` (``tada convert-clap``) and pass the folder.
"""

from __future__ import annotations

from collections.abc import Sequence

import librosa
import numpy as np
import torch
import torch.nn.functional as F
from transformers import ClapModel, ClapProcessor

from tada.audio import windows
from tada.resources import resolve_checkpoint
from tada.scoring.base import AudioTextScorer

#: a HTSAT-base music CLAP in transformers format; the paper's own LAION-CLAP music checkpoint is
#: converted with :func:`tada.scoring.clap_convert.convert_laion_clap`
DEFAULT_CHECKPOINT = "laion/larger_clap_music"
HOW = (
    "Pass a local folder saved with ClapModel/ClapProcessor.save_pretrained (e.g. the paper's "
    "music_audioset_epoch_15_esc_90.14.pt converted with `tada convert-clap CHECKPOINT --out FOLDER`), "
    "or a hub id in the local cache."
)


class ClapScorer(AudioTextScorer):
    """Audio-text similarity under CLAP.

    Audio is resampled to 48 kHz. A clip is embedded as the renormalised mean of its windows'
    embeddings (``window_seconds``, at most the model's 10 s input, overlapping by ``overlap``);
    inputs are cut to the input length before the feature extractor, so its ``rand_trunc`` mode
    never crops at random and the scores are deterministic.
    """

    def __init__(
        self,
        model: ClapModel,
        processor: ClapProcessor,
        window_seconds: float = 10.0,
        overlap: float = 0.1,
        device: str | torch.device = "cpu",
    ) -> None:
        self.model = model.eval().to(device)
        self.processor = processor
        self.device = torch.device(device)
        self.sample_rate = int(processor.feature_extractor.sampling_rate)
        self.max_samples = int(processor.feature_extractor.nb_max_samples)
        self.window_seconds = min(window_seconds, self.max_samples / self.sample_rate)
        self.overlap = overlap

    @classmethod
    def from_pretrained(cls, path_or_id: str = DEFAULT_CHECKPOINT, **kwargs) -> ClapScorer:
        """Load a local folder or hub id; a missing one raises :class:`MissingCheckpointError`."""
        path = resolve_checkpoint(path_or_id, what="CLAP", how=HOW)
        return cls(ClapModel.from_pretrained(path), ClapProcessor.from_pretrained(path), **kwargs)

    def _resample(self, waveforms: np.ndarray, sample_rate: int) -> np.ndarray:
        waves = np.asarray(waveforms, dtype=np.float32)
        if sample_rate != self.sample_rate:
            waves = librosa.resample(waves, orig_sr=sample_rate, target_sr=self.sample_rate, axis=-1)
        return waves.astype(np.float32)

    def _inputs(self, waves: Sequence[np.ndarray]) -> dict[str, torch.Tensor]:
        features = self.processor.feature_extractor(
            [w[: self.max_samples] for w in waves],
            sampling_rate=self.sample_rate,
            truncation="rand_trunc",
            padding="repeatpad",
            return_tensors="pt",
        )
        return {k: v.to(self.device) for k, v in features.items()}

    @torch.no_grad()
    def embed_audio(self, waveforms: np.ndarray, sample_rate: int) -> torch.Tensor:
        waves = self._resample(waveforms, sample_rate)
        spans = windows(waves.shape[-1], self.sample_rate, self.window_seconds, self.overlap)
        chunks = [w[s] for w in waves for s in spans]
        emb = self.model.get_audio_features(**self._inputs(chunks)).pooler_output
        emb = emb.reshape(len(waves), len(spans), -1).mean(dim=1)
        return F.normalize(emb, dim=-1).cpu()

    @torch.no_grad()
    def embed_text(self, texts: Sequence[str]) -> torch.Tensor:
        tokens = self.processor.tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt").to(self.device)
        emb = self.model.get_text_features(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
        return F.normalize(emb.pooler_output, dim=-1).cpu()

    @torch.no_grad()
    def audio_stages(self, waveforms: np.ndarray, sample_rate: int) -> list[torch.Tensor]:
        """The four HTSAT stage outputs (before patch merging), ``(batch, channels, freq, time)``."""
        inputs = self._inputs(list(self._resample(waveforms, sample_rate)))
        out = self.model.audio_model(
            input_features=inputs["input_features"],
            is_longer=inputs.get("is_longer"),
            output_hidden_states=True,
            output_hidden_states_before_downsampling=True,
        )
        return [h.cpu() for h in out.hidden_states[1:]]
