"""SAE steering: TopK sparse autoencoders on cross-attention outputs, features scored per step for a concept.

Three artifacts, each ``save_pretrained`` / ``from_pretrained`` / ``push_to_hub``:

* :class:`ActivationCache` - the conditional-pass outputs of the target sites for a prompt set, at every
  ``every``-th sampling step (the reference: MusicCaps captions, every 6th of 30 steps);
* :class:`SiteSAEs` - one TopK SAE per site (``expansion * width`` latents, ``k`` active, unit-norm
  decoder rows, ``b_dec`` initialised at the geometric median, loss FVU, Adam with warm-up and linear
  decay; the reference's AuxK term is left out), with its fraction of variance unexplained and its dead
  latents (never active on the cache);
* :class:`SAE` - the steering controller: per step ``t`` the scores ``tfidf = mp ln(1 + 1/(mn + 1e-6))``,
  ``diff = mp - mn`` and ``mean_pos = mp`` of every latent (``mp``, ``mn``: mean ReLU pre-activation
  over the positive / negative prompts' positions) and the decoder; on the conditional pass of step
  ``t``, ``h += alpha * sum(W_dec[i] for the top_k latents of step t)``, each position renormalised.
  ``top_k`` is per site (an int for all); ``weighting="difference"`` (not the reference's; AUSteer's
  option of that name does the same) multiplies each row by its latent's ``diff`` at that step, so a
  site the concept barely moves is barely pushed. Strength schedules and the random control come with
  :class:`~tada.steering.schedules.ActivationController`.

The reference steers with SAEs at its localized sites only (the protocol's ``sae_loc`` cell); ``compute``
defaults to every site (cheap on mini), so any subset can load the artifact.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.hooks import RemovableHandle
from tqdm import tqdm

from tada.errors import ConfigError, check_choice
from tada.interventions import Edit, HookContext, main_tensor
from tada.models.base import GenerationConfig, ModelAdapter
from tada.sites import Site
from tada.steering.concepts import Concept
from tada.steering.controller import (
    ARTIFACT_CONFIG,
    artifact_folder,
    computed_on,
    generation_settings,
    package_version,
    push_folder,
)
from tada.steering.schedules import ActivationController

SCORES: tuple[str, ...] = ("tfidf", "diff", "mean_pos")
#: how the top latents' decoder rows are summed: unit rows (the reference), or each times its latent's ``diff``
WEIGHTINGS: tuple[str, ...] = ("unit", "difference")
#: the reference's "holdout-optimal" top-k per concept at its SAE sites on ACE-Step (STEERING.md)
REFERENCE_TOP_K: dict[str, dict[str, int]] = {
    concept: {"tf6": tf6, "tf7": tf7}
    for concept, (tf6, tf7) in {
        "piano": (5, 20),
        "mood": (500, 10),
        "tempo": (20, 10),
        "vocal_gender": (100, 5),
        "vocal_style": (20, 20),
        "guitar_electronic": (5, 50),
        "violin": (20, 50),
        "rock_genre": (50, 20),
        "electronic_music": (100, 10),
    }.items()
}


def resolve_sites(adapter: ModelAdapter, target_layers: str | Sequence[str]) -> list[Site]:
    registry = adapter.registry()
    if isinstance(target_layers, str):
        return registry.resolve(target_layers)
    return [s for name in target_layers for s in registry.resolve(name)]


class _Artifact:
    """Tensors + ``config.json`` of one kind, in a folder or on the Hub."""

    kind: ClassVar[str]
    tensors_file: ClassVar[str] = "tensors.safetensors"

    def __init__(self, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self.tensors, self.meta = tensors, meta

    def save_pretrained(self, path: str | Path) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.tensors.items()}, str(path / self.tensors_file))
        meta = {**self.meta, "kind": self.kind, "tada_version": package_version()}
        (path / ARTIFACT_CONFIG).write_text(json.dumps(meta, indent=1))

    @classmethod
    def from_pretrained(cls, path_or_id: str | Path) -> Any:
        folder = artifact_folder(path_or_id)
        meta = json.loads((folder / ARTIFACT_CONFIG).read_text())
        if meta.get("kind") != cls.kind:
            raise ConfigError(f"{folder} holds a '{meta.get('kind') or meta.get('method')}' artifact, not '{cls.kind}'")
        return cls(load_file(str(folder / cls.tensors_file)), meta)

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> str:
        return push_folder(self.save_pretrained, repo_id, **kwargs)

    def check_model(self, adapter: ModelAdapter, sites: Sequence[Site]) -> None:
        """Raise unless this artifact was made on ``adapter``'s architecture and covers ``sites`` at their widths."""
        what = f"this {self.kind} artifact"
        if self.meta["arch"] != adapter.arch:
            raise ConfigError(f"{what} was made on '{self.meta['arch']}', not '{adapter.arch}'")
        missing = [s.name for s in sites if s.name not in self.meta["sites"]]
        if missing:
            raise ConfigError(f"{what} covers sites {self.meta['sites']}, not {missing}")
        for s in sites:
            if adapter.site_width(s) != self.meta["widths"][s.name]:
                raise ConfigError(
                    f"site {s.name} has width {adapter.site_width(s)} on this model; {what}'s is {self.meta['widths'][s.name]}"
                )


