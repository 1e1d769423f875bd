"""The built-in ``mini`` text-to-music model and its adapter.

A miniature Stable-Audio-style pipeline built from the same diffusers classes as the real one:
a word-level tokenizer and a small transformer text encoder, a ``StableAudioDiTModel`` denoising
normalised log-spectrograms with rectified flow (``FlowMatchEulerDiscreteScheduler``),
classifier-free guidance on a batched ``[uncond, cond]`` pass, and Griffin-Lim back to audio.
Text enters only through each block's cross-attention (``tfN`` = ``transformer_blocks.N.attn2``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from diffusers import FlowMatchEulerDiscreteScheduler, StableAudioDiTModel
from diffusers.models.embeddings import get_1d_rotary_pos_embed
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from tada.audio import griffin_lim
from tada.models.base import Audio, GenerationConfig, ModelAdapter, PromptEncoding, resolve_checkpoint
from tada.models.structures import mini_sites
from tada.sites import Site
from tada.text import tokenize

PAD, UNK = "<pad>", "<unk>"


@dataclass
class MiniConfig:
    """Sizes of the mini model and the normalisation of its spectrograms."""

    vocab: list[str] = field(default_factory=list)
    max_tokens: int = 16
    text_dim: int = 64
    text_layers: int = 1
    num_layers: int = 6
    width: int = 64
    heads: int = 4
    n_freq: int = 256
    n_frames: int = 32
    sample_rate: int = 8000
    n_samples: int = 8192
    semantic_blocks: list[int] = field(default_factory=list)
    spec_mean: list[float] = field(default_factory=list)
    spec_std: list[float] = field(default_factory=list)
    steps: int = 16
    guidance_scale: float = 4.0


class TextEncoder(nn.Module):
    """Token and position embeddings followed by a small transformer encoder."""

    def __init__(self, vocab_size: int, dim: int, layers: int, max_tokens: int) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, dim)
        self.positions = nn.Parameter(torch.zeros(max_tokens, dim))
        layer = nn.TransformerEncoderLayer(dim, 4, 2 * dim, dropout=0.0, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.norm(self.encoder(self.tokens(ids) + self.positions[: ids.shape[1]]))


class MiniTextToMusic(nn.Module):
    """Tokenizer, text encoder, DiT denoiser and scheduler of the mini model."""

    def __init__(self, config: MiniConfig) -> None:
        super().__init__()
        self.config = config
        self.vocab = {w: i for i, w in enumerate([PAD, UNK, *config.vocab])}
        self.text_encoder = TextEncoder(len(self.vocab), config.text_dim, config.text_layers, config.max_tokens)
        head_dim = config.width // config.heads
        self.transformer = StableAudioDiTModel(
            sample_size=config.n_frames,
            in_channels=config.n_freq,
            num_layers=config.num_layers,
            attention_head_dim=head_dim,
            num_attention_heads=config.heads,
            num_key_value_attention_heads=config.heads,
            out_channels=config.n_freq,
            cross_attention_dim=config.width,
            time_proj_dim=32,
            global_states_input_dim=8,
            cross_attention_input_dim=config.text_dim,
        )
        # learned absolute positions (the DiT's rotary embedding alone is weak on 32 frames)
        self.positions = nn.Parameter(torch.zeros(config.n_freq, config.n_frames))
        self.scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0)
        mean = torch.tensor(config.spec_mean or [0.0] * config.n_freq).view(-1, 1)
        std = torch.tensor(config.spec_std or [1.0] * config.n_freq).view(-1, 1)
        self.register_buffer("spec_mean", mean, persistent=False)
        self.register_buffer("spec_std", std, persistent=False)

    # text ----------------------------------------------------------------------------------
    def token_ids(self, prompts: Sequence[str]) -> tuple[torch.Tensor, list[list[str]]]:
        """Padded token ids ``(batch, max_tokens)`` and the tokens themselves."""
        words = [tokenize(p)[: self.config.max_tokens] for p in prompts]
        ids = torch.zeros(len(prompts), self.config.max_tokens, dtype=torch.long)
        for i, ws in enumerate(words):
            ids[i, : len(ws)] = torch.tensor([self.vocab.get(w, 1) for w in ws], dtype=torch.long)
        return ids.to(self.spec_mean.device), words

    def encode(self, prompts: Sequence[str]) -> torch.Tensor:
        return self.text_encoder(self.token_ids(prompts)[0])

    # denoising -------------------------------------------------------------------------------
    def rotary(self) -> tuple[torch.Tensor, torch.Tensor]:
        head_dim = self.config.width // self.config.heads
        cos, sin = get_1d_rotary_pos_embed(head_dim // 2, self.config.n_frames + 1, use_real=True, repeat_interleave_real=False)
        return cos.to(self.spec_mean.device), sin.to(self.spec_mean.device)

    def velocity(self, x: torch.Tensor, sigma: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """Predicted flow ``noise - x0`` at noise level ``sigma`` (one per sample)."""
        glob = torch.zeros(x.shape[0], 1, 8, device=x.device, dtype=x.dtype)
        return self.transformer(
            x + self.positions, sigma, encoder_hidden_states=text, global_hidden_states=glob,
            rotary_embedding=self.rotary(), return_dict=False,  # its output class warns of a deprecation per call
        )[0]

    def normalize(self, log_spec: torch.Tensor) -> torch.Tensor:
        return (log_spec - self.spec_mean) / self.spec_std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.spec_std + self.spec_mean

    # persistence -----------------------------------------------------------------------------
    def save_pretrained(self, path: str | Path) -> None:
        """Write ``config.json`` and ``model.safetensors``."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "config.json").write_text(json.dumps(asdict(self.config), indent=1))
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(path / "model.safetensors"))

    @classmethod
    def from_pretrained(cls, path: str | Path) -> MiniTextToMusic:
        path = Path(path)
        model = cls(MiniConfig(**json.loads((path / "config.json").read_text())))
        model.load_state_dict(load_file(str(path / "model.safetensors")))
        return model.eval()


