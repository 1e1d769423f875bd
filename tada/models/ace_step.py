"""ACE-Step behind the adapter interface: v1 (the paper's 3.5B model) and 1.5 (native in diffusers).

In both, text reaches the DiT only through each block's cross-attention, whose
``encoder_hidden_states`` is the packed text + lyric (+ speaker / timbre) sequence; ``tfN`` names
block N's cross-attention.

* v1 (``ace_step_v1``) comes from the ACE-Step repository's ``acestep`` package
  (``ACEStepTransformer2DModel``, ``transformer_blocks.N.cross_attn``). Its sampler calls the DiT's
  ``decode()`` twice per step (conditional, then unconditional).
* 1.5 (``ace_step_15``) is diffusers' ``AceStepPipeline`` (``AceStepTransformer1DModel``,
  ``layers.N.cross_attn``), CFG batched as ``[cond, uncond]``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from diffusers import AceStepPipeline
from torch import nn

from tada.errors import MissingPackageError, TadaError
from tada.models.base import Audio, GenerationConfig, ModelAdapter, PromptEncoding, resolve_checkpoint
from tada.models.noise import ReferenceNoise
from tada.models.pipelines import PipelineAdapter, encode_text, leveled
from tada.models.structures import StructureConfig, build_on_meta, load_config
from tada.sites import Site, dit_sites

ACESTEP_INSTALL = "pip install git+https://github.com/ace-step/ACE-Step"

#: sampler options of the reference's ACE-Step v1 patching runs (``configs/patch_config/ace.yaml`` and the
#: defaults of ``SimpleACEStepPipeline.generate``): ``text2music_diffusion_process`` kwargs plus ``use_erg_tag``
V1_SAMPLER: dict[str, Any] = {
    "scheduler_type": "euler",
    "cfg_type": "apg",
    "omega_scale": 7.0,
    "guidance_interval": 1.0,
    "guidance_interval_decay": 0.0,
    "min_guidance_scale": 0.0,
    "guidance_scale_text": 6.0,
    "guidance_scale_lyric": 1.0,
    "use_erg_tag": True,
    "use_erg_lyric": True,
    "use_erg_diffusion": True,
}
#: the steering runs' changes (``src/steering/run_eval.py`` with ``generate``'s defaults)
V1_STEERING = {"omega_scale": 10.0, "guidance_scale_text": 0.0, "guidance_scale_lyric": 0.0}

#: text ERG: the UMT5 blocks whose query projections are weakened, and by how much (``get_text_embeddings_null``)
ERG_TEXT_BLOCKS = (8, 9)
ERG_TAU = 0.01

#: audio samples per latent frame (DCAE: 8x downsampling of 512-sample mel hops at 44.1 kHz)
SAMPLES_PER_FRAME = 4096
LATENT_RATE = 44100


def latent_frames(seconds: float) -> int:
    """Latent frames of a clip, as the reference rounds them: ``ceil(seconds * 44100 / 4096)`` (323 at 30 s)."""
    return math.ceil(seconds * LATENT_RATE / SAMPLES_PER_FRAME)


def _presets(patching: dict[str, Any], steering: dict[str, Any], noise: bool) -> dict[str, GenerationConfig]:
    """Patching: 50 steps, CFG 7, no lyrics; steering: 30 steps, CFG 5, ``[inst]``; with ``noise``, the
    reference's draws (seeded 222 and 2115)."""
    return {
        "patching": GenerationConfig(
            steps=50, guidance_scale=7.0, duration=30.0, scheduler=patching, lyrics="",
            reference_noise=ReferenceNoise(222) if noise else None,
        ),
        "steering": GenerationConfig(
            steps=30, guidance_scale=5.0, duration=30.0, scheduler=steering, lyrics="[inst]",
            reference_noise=ReferenceNoise(2115) if noise else None,
        ),
    }


def import_acestep_pipeline() -> type:
    """``acestep.pipeline_ace_step.ACEStepPipeline``, or an error saying how to install it."""
    try:
        from acestep.pipeline_ace_step import ACEStepPipeline
    except ImportError as err:
        raise MissingPackageError(
            f"ACE-Step v1 needs the `acestep` package, which is not on PyPI: run `{ACESTEP_INSTALL}`."
        ) from err
    return ACEStepPipeline


