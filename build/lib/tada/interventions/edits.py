"""Edits: what happens at a named site, attached with plain PyTorch hooks for a ``with`` block.

Every edit sees the :class:`~tada.interventions.clock.StepClock` through its :class:`HookContext`, so it
knows the diffusion step and which rows of a call are the conditional / unconditional / extra pass.

* :class:`Record` keeps, per pass, the conditioning kwargs a cross-attention receives.
* :class:`ReplaceConditioning` feeds recorded conditioning back in (activation patching, prompt
  switching) for the selected passes and steps; on a ``k``/``v`` site only that projection's input.
* :class:`SteerOutput` changes a site's output rows of selected passes and steps (activation steering).
* :class:`RecordOutput` averages (or keeps) a site's output per (step, pass).
* :class:`MapOutput` / :class:`ZeroOutput` apply a function to / ablate a site's output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from tada.interventions.clock import StepClock, StepWindow
from tada.sites import Site

Conditioning = dict[str, torch.Tensor]
#: recorded conditioning of one site: pass name -> its kwargs
PassConditioning = dict[str, Conditioning]


@dataclass
class HookContext:
    """What an edit needs to know about the model it is attached to."""

    clock: StepClock
    cond_kwargs: tuple[str, ...] = ("encoder_hidden_states",)


class Edit:
    """What to do at one site; subclasses implement :meth:`attach`."""

    def attach(self, module: nn.Module, site: Site, ctx: HookContext) -> list[RemovableHandle]:
        raise NotImplementedError


def main_tensor(output: Any) -> torch.Tensor:
    """The tensor a module returned (first element of a tuple, ``.sample`` of an output object)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, tuple):
        return output[0]
    return output.sample


def with_main_tensor(output: Any, value: torch.Tensor) -> Any:
    """``output`` with its main tensor replaced by ``value``."""
    if isinstance(output, torch.Tensor):
        return value
    if isinstance(output, tuple):
        return (value, *output[1:])
    output.sample = value
    return output


def split_rows(values: Conditioning, passes: Mapping[str, slice], rows: int) -> PassConditioning:
    """Per-pass copies of ``values``; tensors without a row per sample are shared by every pass."""
    return {
        name: {k: (v[sl] if v.shape[:1] == (rows,) else v).detach().clone() for k, v in values.items()}
        for name, sl in passes.items()
    }


@dataclass
class Record(Edit):
    """Record, per pass, the conditioning kwargs of a cross-attention (first occurrence of each pass)."""

    passes: PassConditioning = field(default_factory=dict)

    def attach(self, module: nn.Module, site: Site, ctx: HookContext) -> list[RemovableHandle]:
        def hook(_mod: nn.Module, args: tuple, kwargs: dict) -> None:
            values = {k: kwargs[k] for k in ctx.cond_kwargs if isinstance(kwargs.get(k), torch.Tensor)}
            rows = args[0].shape[0] if args else kwargs["hidden_states"].shape[0]
            for name, part in split_rows(values, ctx.clock.passes(rows), rows).items():
                self.passes.setdefault(name, part)

        return [module.register_forward_pre_hook(hook, with_kwargs=True)]


