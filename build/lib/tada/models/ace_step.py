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

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from diffusers import AceStepPipeline
from torch import nn

from tada.errors import MissingPackageError
from tada.models.base import Audio, GenerationConfig, ModelAdapter, PromptEncoding, resolve_checkpoint
from tada.models.pipelines import PipelineAdapter, encode_text, peak_limited
from tada.models.structures import StructureConfig, build_on_meta, load_config
from tada.sites import Site, dit_sites

ACESTEP_INSTALL = "pip install git+https://github.com/ace-step/ACE-Step"

#: sampler options of the reference's ACE-Step v1 runs (``text2music_diffusion_process`` kwargs)
V1_SAMPLER: dict[str, Any] = {
    "scheduler_type": "euler",
    "cfg_type": "apg",
    "omega_scale": 7.0,
    "guidance_interval": 1.0,
    "guidance_interval_decay": 0.0,
    "min_guidance_scale": 3.0,
    "guidance_scale_text": 6.0,
    "guidance_scale_lyric": 1.0,
    "use_erg_lyric": True,
    "use_erg_diffusion": True,
}


def _presets(sampler: dict[str, Any]) -> dict[str, GenerationConfig]:
    return {
        "patching": GenerationConfig(steps=50, guidance_scale=7.0, duration=30.0, scheduler=sampler),
        "steering": GenerationConfig(steps=30, guidance_scale=5.0, duration=30.0, scheduler=sampler),
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
    """ACE-Step v1 3.5B (24 linear-attention blocks of width 2560, UMT5 text encoder), instrumental.

    Prompts are padded to ``text_length`` tokens (128, as the reference's ``pad_to_max_len``) so
    clean and corrupted conditionings have equal shapes; the unconditional text is zeros.
    ``GenerationConfig.scheduler`` holds keyword arguments of ``text2music_diffusion_process``
    (defaults: the reference's :data:`V1_SAMPLER`).

    The sampler calls the DiT's ``decode()`` once per pass (conditional, then unconditional inside the
    guidance interval): the step clock counts those calls and starts a new step when the timestep
    changes. FreeSliders is unavailable: ``decode()`` bypasses the DiT's forward, where extra passes hook.
    """

    arch = "ace_step_v1"
    cond_kwargs = ("encoder_hidden_states", "encoder_attention_mask")
    cfg_layout = "separate"
    counts_own_calls = True
    no_score_access = "its sampler calls the DiT's decode() directly, so no extra denoiser passes can be run"
    generation_presets = _presets(V1_SAMPLER)
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

    @torch.no_grad()
    def _sample(
        self, prompts: Sequence[str], seeds: Sequence[int], config: GenerationConfig, prompt_embeds: PromptEncoding | None
    ) -> Audio:
        pipe, n = self.pipe, len(prompts)
        text = self.encode_prompt(prompts) if prompt_embeds is None else prompt_embeds
        no_lyric = torch.zeros(n, 1, dtype=torch.long, device=pipe.device)
        with self._counted_decode():
            latents = pipe.text2music_diffusion_process(
                duration=config.duration,
                encoder_text_hidden_states=text.hidden_states.to(pipe.device, pipe.dtype),
                text_attention_mask=text.attention_mask.to(pipe.device),
                speaker_embds=torch.zeros(n, 512, device=pipe.device, dtype=pipe.dtype),
                lyric_token_ids=no_lyric,
                lyric_mask=no_lyric,
                random_generators=self.generators(seeds),
                infer_steps=config.steps,
                guidance_scale=config.guidance_scale,
                **{**V1_SAMPLER, **config.scheduler},
            )
        _, waves = pipe.music_dcae.decode(latents, sr=self.sample_rate)
        length = int(config.duration * self.sample_rate)
        waves = torch.stack([w[..., :length].float().cpu() for w in waves]).numpy()
        return Audio(peak_limited(waves), self.sample_rate)



class AceStep15Adapter(PipelineAdapter):
    """ACE-Step 1.5 through diffusers (instrumental: empty lyrics). Use a base/SFT checkpoint for CFG.

    The pipeline pads text to the longest prompt of the batch and the DiT's cross-attention is
    unmasked, so a clip depends on the lengths of its batch's prompts, and clean and corrupted
    batches must tokenize to equal lengths to be patched. ``GenerationConfig.scheduler`` holds extra
    keyword arguments of the pipeline call (e.g. ``shift``).
    """

    arch = "ace_step_15"
    cond_kwargs = ("encoder_hidden_states", "attention_mask")
    cfg_layout = "cond_uncond"
    generation_presets = _presets({})

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
        pipe, duration = self.pipe, (config or self.generation_config("steering")).duration
        hidden, mask, _, _ = pipe.encode_prompt(
            list(prompts), [""] * len(prompts), pipe._execution_device, audio_duration=duration
        )
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
                lyrics=[""] * len(prompts),
                audio_duration=config.duration,
                **self.call_kwargs(seeds, config),
            ).audios
        return Audio(peak_limited(waves), self.sample_rate)