class AceStepV1Adapter(ModelAdapter):
    """ACE-Step v1 3.5B (24 linear-attention blocks of width 2560, UMT5 text encoder).

    Prompts are padded to ``text_length`` tokens (128, as the reference's ``pad_to_max_len``) so
    clean and corrupted conditionings have equal shapes. ``GenerationConfig.scheduler`` holds keyword
    arguments of ``text2music_diffusion_process`` (defaults: the reference's :data:`V1_SAMPLER`) and
    ``use_erg_tag``, which picks the unconditional pass's text:

    * ``True`` (the reference's default, "text ERG"): the prompt's own UMT5 encoding with the query
      projections of blocks 8-9 scaled by 0.01 (:meth:`erg_null`), so clean and corrupted prompts
      differ in both CFG passes and patching/recording cover both;
    * ``False``: zeros, the same for every prompt (then the unconditional pass carries no prompt).

    Lyrics (``GenerationConfig.lyrics``) are tokenized by the pipeline's lyric tokenizer as the
    reference does (empty lyrics: one masked token) and padded to the longest of the batch. The clip
    has :func:`latent_frames` frames, rounded up as in the reference.

    The sampler calls the DiT's ``decode()`` once per pass (conditional, then unconditional inside the
    guidance interval): the step clock counts those calls and starts a new step when the timestep
    changes. FreeSliders is unavailable: ``decode()`` bypasses the DiT's forward, where extra passes hook.
    """

    arch = "ace_step_v1"
    cond_kwargs = ("encoder_hidden_states", "encoder_attention_mask")
    cfg_layout = "separate"
    counts_own_calls = True
    no_score_access = "its sampler calls the DiT's decode() directly, so no extra denoiser passes can be run"
    generation_presets = _presets(V1_SAMPLER, V1_SAMPLER | V1_STEERING, noise=True)
    sample_rate = 48000

    def __init__(self, pipe: Any, text_length: int = 128) -> None:
        self.pipe = pipe
        self.text_length = text_length

    @classmethod
    def from_pretrained(
        cls, path_or_id: str, *, device: str = "cpu", dtype: torch.dtype = torch.float32, cpu_offload: bool = False
    ) -> AceStepV1Adapter:
        path = resolve_checkpoint(
            path_or_id,
            what="ACE-Step v1",
            how="Run `huggingface-cli download ACE-Step/ACE-Step-v1-3.5B` or pass a local folder.",
        )
        pipeline_cls = import_acestep_pipeline()
        if not Path(path).is_dir():
            from huggingface_hub import snapshot_download

            path = snapshot_download(path)
        pipe = pipeline_cls(
            checkpoint_dir=path, dtype="bfloat16" if dtype == torch.bfloat16 else "float32", cpu_offload=cpu_offload
        )
        pipe.device = torch.device(device)
        pipe.load_checkpoint(path)
        return cls(pipe)

    @property
    def denoiser(self) -> nn.Module:
        return self.pipe.ace_step_transformer

    @property
    def noise_device(self) -> torch.device:
        return torch.device(self.pipe.device)

    @staticmethod
    def sites_of(transformer: nn.Module) -> list[Site]:
        """Sites of an ``ACEStepTransformer2DModel`` (``cross_attn`` = text, ``attn`` = self-attention)."""
        n = len(transformer.transformer_blocks)
        return dit_sites(n, "transformer_blocks.{}.cross_attn", "transformer_blocks.{}.attn")

    @classmethod
    def meta_denoiser(cls, config: StructureConfig | None = None) -> nn.Module:
        """The full-size DiT on the meta device (no weights): ACE-Step v1 3.5B's shipped config, or
        ``config`` (a mapping, a ``config.json``, or a checkpoint folder with ``ace_step_transformer/``).
        Needs the ``acestep`` package; :meth:`structure_sites` does not."""
        import_acestep_pipeline()
        from acestep.models.ace_step_transformer import ACEStepTransformer2DModel

        return build_on_meta(ACEStepTransformer2DModel, cls.structure_config(config))

    @staticmethod
    def structure_config(config: StructureConfig | None = None) -> dict[str, Any]:
        """The DiT config: ACE-Step v1 3.5B's shipped one, or ``config`` (as in :meth:`meta_denoiser`)."""
        return load_config(config or "ace_step_v1", subfolder="ace_step_transformer")

    @classmethod
    def structure_sites(cls, config: StructureConfig | None = None) -> list[Site]:
        """Every site of the full-size model, from its config alone (``num_layers`` blocks, each with
        ``cross_attn`` and ``attn``: the module tree of ``ACEStepTransformer2DModel``), so the
        ``acestep`` package is not needed."""
        n = int(cls.structure_config(config)["num_layers"])
        return dit_sites(n, "transformer_blocks.{}.cross_attn", "transformer_blocks.{}.attn")

    @torch.no_grad()
    def encode_prompt(self, prompts: Sequence[str], config: GenerationConfig | None = None) -> PromptEncoding:
        pipe = self.pipe
        return encode_text(pipe.text_tokenizer, pipe.text_encoder_model, prompts, self.text_length, pipe.device)

    @torch.no_grad()
    def erg_null(self, prompts: Sequence[str]) -> torch.Tensor:
        """The text ERG encoding of ``prompts`` (the unconditional pass's text): their UMT5 states with the
        query projections of blocks :data:`ERG_TEXT_BLOCKS` scaled by :data:`ERG_TAU`."""
        blocks = self.pipe.text_encoder_model.encoder.block
        hooks = [blocks[i].layer[0].SelfAttention.q.register_forward_hook(_scaled) for i in ERG_TEXT_BLOCKS]
        try:
            return self.encode_prompt(prompts).hidden_states
        finally:
            for hook in hooks:
                hook.remove()

    def lyric_tokens(self, lyrics: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Lyric token ids and mask, padded with 0 to the longest (empty lyrics: one masked 0 token)."""
        ids = [self.pipe.tokenize_lyrics(text) if text else [0] for text in lyrics]
        width = max(len(row) for row in ids)
        mask = [[int(bool(text))] * len(row) + [0] * (width - len(row)) for text, row in zip(lyrics, ids, strict=True)]
        ids = [row + [0] * (width - len(row)) for row in ids]
        device = self.pipe.device
        return torch.tensor(ids, dtype=torch.long, device=device), torch.tensor(mask, dtype=torch.long, device=device)

    def draw_noise(self, n: int, generator: torch.Generator, config: GenerationConfig) -> torch.Tensor:
        """``randn`` of ``(n, 8, 16, frames)`` in the pipeline's dtype (the reference's ``prepare_latents``)."""
        shape = (n, 8, 16, latent_frames(config.duration))
        return torch.randn(shape, generator=generator, device=generator.device, dtype=self.pipe.dtype)

    @contextmanager
    def _counted_decode(self) -> Iterator[None]:
        """Count ``decode()`` calls on the clock; a new timestep starts a new step."""
        transformer, clock, last = self.denoiser, self.clock, []
        decode = transformer.decode

        def counted(*args: Any, **kwargs: Any) -> Any:
            t = kwargs.get("timestep")
            key = float(t.flatten()[0]) if isinstance(t, torch.Tensor) else t
            if last and key != last[-1]:
                self._tick()
            last.append(key)
            clock.begin_call()
            return decode(*args, **kwargs)

        transformer.decode = counted
        try:
            yield
        finally:
            del transformer.decode

    @contextmanager
    def _given_latents(self, latents: torch.Tensor | None) -> Iterator[None]:
        """Make the sampler start from ``latents``: the ``acestep`` sampler draws its noise with its module's
        ``randn_tensor`` and takes no latents, so that function returns them for the first draw."""
        if latents is None:
            yield
            return
        module = sys.modules[type(self.pipe).__module__]
        draw, used = module.randn_tensor, []

        def given(shape: Sequence[int], **kwargs: Any) -> torch.Tensor:
            if used:
                return draw(shape, **kwargs)
            if tuple(shape) != tuple(latents.shape):
                raise TadaError(f"the sampler draws noise of shape {tuple(shape)}, not {tuple(latents.shape)}")
            used.append(True)
            return latents.to(kwargs.get("device"), kwargs.get("dtype"))

        module.randn_tensor = given
        try:
            yield
        finally:
            module.randn_tensor = draw

    @torch.no_grad()
    def _sample(
        self, prompts: Sequence[str], seeds: Sequence[int], config: GenerationConfig, prompt_embeds: PromptEncoding | None
    ) -> Audio:
        pipe, n = self.pipe, len(prompts)
        options = {**V1_SAMPLER, **config.scheduler}
        text = self.encode_prompt(prompts) if prompt_embeds is None else prompt_embeds
        null = self.erg_null(prompts).to(pipe.device, pipe.dtype) if options.pop("use_erg_tag") else None
        lyric_ids, lyric_mask = self.lyric_tokens(config.lyrics_for(n))
        frames = latent_frames(config.duration)
        with self._counted_decode(), self._given_latents(self.initial_noise(seeds, config)):
            latents = pipe.text2music_diffusion_process(
                duration=(frames + 0.5) * SAMPLES_PER_FRAME / LATENT_RATE,  # the sampler floors: `frames` frames
                encoder_text_hidden_states=text.hidden_states.to(pipe.device, pipe.dtype),
                text_attention_mask=text.attention_mask.to(pipe.device),
                speaker_embds=torch.zeros(n, 512, device=pipe.device, dtype=pipe.dtype),
                lyric_token_ids=lyric_ids,
                lyric_mask=lyric_mask,
                random_generators=self.generators(seeds),
                infer_steps=config.steps,
                guidance_scale=config.guidance_scale,
                encoder_text_hidden_states_null=null,
                **options,
            )
        _, waves = pipe.music_dcae.decode(latents, sr=self.sample_rate)
        length = int(config.duration * self.sample_rate)
        waves = torch.stack([w[..., :length].float().cpu() for w in waves]).numpy()
        return Audio(leveled(waves, config), self.sample_rate)


def _scaled(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> torch.Tensor:
    """Forward hook: the module's output times :data:`ERG_TAU`."""
    return output * ERG_TAU


