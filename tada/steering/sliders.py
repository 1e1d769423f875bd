"""Concept Sliders: a LoRA on the target sites' attention projections, trained with the sliders objective.

Training (the reference's ``train_concept_slider.py``): per iteration a random pair ``(c0, c+)`` of the
concept's compute set (``c0`` the negative list, ``c+`` the positive) and a random step ``n``; the
adapter's own sampler runs ``c0`` with the LoRA on up to step ``n``, where the denoiser's conditional
call is re-run at the same latents with the conditioning of ``c0``, ``c+`` and the empty prompt ``cU``
replayed at every cross-attention site: LoRA off, ``target = v(c0) + eta * (v(c+) - v(cU))``; LoRA on,
``loss = MSE(v(c+), target)``. The prediction is the denoiser's raw output (velocity, noise...).
With ``polarity: both`` (dual-polarity sliders, as later slider trainers do) every other iteration
trains the mirror image at adapter scale -1: the poles swap (``c0`` the positive prompt, ``c+`` the
negative, the contrast the positive when it is ``negative``), so the negative scales are trained
toward the negative pole instead of being only the extrapolation of the positive ones.

Inference: the LoRA is injected (peft, ``lora_alpha`` 1) for each steered generation with adapter
scale ``alpha``, i.e. ``delta W = alpha / rank * B A`` on every pass and step, and removed after it:
the model leaves ``steer()`` exactly as it entered. The artifact is ``pytorch_lora_weights.safetensors``
(peft keys ``<module>.lora_A.weight``) + ``config.json`` (settings, loss curve); it steers exactly the
sites it was trained on.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle
from tqdm import tqdm

from tada.errors import ConfigError, check_choice
from tada.interventions import (
    Edit,
    HookContext,
    PassConditioning,
    ReplaceConditioning,
    StopForward,
    get_module,
    intervene,
    main_tensor,
)
from tada.models.base import GenerationConfig, ModelAdapter
from tada.sites import Site
from tada.steering.concepts import Concept
from tada.steering.controller import ArtifactController, computed_on
from tada.steering.freesliders import DENOISER, rows_of_call

if TYPE_CHECKING:  # peft imports transformers' model zoo: loaded only when a slider is used
    from peft.tuners.lora import LoraLayer

#: the projections the reference's LoRA targets in each attention module
PROJECTIONS: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out.0")
ADAPTER = "concept_slider"
#: what the positive prompt is contrasted with: the empty prompt (the reference) or the negative pole
CONTRASTS: tuple[str, ...] = ("empty", "negative")
#: the adapter scales trained: +1 only (the reference) or +1 and -1 in turn (dual-polarity)
POLARITIES: tuple[str, ...] = ("positive", "both")


def lora_targets(sites: Sequence[Site]) -> list[str]:
    """Module paths of the LoRA-wrapped projections of ``sites`` (only the projection of a k/v site)."""
    return [t for s in sites for t in ([s.target] if s.projection else [f"{s.module}.{p}" for p in PROJECTIONS])]


@contextmanager
def injected_lora(
    denoiser: nn.Module, targets: Sequence[str], rank: int, weights: Mapping[str, torch.Tensor] | None = None
) -> Iterator[dict[str, LoraLayer]]:
    """peft LoRA layers on ``targets`` (loaded from ``weights``) for the block; afterwards every base
    layer, the ``requires_grad`` flags and the module's attributes are exactly as before."""
    from peft import LoraConfig, inject_adapter_in_model

    grads = {n: p.requires_grad for n, p in denoiser.named_parameters()}
    had_config = "peft_config" in vars(denoiser)
    config = LoraConfig(r=rank, lora_alpha=1, lora_dropout=0.0, bias="none", target_modules=list(targets))
    inject_adapter_in_model(config, denoiser, adapter_name=ADAPTER)
    layers = {t: denoiser.get_submodule(t) for t in targets}
    try:
        if weights is not None:
            with torch.no_grad():
                for t, layer in layers.items():
                    for part in ("lora_A", "lora_B"):
                        getattr(layer, part)[ADAPTER].weight.copy_(weights[f"{t}.{part}.weight"])
        yield layers
    finally:
        for t, layer in layers.items():
            parent, _, child = t.rpartition(".")
            setattr(denoiser.get_submodule(parent), child, layer.get_base_layer())
        if not had_config:
            vars(denoiser).pop("peft_config", None)
        for name, param in denoiser.named_parameters():
            param.requires_grad_(grads[name])


def set_scale(layers: Mapping[str, LoraLayer], scale: float) -> None:
    for layer in layers.values():
        layer.set_scale(ADAPTER, scale)


