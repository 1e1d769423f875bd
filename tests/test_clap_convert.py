"""LAION-CLAP -> transformers ClapModel conversion, on a tiny random checkpoint in laion-clap's key layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from transformers import (
    ClapConfig,
    ClapFeatureExtractor,
    ClapModel,
    ClapProcessor,
    RobertaConfig,
    RobertaModel,
    RobertaTokenizer,
)

from tada.errors import MissingCheckpointError, TadaError
from tada.scoring import clap_convert
from tada.scoring.clap import ClapScorer
from tada.scoring.clap_convert import (
    MUSIC_CONFIG,
    MUSIC_FEATURE_EXTRACTOR,
    convert_laion_clap,
    main_convert_clap,
    rename_laion_state_dict,
)

SR = 16000
TEXT = {"vocab_size": 40, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
        "intermediate_size": 32, "max_position_embeddings": 64, "projection_dim": 16}  # fmt: skip
#: four stages (8, 16, 32, 64 channels); two blocks in the first stages, so shifted windows are converted too
AUDIO = {"patch_embeds_hidden_size": 8, "depths": [2, 2, 1, 1], "num_attention_heads": [1, 2, 2, 2],
         "hidden_size": 64, "projection_dim": 16}  # fmt: skip
TINY = {"projection_dim": 16, "text_config": TEXT, "audio_config": AUDIO}
EXTRACTOR = {"max_length_s": 2}  # 2 s inputs keep the test fast


def tone(freq: float, seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    noise = np.random.default_rng(seed).normal(0, 0.05, t.size)
    return (0.5 * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tokens = ["<s>", "<pad>", "</s>", "<unk>", "<mask>", *"abcdefghijklmnopqrstuvwxyz", "Ġ"]
    path = tmp_path_factory.mktemp("roberta")
    RobertaTokenizer(vocab={t: i for i, t in enumerate(tokens)}, merges=[]).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def reference() -> ClapModel:
    """A tiny ClapModel with every weight and norm statistic random (no two layer norms alike)."""
    torch.manual_seed(0)
    config = clap_convert._merge(MUSIC_CONFIG, TINY)
    model = ClapModel(ClapConfig(**config)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
        for name, buf in model.named_buffers():
            if name.endswith("running_mean"):
                buf.normal_()
            elif name.endswith("running_var"):
                buf.uniform_(0.5, 2.0)
    return model


def laion_layout(model: ClapModel) -> dict[str, torch.Tensor]:
    """The state dict laion-clap's ``CLAP`` (HTSAT audio branch, RoBERTa text branch) would hold for
    ``model``: written module by module from laion-clap's names, with the extra keys it also saves."""
    enc, g = model.audio_model.audio_encoder, torch.Generator().manual_seed(1)
    state: dict[str, torch.Tensor] = {}

    def put(prefix: str, module: torch.nn.Module) -> None:
        for k, v in module.state_dict().items():
            state[f"{prefix}.{k}"] = v.clone()

    put("audio_branch.bn0", enc.batch_norm)
    put("audio_branch.patch_embed.proj", enc.patch_embed.proj)
    put("audio_branch.patch_embed.norm", enc.patch_embed.norm)
    for i, stage in enumerate(enc.layers):
        for j, block in enumerate(stage.blocks):
            p, att = f"audio_branch.layers.{i}.blocks.{j}", block.attention.self
            put(f"{p}.norm1", block.layernorm_before)
            put(f"{p}.norm2", block.layernorm_after)
            state[f"{p}.attn.qkv.weight"] = torch.cat([att.query.weight, att.key.weight, att.value.weight]).clone()
            state[f"{p}.attn.qkv.bias"] = torch.cat([att.query.bias, att.key.bias, att.value.bias]).clone()
            state[f"{p}.attn.relative_position_bias_table"] = att.relative_position_bias_table.clone()
            state[f"{p}.attn.relative_position_index"] = att.relative_position_index.clone()
            put(f"{p}.attn.proj", block.attention.output.dense)
            put(f"{p}.mlp.fc1", block.intermediate.dense)
            put(f"{p}.mlp.fc2", block.output.dense)
            if j % 2:
                state[f"{p}.attn_mask"] = torch.zeros(4, 64, 64)
        if stage.downsample is not None:
            put(f"audio_branch.layers.{i}.downsample.reduction", stage.downsample.reduction)
            put(f"audio_branch.layers.{i}.downsample.norm", stage.downsample.norm)
    put("audio_branch.norm", enc.norm)
    # torchlibrosa's STFT / mel front end and the AudioSet head: saved by laion-clap, not used by the embedding
    state["audio_branch.spectrogram_extractor.stft.conv_real.weight"] = torch.randn(513, 1, 1024, generator=g)
    state["audio_branch.spectrogram_extractor.stft.conv_imag.weight"] = torch.randn(513, 1, 1024, generator=g)
    state["audio_branch.logmel_extractor.melW"] = torch.randn(513, 64, generator=g)
    state["audio_branch.tscam_conv.weight"] = torch.randn(527, 64, 2, 3, generator=g)
    state["audio_branch.tscam_conv.bias"] = torch.randn(527, generator=g)
    state["audio_branch.head.weight"] = torch.randn(527, 527, generator=g)
    state["audio_branch.head.bias"] = torch.randn(527, generator=g)
    # the text branch is a transformers RobertaModel
    for k, v in model.text_model.state_dict().items():
        if not k.endswith("token_type_ids"):
            state[f"text_branch.{k}"] = v.clone()
    for side in ("text", "audio"):
        proj = getattr(model, f"{side}_projection")
        put(f"{side}_projection.0", proj.linear1)
        put(f"{side}_projection.2", proj.linear2)
        for n in (0, 3):  # MLPLayers(units=[512, 512, 512]).sequential: Linear, ReLU, Dropout, Linear, ...
            state[f"{side}_transform.sequential.{n}.weight"] = torch.randn(16, 16, generator=g)
            state[f"{side}_transform.sequential.{n}.bias"] = torch.randn(16, generator=g)
    state["logit_scale_a"] = model.logit_scale_a.detach().clone()
    state["logit_scale_t"] = model.logit_scale_t.detach().clone()
    return state