class AceStep15Adapter(PipelineAdapter):
    """ACE-Step 1.5 through diffusers; lyrics from ``GenerationConfig.lyrics``. Use a base/SFT checkpoint for CFG.

    The pipeline pads text to the longest prompt of the batch and the DiT's cross-attention is
    unmasked, so a clip depends on the lengths of its batch's prompts, and clean and corrupted
    batches must tokenize to equal lengths to be patched. ``GenerationConfig.scheduler`` holds extra
    keyword arguments of the pipeline call (e.g. ``shift``).
    """

    arch = "ace_step_15"
    cond_kwargs = ("encoder_hidden_states", "attention_mask")
    cfg_layout = "cond_uncond"
    generation_presets = _presets({}, {}, noise=False)  # no reference run: v1's steps, CFG and lyrics

    pipeline_class = AceStepPipeline
    checkpoint_name = "ACE-Step 1.5"
    checkpoint_help = (
        "Download a diffusers-format ACE-Step 1.5 checkpoint (`huggingface-cli download <repo>`; "
        "see diffusers' AceStepPipeline docs) or pass a local folder."
    )

    @property
    def sample_rate(self) -> int:
        return int(self.pipe.sample_rate)

    @staticmethod
    def sites_of(transformer: nn.Module) -> list[Site]:
        """Sites of an ``AceStepTransformer1DModel`` (``cross_attn`` = text, ``self_attn`` = self-attention)."""
        return dit_sites(len(transformer.layers), "layers.{}.cross_attn", "layers.{}.self_attn")

    @classmethod
    def meta_denoiser(cls, config: StructureConfig | None = None) -> nn.Module:
        """The full-size DiT on the meta device (no weights): the shipped ACE-Step 1.5 base config, or
        ``config`` (a mapping, a ``config.json``, or a checkpoint folder with ``transformer/config.json``)."""
        from diffusers.models.transformers.ace_step_transformer import AceStepTransformer1DModel

        return build_on_meta(AceStepTransformer1DModel, load_config(config or "ace_step_15", subfolder="transformer"))

    @torch.no_grad()
    def encode_prompt(self, prompts: Sequence[str], config: GenerationConfig | None = None) -> PromptEncoding:
        """The text states the pipeline builds (its prompt format names the clip's duration: ``config``'s)."""
        pipe, config = self.pipe, config or self.generation_config("steering")
        duration, lyrics = config.duration, config.lyrics_for(len(prompts))
        hidden, mask, _, _ = pipe.encode_prompt(list(prompts), lyrics, pipe._execution_device, audio_duration=duration)
        texts = [pipe._format_prompt(p, audio_duration=duration)[0] for p in prompts]  # what the encoder saw
        ids = pipe.tokenizer(texts, padding="longest", return_tensors="pt")
        kept = (row[m.bool()].tolist() for row, m in zip(ids.input_ids, ids.attention_mask, strict=True))
        tokens = [pipe.tokenizer.convert_ids_to_tokens(k) for k in kept]
        return PromptEncoding(hidden, mask.long(), tokens)

    @contextmanager
    def _text_override(self, prompt_embeds: PromptEncoding | None) -> Iterator[None]:
        """Make the pipeline's ``encode_prompt`` return ``prompt_embeds`` as the text states."""
        if prompt_embeds is None:
            yield
            return
        pipe = self.pipe
        encode = pipe.encode_prompt

        def overridden(*args: Any, **kwargs: Any) -> tuple:
            _, mask, lyric, lyric_mask = encode(*args, **kwargs)
            return prompt_embeds.hidden_states, prompt_embeds.attention_mask.to(mask), lyric, lyric_mask

        pipe.encode_prompt = overridden
        try:
            yield
        finally:
            del pipe.encode_prompt

    @torch.no_grad()
    def _sample(
        self, prompts: Sequence[str], seeds: Sequence[int], config: GenerationConfig, prompt_embeds: PromptEncoding | None
    ) -> Audio:
        with self._text_override(prompt_embeds):
            waves = self.pipe(
                prompt=list(prompts),
                lyrics=config.lyrics_for(len(prompts)),
                audio_duration=config.duration,
                **self.call_kwargs(seeds, config),
            ).audios
        return Audio(leveled(waves, config), self.sample_rate)
