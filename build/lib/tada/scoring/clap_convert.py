"""Convert a LAION-CLAP checkpoint into transformers' ``ClapModel`` layout, for :class:`~tada.scoring.clap.ClapScorer`.

The paper scores alignment and LPAPS with LAION-CLAP's ``music_audioset_epoch_15_esc_90.14.pt``
(``laion_clap.CLAP_Module(enable_fusion=False, amodel="HTSAT-base")``: an HTSAT-base audio encoder
and a RoBERTa-base text encoder). laion-clap itself pins ``numpy<2`` and downloads its tokenizer at
import, so the checkpoint is converted once, here, without it::

    tada convert-clap music_audioset_epoch_15_esc_90.14.pt --out checkpoints/clap-music \\
        --tokenizer FacebookAI/roberta-base   # or a folder holding roberta-base's vocab.json, merges.txt

The key mapping is the one of transformers' ``convert_clap_original_pytorch_to_hf.py`` (laion-clap's
``audio_branch`` is ``audio_model.audio_encoder``, its fused ``qkv`` is split into ``query``/``key``/``value``,
its ``nn.Sequential`` projections become ``linear1``/``linear2``, the RoBERTa ``text_branch`` is ``text_model``),
written out rule by rule so that every key is either mapped, dropped for a stated reason, or reported.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from tada.errors import MissingCheckpointError, TadaError

#: the file name of the paper's CLAP checkpoint
MUSIC_CHECKPOINT = "music_audioset_epoch_15_esc_90.14.pt"
#: where the RoBERTa tokenizer files come from (laion-clap loads ``RobertaTokenizer.from_pretrained("roberta-base")``)
DEFAULT_TOKENIZER = "FacebookAI/roberta-base"
#: laion-clap tokenizes with ``padding="max_length", truncation=True, max_length=77``
TEXT_MAX_LENGTH = 77

#: ``ClapConfig`` of the music checkpoint: laion-clap's ``HTSAT-base`` (``create_htsat_model``: embed_dim 128,
#: depths 2-2-12-2, heads 4-8-16-32, window 8, spec_size 256, patch 4, stride 4; no fusion) projected from
#: 1024 to 512 dims, and ``RobertaModel.from_pretrained("roberta-base")`` projected from 768 to 512 dims
#: (ReLU MLPs). RoBERTa-base's layer-norm epsilon is 1e-5 (``ClapTextConfig``'s default is 1e-12).
MUSIC_CONFIG: dict[str, Any] = {
    "projection_dim": 512,
    "audio_config": {
        "patch_embeds_hidden_size": 128,
        "depths": [2, 2, 12, 2],
        "num_attention_heads": [4, 8, 16, 32],
        "window_size": 8,
        "spec_size": 256,
        "patch_size": 4,
        "patch_stride": [4, 4],
        "num_mel_bins": 64,
        "num_classes": 527,
        "hidden_size": 1024,
        "projection_dim": 512,
        "projection_hidden_act": "relu",
        "enable_fusion": False,
        "mlp_ratio": 4.0,
        "qkv_bias": True,
        "layer_norm_eps": 1e-5,
    },
    "text_config": {
        "vocab_size": 50265,
        "hidden_size": 768,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
        "intermediate_size": 3072,
        "hidden_act": "gelu",
        "max_position_embeddings": 514,
        "type_vocab_size": 1,
        "layer_norm_eps": 1e-5,
        "projection_dim": 512,
        "projection_hidden_act": "relu",
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
    },
}

#: ``ClapFeatureExtractor`` settings of laion-clap's HTSAT front end (``HTSAT-base.json``: 48 kHz, 1024-point
#: periodic Hann STFT, hop 480, 64 Slaney mel bands from 50 Hz to 14 kHz, 10 log10 power without top_db;
#: 10 s clips, longer ones cut, shorter ones repeated then zero-padded, as with ``enable_fusion=False``)
MUSIC_FEATURE_EXTRACTOR: dict[str, Any] = {
    "feature_size": 64,
    "sampling_rate": 48000,
    "hop_length": 480,
    "max_length_s": 10,
    "fft_window_size": 1024,
    "frequency_min": 50,
    "frequency_max": 14000,
    "top_db": None,
    "truncation": "rand_trunc",
    "padding": "repeatpad",
}

_BLOCK = r"layers\.(\d+)\.blocks\.(\d+)\."
_ENC = "audio_model.audio_encoder."

#: laion-clap audio_branch key (after ``audio_branch.``) -> ClapModel key; ``{qkv}`` is split three ways
_AUDIO_RULES: tuple[tuple[str, str], ...] = (
    (r"bn0\.(.+)", _ENC + r"batch_norm.\1"),
    (r"patch_embed\.(.+)", _ENC + r"patch_embed.\1"),
    (_BLOCK + r"norm1\.(.+)", _ENC + r"layers.\1.blocks.\2.layernorm_before.\3"),
    (_BLOCK + r"norm2\.(.+)", _ENC + r"layers.\1.blocks.\2.layernorm_after.\3"),
    (_BLOCK + r"attn\.relative_position_bias_table", _ENC + r"layers.\1.blocks.\2.attention.self.relative_position_bias_table"),
    (_BLOCK + r"attn\.qkv\.(weight|bias)", _ENC + r"layers.\1.blocks.\2.attention.self.{qkv}.\3"),
    (_BLOCK + r"attn\.proj\.(.+)", _ENC + r"layers.\1.blocks.\2.attention.output.dense.\3"),
    (_BLOCK + r"mlp\.fc1\.(.+)", _ENC + r"layers.\1.blocks.\2.intermediate.dense.\3"),
    (_BLOCK + r"mlp\.fc2\.(.+)", _ENC + r"layers.\1.blocks.\2.output.dense.\3"),
    (r"layers\.(\d+)\.downsample\.(reduction|norm)\.(.+)", _ENC + r"layers.\1.downsample.\2.\3"),
    (r"norm\.(weight|bias)", _ENC + r"norm.\1"),
)

#: top-level laion-clap keys -> ClapModel keys
_TOP_RULES: tuple[tuple[str, str], ...] = (
    (r"text_branch\.(.+)", r"text_model.\1"),
    (r"(text|audio)_projection\.0\.(weight|bias)", r"\1_projection.linear1.\2"),
    (r"(text|audio)_projection\.2\.(weight|bias)", r"\1_projection.linear2.\2"),
    (r"logit_scale_(a|t)", r"logit_scale_\1"),
)

#: laion-clap keys that have no ClapModel weight, and why
DROPPED: dict[str, str] = {
    r"audio_branch\.(spectrogram_extractor|logmel_extractor)\..+": "STFT / mel front end (ClapFeatureExtractor computes it)",
    r"audio_branch\.(tscam_conv|head)\..+": "AudioSet classification head (not used by the embedding)",
    r"audio_branch\..*attn\.relative_position_index": "index buffer (recomputed from the window size)",
    r"audio_branch\..*attn_mask": "shifted-window mask buffer (recomputed)",
    r"text_branch\.embeddings\.(position_ids|token_type_ids)": "index buffer (recomputed)",
    r"(text|audio)_transform\..+": "training-only MLP (not used by the embedding)",
}

#: ClapModel buffers the converted model keeps from its own construction
_RECOMPUTED = re.compile(r".*(relative_position_index|embeddings\.position_ids|embeddings\.token_type_ids)$")

HOW_TOKENIZER = (
    "Pass --tokenizer with a folder holding roberta-base's tokenizer files (vocab.json and merges.txt, "
    "or tokenizer.json), or a hub id in the local Hugging Face cache (e.g. `huggingface-cli download "
    f"{DEFAULT_TOKENIZER} vocab.json merges.txt tokenizer.json tokenizer_config.json` where there is network)."
)


def _checkpoint_path(checkpoint: str | os.PathLike) -> Path:
    path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise MissingCheckpointError(
            f"LAION-CLAP checkpoint not found at '{path}'. Download {MUSIC_CHECKPOINT} "
            "(the laion-clap release on the Hugging Face hub, lukewys/laion_clap) and pass its path."
        )
    return path


def load_laion_state_dict(checkpoint: str | os.PathLike, *, trust_checkpoint: bool = False) -> dict[str, torch.Tensor]:
    """The model weights of a laion-clap ``.pt`` file: its ``state_dict`` (optimizer state dropped),
    without the ``module.`` prefix of distributed training.

    The file is read with ``torch.load(weights_only=True)``; ``trust_checkpoint=True`` allows full
    unpickling, for files that hold other Python objects (only for files from a trusted source).
    """
    path = _checkpoint_path(checkpoint)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=not trust_checkpoint)
    except pickle.UnpicklingError as err:
        raise TadaError(
            f"'{path}' holds objects torch.load(weights_only=True) refuses ({str(err).splitlines()[0]}). "
            "If the file comes from a source you trust, convert with trust_checkpoint=True (--trust-checkpoint)."
        ) from err
    state = raw.get("state_dict", raw) if isinstance(raw, Mapping) else None
    if not isinstance(state, Mapping) or not state or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise TadaError(f"'{path}' is not a LAION-CLAP checkpoint: expected a state dict of tensors (or {{'state_dict': ...}}).")
    return {k.removeprefix("module."): v for k, v in state.items()}


def _apply(rules: Sequence[tuple[str, str]], key: str) -> str | None:
    for pattern, target in rules:
        if re.fullmatch(pattern, key):
            return re.sub(pattern, target, key)
    return None


def rename_laion_state_dict(state: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Map a laion-clap (HTSAT audio, RoBERTa text) state dict to ``ClapModel`` keys.

    Returns the mapped state dict and the laion keys dropped on purpose (:data:`DROPPED`). A key that
    is neither mapped nor dropped raises :class:`TadaError` (another text branch, a PANN audio branch...).
    """
    out: dict[str, torch.Tensor] = {}
    dropped, unknown = [], []
    for key, value in state.items():
        if any(re.fullmatch(p, key) for p in DROPPED):
            dropped.append(key)
            continue
        target = _apply(_AUDIO_RULES, key.removeprefix("audio_branch.")) if key.startswith("audio_branch.") else None
        target = target or _apply(_TOP_RULES, key)
        if target is None:
            unknown.append(key)
        elif "{qkv}" in target:
            if value.shape[0] % 3:
                raise TadaError(f"'{key}' of shape {tuple(value.shape)} does not split into query, key and value")
            for name, part in zip(("query", "key", "value"), value.chunk(3, dim=0), strict=True):
                out[target.format(qkv=name)] = part.clone()
        else:
            out[target] = value
    if unknown:
        shown = ", ".join(unknown[:8]) + (f", ... ({len(unknown)} in all)" if len(unknown) > 8 else "")
        raise TadaError(
            f"not a LAION-CLAP HTSAT/RoBERTa checkpoint: no ClapModel place for {shown}. "
            "Only laion-clap's HTSAT audio branch with the RoBERTa text branch (tmodel='roberta') converts."
        )
    return out, dropped