def lora_state(layers: Mapping[str, LoraLayer]) -> dict[str, torch.Tensor]:
    """The LoRA weights in peft's key format (``<module>.lora_A.weight``), on the CPU."""
    return {
        f"{t}.{part}.weight": getattr(layer, part)[ADAPTER].weight.detach().float().cpu().clone()
        for t, layer in layers.items()
        for part in ("lora_A", "lora_B")
    }


class _Handle:
    """A hook-handle stand-in that closes a context when removed."""

    def __init__(self, stack: ExitStack) -> None:
        self.stack = stack

    def remove(self) -> None:
        self.stack.close()


class LoraEdit(Edit):
    """Inject the slider LoRA into the denoiser at scale ``alpha`` while attached."""

    def __init__(self, weights: Mapping[str, torch.Tensor], targets: Sequence[str], rank: int, alpha: float) -> None:
        self.weights, self.targets, self.rank, self.alpha = weights, targets, rank, alpha

    def attach(self, module: nn.Module, site: Site, ctx: HookContext) -> list[RemovableHandle]:
        stack = ExitStack()
        layers = stack.enter_context(injected_lora(module, self.targets, self.rank, self.weights))
        set_scale(layers, self.alpha)
        return [_Handle(stack)]  # type: ignore[list-item]


class ConceptSliders(ArtifactController):
    """A LoRA slider (alpha: the adapter scale; 0 is the unsteered model)."""

    method = "sliders"
    tensors_file: ClassVar[str] = "pytorch_lora_weights.safetensors"
    computed_per_arm: ClassVar[bool] = True  # a LoRA steers exactly the sites it was trained on
    compute_options: ClassVar[tuple[str, ...]] = (
        "rank", "eta", "iterations", "learning_rate", "weight_decay", "seed", "steps", "guidance_scale", "contrast",
        "polarity",
    )

    @classmethod
    def compute(
        cls,
        adapter: ModelAdapter,
        concept: Concept,
        target_layers: str | Sequence[str] = "all",
        rank: int = 4,
        eta: float = 7.0,
        iterations: int = 500,
        learning_rate: float = 1e-4,
        weight_decay: float = 0.01,
        seed: int = 42,
        steps: int | None = None,
        guidance_scale: float | None = None,
        contrast: str = "empty",
        polarity: str = "positive",
        config: GenerationConfig | None = None,
        progress: bool = True,
        **kwargs: Any,
    ) -> ConceptSliders:
        """Train the slider LoRA of ``concept`` on ``target_layers`` (defaults: the reference's; the rollout
        uses ``config``, default the adapter's steering preset, with ``steps`` / ``guidance_scale`` if given). ``contrast``: what
        ``c+`` is contrasted with, the empty prompt (``empty``, the reference) or the negative pole (``negative``,
        the original Concept Sliders objective). ``polarity``: train adapter scale +1 only (``positive``, the
        reference) or +1 and -1 in turn with the poles swapped (``both``)."""
        check_choice("sliders contrast", contrast, CONTRASTS)
        check_choice("sliders polarity", polarity, POLARITIES)
        if adapter.no_score_access:
            raise ConfigError(f"Concept Sliders cannot be trained on '{adapter.arch}': {adapter.no_score_access}")
        if rank < 1 or iterations < 1 or learning_rate <= 0:
            raise ConfigError(f"sliders need rank >= 1, iterations >= 1, learning_rate > 0; got {rank}, {iterations}, {learning_rate}")
        registry = adapter.registry()
        sites = registry.resolve(target_layers) if isinstance(target_layers, str) else [
            s for name in target_layers for s in registry.resolve(name)
        ]
        if not sites:
            raise ConfigError(f"target_layers '{target_layers}' selects no site to train a slider on")
        config = (config or adapter.generation_config("steering")).with_(
            **{k: v for k, v in {"steps": steps, "guidance_scale": guidance_scale}.items() if v is not None}
        )
        targets = lora_targets(sites)
        trainer = _Trainer(adapter, config, registry.layers)
        rng = random.Random(seed)
        torch.manual_seed(seed)
        losses: list[float] = []
        with injected_lora(adapter.denoiser, targets, rank) as layers:
            params = [p for layer in layers.values() for part in ("lora_A", "lora_B") for p in getattr(layer, part)[ADAPTER].parameters()]
            optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay)
            bar = tqdm(range(iterations), desc=f"sliders {concept.name}", disable=not progress)
            for iteration in bar:
                i = rng.randrange(len(concept.positive))
                base, toward, scale = concept.negative[i], concept.positive[i], 1.0
                if polarity == "both" and iteration % 2:  # the mirror image: poles swapped, scale -1
                    base, toward, scale = toward, base, -1.0
                loss = trainer.step(
                    layers, params, optimizer, base, toward, "" if contrast == "empty" else base, eta,
                    rng.randrange(config.steps), rng.randrange(2**31), scale,
                )
                losses.append(round(loss, 6))
                bar.set_postfix(loss=f"{loss:.4f}")
            tensors = lora_state(layers)
        meta = computed_on(adapter, sites, config, concept) | {
            "target_layers": target_layers if isinstance(target_layers, str) else list(target_layers),
            "targets": targets,
            "rank": rank,
            "lora_alpha": 1,
            "eta": eta,
            "contrast": contrast,
            "polarity": polarity,
            "iterations": iterations,
            "learning_rate": learning_rate,
            "weight_decay": weight_decay,
            "seed": seed,
            "loss": losses,
        }
        return cls(concept, tensors, meta, target_layers=target_layers, **kwargs)

    def check(self, adapter: ModelAdapter) -> None:
        trained, asked = self.meta["sites"], [s.name for s in self.sites]
        if self.meta["arch"] == adapter.arch and sorted(trained) != sorted(asked):
            raise ConfigError(
                f"this Concept Sliders LoRA was trained on sites {trained} ({self.meta['target_layers']}); it cannot "
                f"steer {asked}: train one for those sites (`target_layers`)"
            )
        super().check(adapter)
        for target in self.meta["targets"]:
            module = get_module(adapter.denoiser, target)
            a, b = self.tensors[f"{target}.lora_A.weight"], self.tensors[f"{target}.lora_B.weight"]
            if (a.shape[1], b.shape[0]) != (module.in_features, module.out_features):
                raise ConfigError(
                    f"the LoRA of {target} maps {a.shape[1]} -> {b.shape[0]} features; the model's maps "
                    f"{module.in_features} -> {module.out_features}"
                )

    def edits(
        self, adapter: ModelAdapter, prompts: list[str], seeds: list[int], config: GenerationConfig
    ) -> Mapping[Site, Edit]:
        return {DENOISER: LoraEdit(self.tensors, self.meta["targets"], self.meta["rank"], self.alpha)}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "artifact": {k: self.meta[k] for k in ("arch", "sites", "rank", "eta", "iterations")}}