@dataclass
class _CollectRows(Edit):
    """Keep the conditional rows of a site's output (flattened to vectors) at the chosen steps."""

    steps: set[int]
    rows: list[torch.Tensor] = field(default_factory=list)

    def attach(self, module: nn.Module, site: Site, ctx: HookContext) -> list[RemovableHandle]:
        def hook(_mod: nn.Module, _args: tuple, output: Any) -> None:
            if ctx.clock.extra or ctx.clock.step not in self.steps:
                return
            h = main_tensor(output).detach()
            rows = ctx.clock.passes(h.shape[0]).get("cond")
            if rows is not None:
                self.rows.append(h[rows].reshape(-1, h.shape[-1]).float().cpu())

        return [module.register_forward_hook(hook)]


class ActivationCache(_Artifact):
    """Conditional-pass outputs of the target sites, ``[vectors, width]`` per site."""

    kind = "sae_cache"

    @classmethod
    def collect(
        cls,
        adapter: ModelAdapter,
        prompts: Sequence[str],
        target_layers: str | Sequence[str] = "all",
        every: int = 6,
        seed: int = 42,
        config: GenerationConfig | None = None,
        batch_size: int = 16,
        progress: bool = True,
    ) -> ActivationCache:
        """Generate ``prompts`` (prompt ``i`` with seed ``seed + i``) and keep every ``every``-th step."""
        config = config or adapter.generation_config("steering")
        sites = resolve_sites(adapter, target_layers)
        if not sites or not prompts or every < 1:
            raise ConfigError(f"an activation cache needs sites, prompts and every >= 1; got {len(sites)}, {len(prompts)}, {every}")
        steps = list(range(0, config.steps, every))
        edits = {s: _CollectRows(set(steps)) for s in sites}
        for start in tqdm(range(0, len(prompts), batch_size), desc="sae cache", disable=not progress):
            batch = list(prompts[start : start + batch_size])
            with adapter.intervene(edits):
                adapter.sample(batch, [seed + start + i for i in range(len(batch))], config)
        meta = {
            "arch": adapter.arch,
            "sites": [s.name for s in sites],
            "widths": {s.name: adapter.site_width(s) for s in sites},
            "steps_sampled": steps,
            "every": every,
            "seed": seed,
            "generation": generation_settings(config),
            "prompts": list(prompts),
            "vectors": {s.name: sum(len(r) for r in edits[s].rows) for s in sites},
        }
        return cls({s.name: torch.cat(edits[s].rows) for s in sites}, meta)


class TopKSAE(nn.Module):
    """``z = TopK(ReLU(W_enc (x - b_dec) + b_enc))``, ``x_hat = z W_dec + b_dec``."""

    def __init__(self, width: int, latents: int, k: int) -> None:
        super().__init__()
        if not 0 < k <= latents:
            raise ConfigError(f"a TopK SAE needs 0 < k <= latents; got k={k}, latents={latents}")
        self.k = k
        decoder = nn.functional.normalize(torch.randn(latents, width), dim=-1)
        self.W_dec = nn.Parameter(decoder)
        self.W_enc = nn.Parameter(decoder.clone())
        self.b_enc = nn.Parameter(torch.zeros(latents))
        self.b_dec = nn.Parameter(torch.zeros(width))

    def pre(self, x: torch.Tensor) -> torch.Tensor:
        """ReLU of the encoder pre-activations (no TopK: the scores' feature activations)."""
        return torch.relu((x - self.b_dec) @ self.W_enc.T + self.b_enc)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        acts = self.pre(x)
        top = acts.topk(self.k, dim=-1)
        return torch.zeros_like(acts).scatter(-1, top.indices, top.values)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encode(x)
        return z @ self.W_dec + self.b_dec, z