@dataclass
class ReplaceConditioning(Edit):
    """Replace the conditioning a site receives by recorded values, pass by pass.

    ``recorded`` maps pass names to conditioning (from :class:`Record`); ``source`` maps a pass of the
    running call to the recorded pass it receives (default: the same pass; ``extra`` receives ``cond``).
    Only steps inside ``window`` are changed; passes without a source keep their own conditioning.
    """

    recorded: PassConditioning
    window: StepWindow = field(default_factory=StepWindow)
    source: Mapping[str, str] | None = None

    def _source(self, name: str) -> Conditioning | None:
        if self.source is not None:
            return self.recorded.get(self.source[name]) if name in self.source else None
        return self.recorded.get(name, self.recorded.get("cond") if name == "extra" else None)

    def _merge(self, ctx: HookContext, original: Conditioning, rows: int) -> Conditioning | None:
        if ctx.clock.step not in self.window:
            return None
        parts = [(sl, self._source(name)) for name, sl in ctx.clock.passes(rows).items()]
        if all(src is None for _, src in parts):
            return None
        merged: Conditioning = {}
        for key in {k for _, src in parts if src is not None for k in src}:
            pieces = []
            for sl, src in parts:
                if src is not None and key in src:
                    pieces.append(src[key])
                elif original.get(key) is not None:
                    pieces.append(original[key][sl])
                else:
                    raise ValueError(f"'{key}' is recorded for some passes but the site receives none")
            like = original.get(key)
            merged[key] = _match(torch.cat(pieces) if len(pieces) > 1 else pieces[0], like, rows)
        return merged

    def attach(self, module: nn.Module, site: Site, ctx: HookContext) -> list[RemovableHandle]:
        if site.projection:

            def proj_hook(_mod: nn.Module, args: tuple) -> tuple | None:
                merged = self._merge(ctx, {"encoder_hidden_states": args[0]}, args[0].shape[0])
                if merged is None:
                    return None
                value = merged["encoder_hidden_states"]
                if value.shape != args[0].shape:
                    raise ValueError(
                        f"recorded conditioning has shape {tuple(value.shape)} but {site.name} receives "
                        f"{tuple(args[0].shape)}: key/value patching needs prompts of equal token length"
                    )
                return (value, *args[1:])

            return [module.register_forward_pre_hook(proj_hook)]

        def hook(_mod: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
            rows = args[0].shape[0] if args else kwargs["hidden_states"].shape[0]
            merged = self._merge(ctx, kwargs, rows)
            return None if merged is None else (args, {**kwargs, **merged})

        return [module.register_forward_pre_hook(hook, with_kwargs=True)]


#: ``fn(h, step, pass_name)`` -> new rows (``h``: the site output rows of that pass)
RowFunction = Callable[[torch.Tensor, int, str], torch.Tensor]


@dataclass
class SteerOutput(Edit):
    """Change the output rows of the passes in ``passes`` at steps inside ``window`` by ``fn``."""

    fn: RowFunction
    passes: tuple[str, ...] = ("cond",)
    window: StepWindow = field(default_factory=StepWindow)

    def attach(self, module: nn.Module, site: Site, ctx: HookContext) -> list[RemovableHandle]:
        def hook(_mod: nn.Module, _args: tuple, output: Any) -> Any:
            if ctx.clock.step not in self.window:
                return None
            h = main_tensor(output)
            selected = [(n, sl) for n, sl in ctx.clock.passes(h.shape[0]).items() if n in self.passes]
            if not selected:
                return None
            new = h.clone()
            for name, sl in selected:
                new[sl] = self.fn(h[sl], ctx.clock.step, name)
            return with_main_tensor(output, new)

        return [module.register_forward_hook(hook)]


@dataclass
class RecordOutput(Edit):
    """Average a site's output per (step, pass) over rows and positions (or keep the rows: ``keep``)."""

    keep: bool = False
    sums: dict[tuple[int, str], torch.Tensor] = field(default_factory=dict)
    counts: dict[tuple[int, str], int] = field(default_factory=dict)
    kept: dict[tuple[int, str], list[torch.Tensor]] = field(default_factory=dict)

    def attach(self, module: nn.Module, site: Site, ctx: HookContext) -> list[RemovableHandle]:
        def hook(_mod: nn.Module, _args: tuple, output: Any) -> None:
            h = main_tensor(output).detach()
            for name, sl in ctx.clock.passes(h.shape[0]).items():
                key, rows = (ctx.clock.step, name), h[sl].float()
                if self.keep:
                    self.kept.setdefault(key, []).append(rows.cpu())
                flat = rows.reshape(-1, rows.shape[-1])
                self.sums[key] = self.sums.get(key, 0) + flat.sum(0).cpu()
                self.counts[key] = self.counts.get(key, 0) + flat.shape[0]

        return [module.register_forward_hook(hook)]

    def means(self) -> dict[tuple[int, str], torch.Tensor]:
        """Mean output vector per (step, pass)."""
        return {k: s / self.counts[k] for k, s in self.sums.items()}


@dataclass
class MapOutput(Edit):
    """Replace a site's output ``h`` by ``fn(h)`` (every pass, every step)."""

    fn: Callable[[torch.Tensor], torch.Tensor]

    def attach(self, module: nn.Module, site: Site, ctx: HookContext) -> list[RemovableHandle]:
        def hook(_mod: nn.Module, _args: tuple, output: Any) -> Any:
            return with_main_tensor(output, self.fn(main_tensor(output)))

        return [module.register_forward_hook(hook)]


class ZeroOutput(MapOutput):
    """Ablate a site: its output becomes zeros."""

    def __init__(self) -> None:
        super().__init__(torch.zeros_like)


def _match(value: torch.Tensor, like: torch.Tensor | None, rows: int) -> torch.Tensor:
    """Move a recorded tensor to the device and dtype of the one it replaces, checking its rows.

    A whole cross-attention accepts any number of text tokens (its mask is replaced too), so only
    the rows must agree.
    """
    if like is not None and like.shape[:1] == (rows,) and value.shape[0] != rows:
        raise ValueError(
            f"recorded conditioning has {value.shape[0]} rows but the site receives {rows}: "
            "record with the same prompts and seeds as the patched generation"
        )
    return value if like is None else value.to(device=like.device, dtype=like.dtype)


def get_module(root: nn.Module, path: str) -> nn.Module:
    """The submodule at a dotted ``path`` (``transformer_blocks.6.attn2``; ``""`` is ``root``)."""
    try:
        return root.get_submodule(path)
    except AttributeError as err:
        raise ValueError(f"site module '{path}' does not exist in {type(root).__name__}") from err


@contextmanager
def intervene(root: nn.Module, edits: Mapping[Site, Edit], ctx: HookContext) -> Iterator[None]:
    """Attach ``edits`` to their sites under ``root`` for the duration of the block."""
    handles: list[RemovableHandle] = []
    try:
        for site, edit in edits.items():
            handles += edit.attach(get_module(root, site.target), site, ctx)
        yield
    finally:
        for handle in reversed(handles):
            handle.remove()


class StopForward(Exception):
    """Raised to end a generation once enough has been recorded."""
