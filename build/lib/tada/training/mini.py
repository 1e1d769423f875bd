"""Train the mini model with a ground-truth localization built in.

Every block has cross-attention, but only ``semantic_blocks`` see the clip's own caption during
training; the other blocks' cross-attention receives another caption of the batch, so they learn
to ignore what the text says. Those blocks are the ground truth that localization must recover.
With several semantic blocks, one of them at random is also given a shuffled caption in a quarter
of the steps (``block_dropout``), so each learns to carry every concept on its own (otherwise a
concept such as tempo may settle in one of them only).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import nn
from tqdm import trange

from tada.audio import log_spectrogram
from tada.interventions import Edit, HookContext, StepClock, intervene
from tada.models.mini import MiniConfig, MiniTextToMusic, tokenize
from tada.sites import Site
from tada.world.dataset import Clips


@dataclass
class ShuffledConditioning(Edit):
    """Feed a cross-attention the conditioning of another sample of the batch (while ``active``)."""

    active: bool = True

    def attach(self, module: nn.Module, site: Site, ctx: HookContext) -> list:
        def hook(_mod: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
            if not self.active:
                return None
            return args, {**kwargs, "encoder_hidden_states": kwargs["encoder_hidden_states"].roll(1, dims=0)}

        return [module.register_forward_pre_hook(hook, with_kwargs=True)]


@dataclass
class MiniTrainConfig:
    num_layers: int = 4
    width: int = 64
    heads: int = 4
    semantic_blocks: tuple[int, ...] = (1, 2)
    n_freq: int = 128  # spectrogram bins modelled (0-2 kHz at 8 kHz)
    train_steps: int = 5000
    batch_size: int = 48
    learning_rate: float = 2e-3
    uncond_prob: float = 0.1
    #: with several semantic blocks, the chance that one of them (at random) sees a shuffled caption
    #: in a step, so that each semantic block alone learns to carry every concept
    block_dropout: float = 0.25
    steps: int = 16
    guidance_scale: float = 4.0
    seed: int = 0


def train_mini(clips: Clips, cfg: MiniTrainConfig) -> tuple[MiniTextToMusic, dict[str, float]]:
    """Train on ``clips`` and return the model and training statistics."""
    torch.manual_seed(cfg.seed)
    bad = [b for b in cfg.semantic_blocks if not 0 <= b < cfg.num_layers]
    if bad or not cfg.semantic_blocks:
        raise ValueError(f"semantic_blocks {list(cfg.semantic_blocks)} must be non-empty indices in [0, {cfg.num_layers})")
    specs = log_spectrogram(clips.waves, n_bins=cfg.n_freq)
    vocab = sorted({w for c in clips.captions for w in tokenize(c)})
    config = MiniConfig(
        vocab=vocab,
        num_layers=cfg.num_layers,
        width=cfg.width,
        heads=cfg.heads,
        n_freq=specs.shape[1],
        n_frames=specs.shape[2],
        sample_rate=clips.sample_rate,
        n_samples=clips.waves.shape[1],
        semantic_blocks=list(cfg.semantic_blocks),
        spec_mean=specs.mean(dim=(0, 2)).tolist(),
        spec_std=(specs.std(dim=(0, 2)) + 1e-3).tolist(),
        steps=cfg.steps,
        guidance_scale=cfg.guidance_scale,
    )
    model = MiniTextToMusic(config).train()
    data = model.normalize(specs)
    ids, _ = model.token_ids(clips.captions)
    null_ids, _ = model.token_ids([""])
    edits = {
        Site(f"tf{n}", f"transformer_blocks.{n}.attn2"): ShuffledConditioning(active=n not in cfg.semantic_blocks)
        for n in range(cfg.num_layers)
    }
    semantic = [e for e in edits.values() if not e.active]
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=0.01)
    warmup = 100
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s / cfg.train_steps, 1.0)))
    )
    gen = torch.Generator().manual_seed(cfg.seed)
    start, losses = time.perf_counter(), []
    with intervene(model.transformer, edits, HookContext(StepClock("uncond_cond"))):
        for _ in trange(cfg.train_steps, desc="train mini", leave=False):
            if len(semantic) > 1:
                dropped = int(torch.randint(len(semantic), (), generator=gen))
                drop = bool(torch.rand((), generator=gen) < cfg.block_dropout)
                for k, edit in enumerate(semantic):
                    edit.active = drop and k == dropped
            idx = torch.randint(len(data), (cfg.batch_size,), generator=gen)
            x0, tok = data[idx], ids[idx].clone()
            tok[torch.rand(cfg.batch_size, generator=gen) < cfg.uncond_prob] = null_ids
            noise = torch.randn(x0.shape, generator=gen)
            sigma = torch.rand(cfg.batch_size, generator=gen)
            xt = (1 - sigma.view(-1, 1, 1)) * x0 + sigma.view(-1, 1, 1) * noise
            pred = model.velocity(xt, sigma, model.text_encoder(tok))
            loss = nn.functional.mse_loss(pred, noise - x0)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            losses.append(loss.item())
    tail = losses[-100:]
    return model.eval(), {"train_seconds": time.perf_counter() - start, "final_loss": sum(tail) / len(tail)}