def fvu(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """Fraction of variance unexplained: ``|x - x_hat|^2 / |x - mean(x)|^2``."""
    return (x - x_hat).pow(2).sum() / (x - x.mean(0)).pow(2).sum().clamp_min(1e-12)


def geometric_median(x: torch.Tensor, iterations: int = 30) -> torch.Tensor:
    """Weiszfeld's iteration from the mean."""
    median = x.mean(0)
    for _ in range(iterations):
        weights = 1 / (x - median).norm(dim=-1).clamp_min(1e-8)
        median = (weights[:, None] * x).sum(0) / weights.sum()
    return median


def train_topk_sae(
    x: torch.Tensor,
    expansion: int,
    k: int,
    learning_rate: float,
    epochs: int,
    batch_size: int,
    warmup: int = 1000,
    seed: int = 0,
    desc: str = "sae",
    progress: bool = True,
) -> tuple[TopKSAE, dict[str, Any]]:
    """Train one SAE on ``x`` ``[vectors, width]``; returns it and its report (FVU, dead latents, loss curve)."""
    torch.manual_seed(seed)
    width = x.shape[1]
    sae = TopKSAE(width, expansion * width, k)
    with torch.no_grad():
        sae.b_dec.copy_(geometric_median(x[torch.randperm(len(x))[:4096]]))
    optimizer = torch.optim.Adam(sae.parameters(), lr=learning_rate)
    total = epochs * math.ceil(len(x) / batch_size)
    warmup = min(warmup, total // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda i: min((i + 1) / max(warmup, 1), max(total - i, 1) / max(total - warmup, 1))
    )
    curve = []
    bar = tqdm(range(epochs), desc=desc, disable=not progress)
    for _ in bar:
        losses = []
        for batch in x[torch.randperm(len(x))].split(batch_size):
            loss = fvu(batch, sae(batch)[0])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            with torch.no_grad():
                sae.W_dec.copy_(nn.functional.normalize(sae.W_dec, dim=-1))
            losses.append(loss.item())
        curve.append(round(sum(losses) / len(losses), 6))
        bar.set_postfix(loss=f"{curve[-1]:.4f}")
    with torch.no_grad():
        x_hat, z = sae(x)
        report = {"fvu": float(fvu(x, x_hat)), "dead": int((~(z > 0).any(0)).sum()), "loss": curve}
    return sae.eval(), report


class SiteSAEs(_Artifact):
    """One trained TopK SAE per site (tensors ``<site>.W_enc`` ...), with their reconstruction quality."""

    kind = "sae"

    @classmethod
    def train(
        cls,
        cache: ActivationCache,
        expansion: int = 4,
        k: int = 24,
        learning_rate: float = 3e-5,
        epochs: int = 10,
        batch_size: int = 4096,
        warmup: int = 1000,
        seed: int = 0,
        progress: bool = True,
    ) -> SiteSAEs:
        """Train an SAE on every site of ``cache`` (defaults: the reference's ACE-Step settings)."""
        if expansion < 1:
            raise ConfigError(f"SAE expansion must be >= 1; got {expansion}")
        tensors, quality = {}, {}
        for site, x in cache.tensors.items():
            sae, quality[site] = train_topk_sae(
                x, expansion, k, learning_rate, epochs, batch_size, warmup, seed, f"sae {site}", progress
            )
            tensors |= {f"{site}.{name}": p.detach().clone() for name, p in sae.named_parameters()}
        cache_meta = {key: v for key, v in cache.meta.items() if key != "prompts"}
        meta = {
            **{key: cache.meta[key] for key in ("arch", "sites", "widths")},
            "expansion": expansion,
            "k": k,
            "learning_rate": learning_rate,
            "epochs": epochs,
            "batch_size": batch_size,
            "fvu": {s: q["fvu"] for s, q in quality.items()},
            "dead": {s: q["dead"] for s, q in quality.items()},
            "loss": {s: q["loss"] for s, q in quality.items()},
            "cache": cache_meta,
        }
        return cls(tensors, meta)

    def sae(self, site: str) -> TopKSAE:
        width, latents = self.meta["widths"][site], self.meta["expansion"] * self.meta["widths"][site]
        if tuple(self.tensors[f"{site}.W_dec"].shape) != (latents, width):
            raise ConfigError(
                f"the SAE of {site} has a decoder of shape {tuple(self.tensors[f'{site}.W_dec'].shape)}; expansion "
                f"{self.meta['expansion']} at width {width} needs ({latents}, {width})"
            )
        sae = TopKSAE(width, latents, self.meta["k"])
        sae.load_state_dict({n: self.tensors[f"{site}.{n}"] for n, _ in sae.named_parameters()})
        return sae.eval()


@dataclass
class _FeatureMeans(Edit):
    """Per step, the mean ReLU pre-activation of every SAE latent over the conditional positions."""

    sae: TopKSAE
    steps: int
    sums: torch.Tensor = field(init=False)
    counts: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.sums = torch.zeros(self.steps, self.sae.W_dec.shape[0])
        self.counts = torch.zeros(self.steps)

    def attach(self, module: nn.Module, site: Site, ctx: HookContext) -> list[RemovableHandle]:
        def hook(_mod: nn.Module, _args: tuple, output: Any) -> None:
            h = main_tensor(output).detach()
            rows = ctx.clock.passes(h.shape[0]).get("cond")
            if ctx.clock.extra or rows is None or ctx.clock.step >= self.steps:
                return
            with torch.no_grad():
                z = self.sae.pre(h[rows].reshape(-1, h.shape[-1]).float().cpu())
            self.sums[ctx.clock.step] += z.sum(0)
            self.counts[ctx.clock.step] += len(z)

        return [module.register_forward_hook(hook)]

    def means(self) -> torch.Tensor:
        return self.sums / self.counts.clamp_min(1)[:, None]


class SAE(ActivationController):
    """Add the decoder directions of each step's top-scored SAE latents (alpha: the multiple added)."""

    method = "sae"
    compute_options: ClassVar[tuple[str, ...]] = (
        "expansion", "k", "learning_rate", "epochs", "batch_size", "warmup", "every", "cache_prompts"
    )
    #: ``top_k: reference``: the reference's top-k per site (tf6, tf7) for the concept
    reference_values: ClassVar[dict[str, Any]] = {"top_k": REFERENCE_TOP_K}

    def __init__(
        self,
        concept: Concept,
        tensors: dict[str, torch.Tensor],
        meta: dict[str, Any],
        top_k: int | Mapping[str, int] | None = None,
        score: str = "tfidf",
        weighting: str = "unit",
        expansion: int | None = None,
        **kwargs: Any,
    ) -> None:
        check_choice("SAE score", score, SCORES)
        check_choice("SAE weighting", weighting, WEIGHTINGS)
        self.weighting = weighting
        if expansion is not None and meta and expansion != meta["expansion"]:
            raise ConfigError(f"this SAE artifact has expansion {meta['expansion']}, not {expansion}")
        self.top_k, self.score = (meta.get("top_k", 20) if top_k is None else top_k), score
        super().__init__(concept, tensors, meta, **kwargs)

    @classmethod
    def compute(
        cls,
        adapter: ModelAdapter,
        concept: Concept,
        target_layers: str | Sequence[str] = "all",
        saes: SiteSAEs | str | Path | None = None,
        cache: ActivationCache | str | Path | None = None,
        cache_prompts: Sequence[str] | None = None,
        every: int = 6,
        expansion: int = 4,
        k: int = 24,
        learning_rate: float = 3e-5,
        epochs: int = 10,
        batch_size: int = 4096,
        warmup: int = 1000,
        seed: int = 10,
        config: GenerationConfig | None = None,
        progress: bool = True,
        **kwargs: Any,
    ) -> SAE:
        """Score SAE latents per step for ``concept`` (positive vs negative compute set, prompt ``i`` of both
        with ``seed``). ``saes`` (trained) or ``cache`` may be given; otherwise the cache is collected from
        ``cache_prompts`` (default: the concept's compute set) and the SAEs trained here."""
        config = config or adapter.generation_config("steering")
        sites = resolve_sites(adapter, target_layers)
        if not sites:
            raise ConfigError(f"target_layers '{target_layers}' selects no site for an SAE")
        if saes is None:
            if cache is None:
                prompts = list(cache_prompts or [*concept.positive, *concept.negative])
                cache = ActivationCache.collect(adapter, prompts, target_layers, every, config=config, progress=progress)
            elif not isinstance(cache, ActivationCache):
                cache = ActivationCache.from_pretrained(cache)
            cache.check_model(adapter, sites)
            cache = ActivationCache({s.name: cache.tensors[s.name] for s in sites}, cache.meta | {"sites": [s.name for s in sites]})
            saes = SiteSAEs.train(cache, expansion, k, learning_rate, epochs, batch_size, warmup, progress=progress)
        elif not isinstance(saes, SiteSAEs):
            saes = SiteSAEs.from_pretrained(saes)
        saes.check_model(adapter, sites)
        means = {}
        for pole, prompts in (("positive", concept.positive), ("negative", concept.negative)):
            edits = {s: _FeatureMeans(saes.sae(s.name), config.steps) for s in sites}
            with adapter.intervene(edits):
                adapter.sample(list(prompts), [seed] * len(prompts), config)
            means[pole] = {s.name: e.means() for s, e in edits.items()}
        tensors = {}
        for s in sites:
            mp, mn = means["positive"][s.name], means["negative"][s.name]
            tensors |= {
                f"{s.name}.decoder": saes.tensors[f"{s.name}.W_dec"],
                f"{s.name}.tfidf": mp * torch.log1p(1 / (mn + 1e-6)),
                f"{s.name}.diff": mp - mn,
                f"{s.name}.mean_pos": mp,
            }
        names = [s.name for s in sites]  # widths: checked equal to the SAEs' above
        meta = computed_on(adapter, sites, config, concept) | {
            "seed": seed,
            "expansion": saes.meta["expansion"],
            "k": saes.meta["k"],
            "fvu": {n: saes.meta["fvu"][n] for n in names},
            "dead": {n: saes.meta["dead"][n] for n in names},
            "sae": {key: v for key, v in saes.meta.items() if key not in ("fvu", "dead")},
            "top_k": 20,
        }
        return cls(concept, tensors, meta, target_layers=target_layers, **kwargs)

    def site_top_k(self, site: str) -> int:
        if isinstance(self.top_k, Mapping):
            if site not in self.top_k:
                raise ConfigError(f"SAE top_k names sites {sorted(self.top_k)}; it has none for {site}")
            return int(self.top_k[site])
        return int(self.top_k)

    def check(self, adapter: ModelAdapter) -> None:
        super().check(adapter)
        for s in self.sites:
            latents = self.tensors[f"{s.name}.decoder"].shape[0]
            if latents != self.meta["expansion"] * self.meta["widths"][s.name]:
                raise ConfigError(
                    f"the SAE decoder of {s.name} has {latents} latents; expansion {self.meta['expansion']} needs "
                    f"{self.meta['expansion'] * self.meta['widths'][s.name]}"
                )
            if not 0 < self.site_top_k(s.name) <= latents:
                raise ConfigError(f"SAE top_k of {s.name} must be in 1..{latents}; got {self.site_top_k(s.name)}")

    def site_vectors(self) -> dict[str, torch.Tensor]:
        """Per step, the sum of the decoder rows of the ``top_k`` latents by ``score`` (each times its ``diff``
        with ``weighting="difference"``), on the conditional pass."""
        vectors = {}
        for s in self.sites:
            scores, decoder = self.tensors[f"{s.name}.{self.score}"], self.tensors[f"{s.name}.decoder"]
            top = scores.topk(self.site_top_k(s.name), dim=-1).indices  # [steps, top_k]
            rows = decoder[top]  # [steps, top_k, width]
            if self.weighting == "difference":
                rows = rows * self.tensors[f"{s.name}.diff"].gather(1, top)[..., None]
            v = torch.zeros(scores.shape[0], 2, decoder.shape[1])
            v[:, 0] = rows.sum(1)
            vectors[s.name] = v
        return vectors

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "top_k": self.top_k, "score": self.score, "weighting": self.weighting}