def _merge(base: Mapping[str, Any], override: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = json.loads(json.dumps(base))
    for key, value in (override or {}).items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def load_roberta_tokenizer(tokenizer: str | os.PathLike = DEFAULT_TOKENIZER) -> Any:
    """RoBERTa's BPE tokenizer from a folder or hub id, cut at laion-clap's 77 tokens.

    A folder must hold ``vocab.json`` and ``merges.txt`` (or ``tokenizer.json``); a hub id must be in
    the local cache when ``HF_HUB_OFFLINE=1``. Anything missing raises :class:`MissingCheckpointError`
    naming the files.
    """
    from transformers import RobertaTokenizer

    from tada.resources import resolve_checkpoint

    source = str(tokenizer)
    what = "RoBERTa tokenizer (roberta-base's vocab.json and merges.txt, which laion-clap's text encoder uses)"
    path = resolve_checkpoint(source, what=what, how=HOW_TOKENIZER)
    folder = Path(path)
    if folder.is_dir():
        files = {p.name for p in folder.iterdir()}
        if "tokenizer.json" not in files and not {"vocab.json", "merges.txt"} <= files:
            missing = sorted({"vocab.json", "merges.txt"} - files)
            raise MissingCheckpointError(
                f"{what}: '{source}' lacks {' and '.join(missing)} (and has no tokenizer.json). {HOW_TOKENIZER}"
            )
    try:
        tok = RobertaTokenizer.from_pretrained(path)
    except OSError as err:  # a hub id that cannot be fetched
        raise MissingCheckpointError(f"{what} could not be loaded from '{source}': {err}. {HOW_TOKENIZER}") from err
    tok.model_max_length = TEXT_MAX_LENGTH
    return tok


@torch.no_grad()
def convert_laion_clap(
    checkpoint: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    tokenizer: str | os.PathLike = DEFAULT_TOKENIZER,
    config: Mapping[str, Any] | None = None,
    feature_extractor: Mapping[str, Any] | None = None,
    trust_checkpoint: bool = False,
) -> Path:
    """Convert a laion-clap checkpoint (by default shaped as the paper's music CLAP) into ``out_dir``.

    ``out_dir`` receives ``config.json`` and ``model.safetensors`` (``ClapModel``), the feature
    extractor's and tokenizer's files (``ClapProcessor``) and ``conversion.json`` (source, dropped keys),
    so that ``ClapScorer.from_pretrained(out_dir)`` loads it. ``config`` and ``feature_extractor``
    override entries of :data:`MUSIC_CONFIG` and :data:`MUSIC_FEATURE_EXTRACTOR` (nested dicts are
    merged), for checkpoints of other shapes. A missing checkpoint or tokenizer fails before anything is read.
    """
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor

    _checkpoint_path(checkpoint)
    tok = load_roberta_tokenizer(tokenizer)
    state, dropped = rename_laion_state_dict(load_laion_state_dict(checkpoint, trust_checkpoint=trust_checkpoint))

    clap_config = ClapConfig(**_merge(MUSIC_CONFIG, config))
    model = ClapModel(clap_config).eval()
    expected = model.state_dict()
    mismatched = [
        f"{k}: checkpoint {tuple(v.shape)} vs config {tuple(expected[k].shape)}"
        for k, v in state.items()
        if k in expected and expected[k].shape != v.shape
    ]
    extra = sorted(set(state) - set(expected))
    missing = sorted(k for k in set(expected) - set(state) if not _RECOMPUTED.match(k))
    if mismatched or extra or missing:
        problems = [*mismatched[:5], *(f"no place for {k}" for k in extra[:5]), *(f"missing {k}" for k in missing[:5])]
        raise TadaError(
            f"'{checkpoint}' does not match the ClapModel config ({'; '.join(problems)}"
            f"{'; ...' if len(mismatched) + len(extra) + len(missing) > len(problems) else ''}). "
            "The default config is the HTSAT-base music checkpoint's (MUSIC_CONFIG); pass config= for another shape."
        )
    model.load_state_dict(state, strict=False)

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    extractor = ClapFeatureExtractor(**_merge(MUSIC_FEATURE_EXTRACTOR, feature_extractor))
    ClapProcessor(feature_extractor=extractor, tokenizer=tok).save_pretrained(out)
    (out / "conversion.json").write_text(
        json.dumps(
            {"source": Path(checkpoint).name, "tokenizer": str(tokenizer), "converted_keys": len(state), "dropped_keys": dropped},
            indent=1,
        )
    )
    return out


def main_convert_clap(argv: list[str] | None = None, *, log: Callable[[str], None] = print) -> int:
    """``tada convert-clap CHECKPOINT --out FOLDER [--tokenizer FOLDER_OR_HUB_ID] [--config JSON]``; returns the
    exit code (0, or 1 after printing the error)."""
    parser = argparse.ArgumentParser(
        prog="tada convert-clap",
        description=f"Convert a LAION-CLAP checkpoint (the paper's {MUSIC_CHECKPOINT}) to a transformers ClapModel folder.",
    )
    parser.add_argument("checkpoint", help="the laion-clap .pt file")
    parser.add_argument("--out", required=True, help="output folder (loadable by ClapScorer.from_pretrained)")
    parser.add_argument(
        "--tokenizer", default=DEFAULT_TOKENIZER, help=f"roberta-base tokenizer folder or hub id (default {DEFAULT_TOKENIZER})"
    )
    parser.add_argument(
        "--config", help="JSON file of ClapConfig entries overriding MUSIC_CONFIG, for checkpoints of other shapes"
    )
    parser.add_argument("--trust-checkpoint", action="store_true", help="allow full unpickling of the .pt file")
    args = parser.parse_args(argv)
    try:
        config = json.loads(Path(args.config).read_text()) if args.config else None
        out = convert_laion_clap(
            args.checkpoint, args.out, tokenizer=args.tokenizer, config=config, trust_checkpoint=args.trust_checkpoint
        )
    except (TadaError, OSError, json.JSONDecodeError) as err:
        log(f"error: {err}")
        return 1
    log(f"wrote {out} (load it with ClapScorer.from_pretrained('{out}'))")
    return 0