class MiniAdapter(ModelAdapter):
    """Adapter of the built-in mini model."""

    arch = "mini"
    cond_kwargs = ("encoder_hidden_states", "attention_mask")

    def __init__(self, model: MiniTextToMusic, progress: bool = False) -> None:
        self.model = model.eval()
        self.progress = progress
        cfg = model.config
        preset = GenerationConfig(steps=cfg.steps, guidance_scale=cfg.guidance_scale, duration=cfg.n_samples / cfg.sample_rate)
        self.generation_presets = {"patching": preset, "steering": preset}

    @classmethod
    def from_pretrained(
        cls, path_or_id: str, *, device: str = "cpu", dtype: torch.dtype = torch.float32, cpu_offload: bool = False
    ) -> MiniAdapter:
        path = resolve_checkpoint(
            path_or_id,
            what="mini",
            how="Train it with `snakemake --cores 2 results/mini/model/config.json` (the default run does).",
        )
        return cls(MiniTextToMusic.from_pretrained(path).to(device=device, dtype=dtype))

    @property
    def denoiser(self) -> nn.Module:
        return self.model.transformer

    @property
    def sample_rate(self) -> int:
        return self.model.config.sample_rate

    @staticmethod
    def sites_of(denoiser: nn.Module) -> list[Site]:
        """``tfN`` = ``transformer_blocks.N.attn2`` (text), ``tfNself`` = ``attn1`` (:func:`mini_sites`)."""
        return mini_sites(len(denoiser.transformer_blocks))

    def encode_prompt(self, prompts: Sequence[str], config: GenerationConfig | None = None) -> PromptEncoding:
        with torch.no_grad():
            ids, words = self.model.token_ids(prompts)
            return PromptEncoding(self.model.text_encoder(ids), (ids != 0).long(), words)

    @torch.no_grad()
    def _sample(
        self, prompts: Sequence[str], seeds: Sequence[int], config: GenerationConfig, prompt_embeds: PromptEncoding | None
    ) -> Audio:
        m, cfg = self.model, self.model.config
        dev = m.spec_mean.device
        text = m.encode(list(prompts)) if prompt_embeds is None else prompt_embeds.hidden_states.to(dev)
        guided = config.guidance_scale != 1.0
        if guided:
            text = torch.cat([m.encode([""] * len(prompts)), text])
        x = torch.stack([torch.randn(cfg.n_freq, cfg.n_frames, generator=g) for g in self.generators(seeds)]).to(dev)
        scheduler = FlowMatchEulerDiscreteScheduler.from_config(m.scheduler.config, **dict(config.scheduler))
        scheduler.set_timesteps(config.steps, device=dev)
        for t in tqdm(scheduler.timesteps, desc="mini", disable=not self.progress, leave=False):
            inp = torch.cat([x, x]) if guided else x
            sigma = (t / 1000).expand(inp.shape[0]).to(x.dtype)
            v = m.velocity(inp, sigma, text)
            if guided:
                uncond, cond = v.chunk(2)
                v = uncond + config.guidance_scale * (cond - uncond)
            x = scheduler.step(v, t, x).prev_sample
            self._tick()
        waves = griffin_lim(m.denormalize(x).float(), cfg.n_samples)
        return Audio(waves.cpu().numpy()[:, None, :].astype(np.float32), cfg.sample_rate)
