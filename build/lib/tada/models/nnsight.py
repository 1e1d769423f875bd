"""nnsight access to a tada model: the denoiser wrapped with ``nnsight.NNsight``, addressed by site names.

Interpretability users who live in `nnsight <https://nnsight.net>`_ get the denoiser of any tada
model as an ``NNsight`` envoy tree, tada's site and preset names (``tf6``, ``tf11k``, ``up1tf5attn0``,
``tf11tf12``, ``localized``) resolved to the envoys of their modules, and a trace that runs a whole
generation (prompts, seeds, :class:`~tada.models.base.GenerationConfig`) with the denoiser
instrumented. Edits made in such a trace give the same audio as tada's own edits
(:meth:`~tada.models.base.ModelAdapter.intervene`), as ``tests/test_nnsight.py`` checks.

Example (a script; ``tests/test_nnsight.py`` runs it with a tiny random-weight Stable Audio pipeline
in place of the checkpoint)::

    import nnsight
    import torch

    from tada.models import load_model
    from tada.models.nnsight import nnsight_denoiser

    model = load_model("stable_audio", "stabilityai/stable-audio-open-1.0")
    config = model.generation_config("patching", steps=3).with_(duration=2.0)
    nns = nnsight_denoiser(model)  # the same as model.nnsight()
    site = nns.site("tf1")  # envoy of transformer_blocks.1.attn2
    n = nns.calls(config)  # calls of every site in one generation

    # clean run: what tf1's cross-attention receives (the first denoiser call suffices)
    with nns.trace(["a happy violin song"], [0], config) as tracer:
        _, kwargs = site.inputs
        clean = nnsight.save({k: kwargs[k] for k in model.cond_kwargs if kwargs.get(k) is not None})
        tracer.stop()

    # corrupted run, tf1 receiving the clean conditioning at every step (activation patching)
    with nns.trace(["a sad trumpet song"], [0], config) as tracer:
        for _ in tracer.iter[:n]:
            args, kwargs = site.inputs
            site.inputs = (args, {**kwargs, **clean})
        patched = nnsight.save(tracer.result)  # an Audio, as model.generate returns

    # tf1 ablated at every step
    with nns.trace(["a sad trumpet song"], [0], config) as tracer:
        for _ in tracer.iter[:n]:
            site.output = torch.zeros_like(site.output)
        ablated = nnsight.save(tracer.result)

``patched`` equals ``model.intervene({tf1: ReplaceConditioning(recorded)})`` around ``model.generate``,
``ablated`` equals ``model.intervene({tf1: ZeroOutput()})``.

nnsight facts that matter here (nnsight 0.8):

* ``nnsight.CONFIG.APP.PYMOUNT`` (default true) mounts ``.save`` on every Python object, which breaks
  ``torchsde`` (Stable Audio's scheduler sorts ``dir()`` of a class). Importing this module turns it
  off and removes the mount; save values with ``nnsight.save(x)``, not ``x.save()``.
* One occurrence of a site is one call of its module: one per denoiser call, and a denoiser call
  holds every CFG pass of a step (``[uncond, cond]`` rows) except in the ``separate`` layout
  (ACE-Step v1). Loop over ``tracer.iter[:n]`` with ``n = nns.calls(config)``: an open-ended
  ``tracer.iter[:]`` / ``tracer.all()`` leaves a dangling request, and code after the loop
  (``nnsight.save(tracer.result)``) never runs.
* nnsight reads the source of a ``with`` block, so traces must live in a file or a notebook cell,
  not in ``exec``'d strings.
* Wrap after any module surgery (LoRA injection swaps ``to_q`` etc.): the envoy tree mirrors the
  modules present at wrapping time. Wrapping leaves generation outside a trace unchanged, and
  tada's hook-based edits keep working on a wrapped denoiser.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import nnsight
from torch import nn

from tada.errors import TadaError
from tada.sites import Site

if TYPE_CHECKING:
    from tada.models.base import GenerationConfig, ModelAdapter, PromptEncoding


def configure_nnsight() -> None:
    """Turn nnsight's ``APP.PYMOUNT`` off through its config API and undo the mount made at its import.

    The mount adds ``save`` to every object, which breaks ``torchsde`` (Stable Audio's scheduler);
    with it off, values are saved with ``nnsight.save(x)``. Idempotent.
    """
    nnsight.CONFIG.APP.PYMOUNT = False
    if "save" in vars(object):
        from nnsight._c import unmount

        if unmount is not None:
            unmount("save")


configure_nnsight()


class NNsightDenoiser:
    """A model's denoiser wrapped with ``nnsight.NNsight``, its envoys addressed by tada site names.

    ``model`` is the ``NNsight`` root envoy (the denoiser), ``adapter`` the tada model it belongs to.
    """

    def __init__(self, adapter: ModelAdapter, model: nnsight.NNsight) -> None:
        self.adapter = adapter
        self.model = model
        self._registry = adapter.registry()

    def resolve(self, preset: str) -> list[Site]:
        """Sites of a site name, group, combination or preset (as ``adapter.registry().resolve``)."""
        return self._registry.resolve(preset)

    def envoy(self, site: Site) -> nnsight.Envoy:
        """The envoy of a site's module (the ``to_k`` / ``to_v`` projection for a ``k`` / ``v`` site)."""
        return self.model.get(site.target) if site.target else self.model

    def site(self, name: str) -> nnsight.Envoy:
        """The envoy of one site: ``site("tf6")`` is the envoy of ``transformer_blocks.6.attn2``.

        ``name`` must select exactly one site (``tf6``, ``tf6k``, ``tf6self``, ``up1tf5attn0``);
        use :meth:`sites` for groups and presets.
        """
        sites = self.resolve(name)
        if len(sites) != 1:
            raise TadaError(
                f"'{name}' selects {len(sites)} sites of '{self.adapter.arch}' "
                f"({', '.join(s.name for s in sites) or 'none'}); site() takes one site, sites() takes presets"
            )
        return self.envoy(sites[0])

    def sites(self, preset: str) -> dict[str, nnsight.Envoy]:
        """Envoys of every site a preset or name selects (``"tf11tf12"``, ``"up1"``, ``"all"``), by site name."""
        return {s.name: self.envoy(s) for s in self.resolve(preset)}

    def calls(self, config: GenerationConfig) -> int:
        """How often every site runs in one generation with ``config``: the ``n`` of ``tracer.iter[:n]``.

        One denoiser call per diffusion step holds all CFG passes; in the ``separate`` layout
        (ACE-Step v1, guidance at every step) each step makes two.
        """
        return config.steps * (2 if self.adapter.cfg_layout == "separate" else 1)

    def trace(
        self,
        prompts: Sequence[str],
        seeds: Sequence[int],
        config: GenerationConfig | None = None,
        prompt_embeds: PromptEncoding | None = None,
        **kwargs: Any,
    ) -> Any:
        """An nnsight trace over one whole ``adapter.generate(prompts, seeds, config)``.

        ``tracer.result`` is the generated :class:`~tada.models.base.Audio`; extra ``kwargs`` go
        to ``NNsight.trace``.
        """
        args: tuple[Any, ...] = (list(prompts), list(seeds), config)
        if prompt_embeds is not None:
            args += (prompt_embeds,)
        return self.model.trace(*args, fn=self.adapter.generate, **kwargs)


def nnsight_denoiser(adapter: ModelAdapter) -> NNsightDenoiser:
    """``adapter``'s denoiser wrapped with ``nnsight.NNsight``, with tada site names resolved to envoys.

    Wrapping happens once per denoiser (later calls return the same wrapper); nnsight's ``PYMOUNT``
    is turned off first (see :func:`configure_nnsight`).
    """
    configure_nnsight()
    denoiser: nn.Module = adapter.denoiser
    cached = adapter.__dict__.get("_nnsight")
    if cached is not None and cached.model._module is denoiser:
        return cached
    wrapper = NNsightDenoiser(adapter, nnsight.NNsight(denoiser))
    adapter.__dict__["_nnsight"] = wrapper
    return wrapper


__all__ = ["NNsightDenoiser", "configure_nnsight", "nnsight_denoiser"]
