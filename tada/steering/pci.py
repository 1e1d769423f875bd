"""PCI (prompt-conditioning interpolation): switch from the neutral to a target prompt late in sampling.

With integer ``alpha`` on an ``N``-step sampler the neutral prompt conditions the first ``N - |alpha|``
steps and the positive (``alpha > 0``) or negative (``alpha < 0``) prompt the last ``|alpha|``. The
switch uses the shared intervention mechanism: the target's conditioning is recorded at the chosen
sites and replayed there from the switching step on, so ``pci_loc`` switches only localized layers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from tada.errors import ConfigError, unknown_name
from tada.interventions import Conditioning, ReplaceConditioning
from tada.models.base import Audio, GenerationConfig, ModelAdapter
from tada.sites import Site

#: method name -> which sites switch prompt ("localized": a preset, see :func:`method_sites`)
METHODS: dict[str, str] = {"pci_all": "all", "pci_loc": "localized"}

Recorded = Mapping[str, list[Conditioning]]


def localized_preset(adapter: ModelAdapter) -> str:
    """The default localized preset: the mini model's ground-truth ``semantic_blocks``, else the
    arch's ``localized`` preset file."""
    if adapter.arch != "mini":
        return "localized"
    blocks = adapter.model.config.semantic_blocks  # type: ignore[attr-defined]  # a MiniAdapter
    if not blocks:
        raise ConfigError("this mini model has no semantic_blocks in its config; name a localized preset")
    return "".join(f"tf{b}" for b in blocks)


def method_sites(adapter: ModelAdapter, method: str, localized: str | None = None) -> list[Site]:
    """Sites whose conditioning ``method`` switches: every layer, or the ``localized`` preset
    (a preset name, site list like ``tf2tf3`` or YAML path; default :func:`localized_preset`)."""
    if method not in METHODS:
        raise unknown_name("steering method", method, METHODS)
    if METHODS[method] == "all":
        return adapter.registry().layers
    return adapter.registry().resolve(localized or localized_preset(adapter))


def check_alpha(alpha: float, steps: int) -> int:
    """``alpha`` as an int, checking it is a whole number of steps in ``[-steps, steps]``."""
    if alpha != int(alpha) or abs(alpha) > steps:
        raise ConfigError(f"PCI alpha must be an integer in [-{steps}, {steps}] (the sampling steps); got {alpha}")
    return int(alpha)


def pci_generate(
    adapter: ModelAdapter,
    neutral: Sequence[str],
    seeds: Sequence[int],
    config: GenerationConfig,
    alpha: int,
    target: Recorded,
    sites: Sequence[Site],
) -> Audio:
    """Generate ``neutral`` with the ``sites`` switched to the recorded ``target`` conditioning for
    the last ``|alpha|`` steps (``target`` from ``adapter.record_conditioning`` of the positive
    prompts when ``alpha > 0``, the negative ones when ``alpha < 0``)."""
    k = abs(check_alpha(alpha, config.steps))
    if k == 0:
        return adapter.generate(neutral, seeds, config)
    start = (config.steps - k) * adapter.denoiser_calls_per_step
    with adapter.intervene({s: ReplaceConditioning(target[s.name], start=start) for s in sites}):
        return adapter.generate(neutral, seeds, config)


def pci(
    adapter: ModelAdapter,
    neutral: Sequence[str],
    positive: Sequence[str],
    negative: Sequence[str],
    seeds: Sequence[int],
    config: GenerationConfig,
    alpha: int,
    sites: Sequence[Site],
) -> Audio:
    """One PCI generation: record the target prompts' conditioning, then generate the neutral ones."""
    k = check_alpha(alpha, config.steps)
    if k == 0:
        return adapter.generate(neutral, seeds, config)
    target = adapter.record_conditioning(positive if k > 0 else negative, seeds, config, sites)
    return pci_generate(adapter, neutral, seeds, config, k, target, sites)