@pytest.fixture(scope="module")
def laion_checkpoint(reference: ClapModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference's weights saved as laion-clap's training saves them (DDP ``module.`` prefix, optimizer)."""
    path = tmp_path_factory.mktemp("laion") / "tiny_music.pt"
    state = {f"module.{k}": v for k, v in laion_layout(reference).items()}
    torch.save({"epoch": 15, "name": "tiny", "state_dict": state, "optimizer": {"state": {}, "param_groups": []}}, path)
    return path


@pytest.fixture(scope="module")
def converted(laion_checkpoint: Path, tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("converted")
    return convert_laion_clap(laion_checkpoint, out, tokenizer=tokenizer_dir, config=TINY, feature_extractor=EXTRACTOR)


def test_converted_model_embeds_like_the_model_it_came_from(
    converted: Path, reference: ClapModel, tokenizer_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    scorer = ClapScorer.from_pretrained(str(converted))
    extractor = ClapFeatureExtractor(**clap_convert._merge(MUSIC_FEATURE_EXTRACTOR, EXTRACTOR))
    expected = ClapScorer(reference, ClapProcessor(feature_extractor=extractor, tokenizer=scorer.processor.tokenizer))
    waves = np.stack([tone(220), tone(660, seed=1)])
    texts = ["a violin solo", "fast drums"]
    torch.testing.assert_close(scorer.embed_audio(waves, SR), expected.embed_audio(waves, SR), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(scorer.embed_text(texts), expected.embed_text(texts), atol=1e-5, rtol=1e-5)
    for got, want in zip(scorer.audio_stages(waves, SR), expected.audio_stages(waves, SR), strict=True):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    # the laion settings travel with the folder: 50 Hz-14 kHz Slaney mels, cut (not fused), 77 text tokens
    fe = scorer.processor.feature_extractor
    assert (fe.frequency_min, fe.frequency_max, fe.truncation, fe.sampling_rate) == (50, 14000, "rand_trunc", 48000)
    assert scorer.processor.tokenizer.model_max_length == 77
    assert scorer.model.config.text_config.layer_norm_eps == 1e-5


def test_text_embedding_matches_robertamodel_with_the_laion_tensors(converted: Path, laion_checkpoint: Path) -> None:
    """laion-clap's text side, recomputed without ClapModel: RobertaModel(text_branch) -> pooler -> MLP -> normalize."""
    laion = {k.removeprefix("module."): v for k, v in torch.load(laion_checkpoint)["state_dict"].items()}
    text = {k: v for k, v in TEXT.items() if k != "projection_dim"}
    roberta = RobertaModel(RobertaConfig(**text, type_vocab_size=1, pad_token_id=1, layer_norm_eps=1e-5))
    branch = {k.removeprefix("text_branch."): v for k, v in laion.items() if k.startswith("text_branch.")}
    missing, unexpected = roberta.load_state_dict(branch, strict=False)
    assert all(k.endswith(("position_ids", "token_type_ids")) for k in [*missing, *unexpected])  # index buffers
    scorer = ClapScorer.from_pretrained(str(converted))
    texts = ["a violin solo", "fast drums and a very long description of a song"]
    tokens = scorer.processor.tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
    with torch.no_grad():
        pooled = roberta.eval()(**tokens).pooler_output
        hidden = F.relu(F.linear(pooled, laion["text_projection.0.weight"], laion["text_projection.0.bias"]))
        want = F.normalize(F.linear(hidden, laion["text_projection.2.weight"], laion["text_projection.2.bias"]), dim=-1)
    torch.testing.assert_close(scorer.embed_text(texts), want, atol=1e-5, rtol=1e-5)


def test_laion_keys_land_in_their_places(converted: Path, laion_checkpoint: Path) -> None:
    laion = {k.removeprefix("module."): v for k, v in torch.load(laion_checkpoint)["state_dict"].items()}
    hf = load_file(str(converted / "model.safetensors"))
    torch.testing.assert_close(hf["text_projection.linear1.weight"], laion["text_projection.0.weight"], rtol=0, atol=0)
    torch.testing.assert_close(hf["audio_projection.linear2.bias"], laion["audio_projection.2.bias"], rtol=0, atol=0)
    qkv = laion["audio_branch.layers.1.blocks.1.attn.qkv.weight"]  # stage 1: 16 channels
    for n, part in enumerate(("query", "key", "value")):
        got = hf[f"audio_model.audio_encoder.layers.1.blocks.1.attention.self.{part}.weight"]
        torch.testing.assert_close(got, qkv[16 * n : 16 * (n + 1)], rtol=0, atol=0)
    pairs = {
        "audio_model.audio_encoder.batch_norm.running_var": "audio_branch.bn0.running_var",
        "audio_model.audio_encoder.layers.0.blocks.1.layernorm_after.weight": "audio_branch.layers.0.blocks.1.norm2.weight",
        "audio_model.audio_encoder.layers.0.blocks.0.attention.output.dense.weight": "audio_branch.layers.0.blocks.0.attn.proj.weight",
        "audio_model.audio_encoder.layers.2.blocks.0.output.dense.bias": "audio_branch.layers.2.blocks.0.mlp.fc2.bias",
        "audio_model.audio_encoder.layers.2.downsample.reduction.weight": "audio_branch.layers.2.downsample.reduction.weight",
        "text_model.encoder.layer.1.attention.self.value.weight": "text_branch.encoder.layer.1.attention.self.value.weight",
        "logit_scale_t": "logit_scale_t",
    }
    for hf_key, laion_key in pairs.items():
        torch.testing.assert_close(hf[hf_key], laion[laion_key], rtol=0, atol=0)
    dropped = json.loads((converted / "conversion.json").read_text())["dropped_keys"]
    assert "audio_branch.logmel_extractor.melW" in dropped and "text_transform.sequential.0.weight" in dropped
    assert "audio_branch.layers.0.blocks.1.attn_mask" in dropped and not any("qkv" in k for k in dropped)


def test_music_config_is_htsat_base_with_roberta_base() -> None:
    with torch.device("meta"):
        model = ClapModel(ClapConfig(**MUSIC_CONFIG))
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    enc = "audio_model.audio_encoder."
    assert shapes[enc + "patch_embed.proj.weight"] == (128, 1, 4, 4)  # HTSAT-base: embed_dim 128, patch 4
    assert [len(stage.blocks) for stage in model.audio_model.audio_encoder.layers] == [2, 2, 12, 2]
    assert shapes[enc + "layers.3.blocks.0.attention.self.relative_position_bias_table"] == (15 * 15, 32)
    assert shapes["audio_projection.linear1.weight"] == (512, 1024)
    assert shapes["text_model.embeddings.word_embeddings.weight"] == (50265, 768)
    assert shapes["text_projection.linear1.weight"] == (512, 768)
    assert not model.config.audio_config.enable_fusion


def test_unknown_and_mismatched_checkpoints_raise_one_clear_error(
    laion_checkpoint: Path, tokenizer_dir: Path, tmp_path: Path
) -> None:
    state = {k.removeprefix("module."): v for k, v in torch.load(laion_checkpoint)["state_dict"].items()}
    with pytest.raises(TadaError, match=r"no ClapModel place for text_branch_type\.x"):
        rename_laion_state_dict({**state, "text_branch_type.x": torch.zeros(1)})
    wrong = {**TINY, "text_config": {**TEXT, "hidden_size": 32}}
    with pytest.raises(TadaError, match=r"does not match the ClapModel config.*word_embeddings.*\(40, 16\) vs config \(40, 32\)"):
        convert_laion_clap(laion_checkpoint, tmp_path / "out", tokenizer=tokenizer_dir, config=wrong)
    with pytest.raises(MissingCheckpointError, match="LAION-CLAP checkpoint not found"):
        convert_laion_clap(tmp_path / "missing.pt", tmp_path / "out", tokenizer=tokenizer_dir)
    assert not (tmp_path / "out").exists()


def test_missing_tokenizer_files_are_named(
    laion_checkpoint: Path, tokenizer_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    partial = tmp_path / "roberta"
    partial.mkdir()
    (partial / "vocab.json").write_text("{}")
    with pytest.raises(MissingCheckpointError, match=r"lacks merges\.txt.*--tokenizer"):
        convert_laion_clap(laion_checkpoint, tmp_path / "out", tokenizer=partial, config=TINY)
    with pytest.raises(MissingCheckpointError, match=r"RoBERTa tokenizer.*vocab\.json and merges\.txt.*not in the local"):
        convert_laion_clap(laion_checkpoint, tmp_path / "out", tokenizer="tada-tests/no-such-roberta", config=TINY)


def test_cli(laion_checkpoint: Path, tokenizer_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY))
    lines: list[str] = []
    args = [str(laion_checkpoint), "--out", str(tmp_path / "out"), "--tokenizer", str(tokenizer_dir)]
    assert main_convert_clap([*args, "--config", str(config)], log=lines.append) == 0
    assert (tmp_path / "out" / "model.safetensors").exists() and "wrote" in lines[-1]
    assert main_convert_clap([str(tmp_path / "none.pt"), "--out", str(tmp_path / "o2")], log=lines.append) == 1
    assert lines[-1].startswith("error: LAION-CLAP checkpoint not found")
    assert main_convert_clap([*args[:3], "--tokenizer", str(tmp_path)], log=lines.append) == 1
    assert "lacks merges.txt and vocab.json" in lines[-1]