class _Trainer:
    """One sliders iteration: roll out ``c0`` to step ``n`` with the LoRA on at ``scale``, then take a
    gradient step."""

    def __init__(self, adapter: ModelAdapter, config: GenerationConfig, layers: list[Site]) -> None:
        self.adapter, self.config, self.layers = adapter, config, layers
        self.recorded: dict[str, dict[str, PassConditioning]] = {}

    def conditioning(self, prompt: str) -> dict[Site, Edit]:
        """Replay ``prompt``'s conditional conditioning at every cross-attention site (extra passes)."""
        if prompt not in self.recorded:
            self.recorded[prompt] = self.adapter.record_conditioning([prompt], [0], self.config, self.layers)
        return {s: ReplaceConditioning(self.recorded[prompt][s.name], source={"extra": "cond"}) for s in self.layers}

    def step(
        self,
        layers: Mapping[str, LoraLayer],
        params: list[torch.Tensor],
        optimizer: torch.optim.Optimizer,
        c0: str,
        cpos: str,
        cneg: str,
        eta: float,
        n: int,
        seed: int,
        scale: float = 1.0,
    ) -> float:
        conds = {p: self.conditioning(p) for p in (c0, cpos, cneg)}
        ctx = self.adapter.hook_context
        loss_value: list[float] = []

        def hook(mod: nn.Module, args: tuple, kwargs: dict, output: Any) -> None:
            clock = ctx.clock
            if clock.extra or clock.step != n:
                return
            rows = main_tensor(output).shape[0]
            passes = clock.passes(rows)
            if "cond" not in passes:
                return
            a, k = rows_of_call(args, kwargs, passes["cond"], rows)

            def predict(prompt: str) -> torch.Tensor:
                with clock.extra_pass(), intervene(mod, conds[prompt], ctx):
                    return main_tensor(mod(*a, **k)).float()

            with torch.no_grad():
                set_scale(layers, 0.0)
                target = predict(c0) + eta * (predict(cpos) - predict(cneg))
            set_scale(layers, scale)
            with torch.enable_grad():
                loss = torch.nn.functional.mse_loss(predict(cpos), target)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
            loss_value.append(loss.item())
            raise StopForward

        set_scale(layers, scale)
        handle = self.adapter.denoiser.register_forward_hook(hook, with_kwargs=True)
        try:
            self.adapter.sample([c0], [seed], self.config)
        except StopForward:
            pass
        finally:
            handle.remove()
        if not loss_value:
            raise ConfigError(f"the sampler of '{self.adapter.arch}' never ran a conditional pass at step {n}")
        return loss_value[0]
