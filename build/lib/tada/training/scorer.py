"""Train the mini world's CLAP-shaped scorer.

Two objectives on real clips and on their Griffin-Lim round trips (so generated audio is in
distribution): each clip against the words of every attribute family (a contrastive
classification), and clips against captions with soft targets (a caption matches every clip
that agrees with all the attributes it mentions). Cosine learning-rate decay; the checkpoint with
the best held-out accuracy is kept.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import trange

from tada.audio import griffin_lim, log_spectrogram
from tada.models.mini import tokenize
from tada.scoring.mini import MiniScorer, MiniScorerModel, ScorerConfig
from tada.training.recognition import accuracy, recognise_embeddings
from tada.world.attributes import FAMILIES
from tada.world.captions import has_word
from tada.world.dataset import Clips


@dataclass
class ScorerTrainConfig:
    train_steps: int = 1200
    batch_size: int = 64
    learning_rate: float = 3e-3
    eval_every: int = 100
    model_bins: int = 128  # spectrogram bins of the mini model (its round trips are trained on)
    seed: int = 0


def _features(waves: np.ndarray, config: ScorerConfig, model_bins: int, chunk: int = 512) -> torch.Tensor:
    """Scorer spectrograms of real clips followed by those of their round trips through the mini
    model's representation (``model_bins`` lowest STFT bins, Griffin-Lim)."""
    model_specs = log_spectrogram(waves, n_bins=model_bins)
    trips = torch.cat([griffin_lim(model_specs[i : i + chunk], waves.shape[1]) for i in range(0, len(waves), chunk)])
    return torch.cat([log_spectrogram(w, config.n_fft, config.n_freq) for w in (torch.as_tensor(waves), trips)])


def train_scorer(clips: Clips, valid: Clips, cfg: ScorerTrainConfig) -> tuple[MiniScorer, dict[str, float]]:
    """Train on ``clips``, select on ``valid``; return the scorer and its statistics."""
    torch.manual_seed(cfg.seed)
    start = time.perf_counter()
    config = ScorerConfig(vocab=sorted({w for c in clips.captions for w in tokenize(c)}), sample_rate=clips.sample_rate)
    specs = _features(clips.waves, config, cfg.model_bins)
    real = specs[: len(clips.waves)]
    config.spec_mean = real.mean(dim=(0, 2)).tolist()
    config.spec_std = (real.std(dim=(0, 2)) + 1e-3).tolist()
    labels = {f: torch.tensor([values.index(v) for v in clips.attributes[f]] * 2) for f, values in FAMILIES.items()}
    captions = clips.captions * 2
    mentioned = {v: np.array([has_word(c, v) for c in captions]) for vs in FAMILIES.values() for v in vs}
    model = MiniScorerModel(config).train()
    family_ids = {f: model.token_ids(list(v)) for f, v in FAMILIES.items()}
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / cfg.train_steps)))
    gen = torch.Generator().manual_seed(cfg.seed)
    valid_specs = _features(valid.waves, config, cfg.model_bins)
    valid_truth = pd.concat([valid.attributes] * 2, ignore_index=True)
    best, best_acc = copy.deepcopy(model.state_dict()), -1.0
    for step in trange(cfg.train_steps, desc="train scorer", leave=False):
        idx = torch.randint(len(specs), (cfg.batch_size,), generator=gen)
        spec = specs[idx] + 0.05 * torch.randn(specs[idx].shape, generator=gen)
        audio, _ = model.encode_audio_spec(spec)
        scale = model.logit_scale.exp().clamp(max=100)
        loss = 0.0
        for f in FAMILIES:
            text = nn.functional.normalize(model.text(family_ids[f]), dim=-1)
            loss = loss + nn.functional.cross_entropy(scale * audio @ text.T, labels[f][idx])
        text = nn.functional.normalize(model.text(model.token_ids([captions[i] for i in idx])), dim=-1)
        match = torch.ones(len(idx), len(idx))
        for f, values in FAMILIES.items():
            truth = labels[f][idx]
            for k, v in enumerate(values):
                says = torch.tensor(mentioned[v][idx.numpy()])
                match *= 1 - (says.view(1, -1) & (truth != k).view(-1, 1)).float()
        loss = loss + nn.functional.cross_entropy(scale * text @ audio.T, (match / match.sum(0)).T)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.train_steps:
            acc = _accuracy(model, valid_specs, valid_truth)
            if acc > best_acc:
                best, best_acc = copy.deepcopy(model.state_dict()), acc
            model.train()
    model.load_state_dict(best)
    return MiniScorer(model), {"scorer_train_seconds": time.perf_counter() - start, "scorer_valid_accuracy": best_acc}


def _accuracy(model: MiniScorerModel, specs: torch.Tensor, truth: pd.DataFrame) -> float:
    """Mean over families of held-out recognition accuracy (real and round-tripped clips)."""
    model.eval()
    with torch.no_grad():
        emb = model.encode_audio_spec(specs)[0]
    return float(np.mean(list(accuracy(recognise_embeddings(MiniScorer(model), emb), truth).values())))
