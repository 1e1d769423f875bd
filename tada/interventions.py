"""One intervention mechanism for every architecture: edits attached to named sites.

An :class:`Edit` says what happens at a site; :func:`intervene` attaches edits to the modules the
sites name, for the duration of a ``with`` block, using plain PyTorch hooks. Patching, ablation,
recording and (later) steering are all edits, so no architecture needs a controller of its own.

* :class:`Record` keeps the conditioning kwargs (``encoder_hidden_states``, masks) a cross-attention
  receives on its first ``n_calls`` calls.
* :class:`ReplaceConditioning` feeds recorded conditioning back in (activation patching); on a
  ``k``/``v`` site only that projection's input is replaced.
* :class:`ZeroOutput` ablates a site's output; :class:`MapOutput` applies a function to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from tada.sites import Site

Conditioning = dict[str, torch.Tensor]


class Edit:
    """What to do at one site; subclasses implement :meth:`attach`."""

    def attach(self, module: nn.Module, site: Site, cond_kwargs: tuple[str, ...]) -> list[RemovableHandle]:
        raise NotImplementedError


@dataclass
class Record(Edit):
    """Record the conditioning kwargs of the first ``n_calls`` calls of a cross-attention site."""

    n_calls: int = 1
    calls: list[Conditioning] = field(default_factory=list)

    def attach(self, module: nn.Module, site: Site, cond_kwargs: tuple[str, ...]) -> list[RemovableHandle]:
        def hook(_mod: nn.Module, args: tuple, kwargs: dict) -> None:
            if len(self.calls) < self.n_calls:
                self.calls.append(
                    {k: kwargs[k].detach().clone() for k in cond_kwargs if isinstance(kwargs.get(k), torch.Tensor)}
                )

        return [module.register_forward_pre_hook(hook, with_kwargs=True)]


@dataclass
class ReplaceConditioning(Edit):
    """Replace the conditioning a site receives with recorded values (call ``i`` uses ``calls[i % n]``).

    Calls before ``start`` pass through unchanged (prompt switching late in sampling, as in PCI).
    """

    calls: list[Conditioning]
    start: int = 0
    _count: int = 0

    def _next(self) -> Conditioning | None:
        i = self._count
        self._count += 1
        return self.calls[i % len(self.calls)] if i >= self.start else None

    def attach(self, module: nn.Module, site: Site, cond_kwargs: tuple[str, ...]) -> list[RemovableHandle]:
        if site.projection:

            def proj_hook(_mod: nn.Module, args: tuple) -> tuple:
                values = self._next()
                if values is None:
                    return args
                return (_match(values["encoder_hidden_states"], args[0], whole_shape=True), *args[1:])

            return [module.register_forward_pre_hook(proj_hook)]

        def hook(_mod: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
            values = self._next()
            if values is None:
                return args, kwargs
            new = dict(kwargs)
            for k, v in values.items():
                new[k] = _match(v, kwargs.get(k))
            return args, new

        return [module.register_forward_pre_hook(hook, with_kwargs=True)]


@dataclass
class MapOutput(Edit):
    """Replace a site's output ``h`` by ``fn(h)`` (the first element when the module returns a tuple)."""

    fn: Callable[[torch.Tensor], torch.Tensor]

    def attach(self, module: nn.Module, site: Site, cond_kwargs: tuple[str, ...]) -> list[RemovableHandle]:
        def hook(_mod: nn.Module, _args: tuple, output: Any) -> Any:
            if isinstance(output, tuple):
                return (self.fn(output[0]), *output[1:])
            return self.fn(output)

        return [module.register_forward_hook(hook)]


class ZeroOutput(MapOutput):
    """Ablate a site: its output becomes zeros."""

    def __init__(self) -> None:
        super().__init__(torch.zeros_like)


def _match(value: torch.Tensor, like: torch.Tensor | None, whole_shape: bool = False) -> torch.Tensor:
    """Move a recorded tensor to the device and dtype of the one it replaces, checking its shape.

    A whole cross-attention accepts any number of text tokens (its mask is replaced too), so only
    the batch must agree; a lone key or value projection needs the exact shape.
    """
    if like is None:
        return value
    if (value.shape != like.shape) if whole_shape else (value.shape[0] != like.shape[0]):
        raise ValueError(
            f"recorded conditioning has shape {tuple(value.shape)} but the site receives {tuple(like.shape)}: "
            + ("key/value patching needs clean and corrupted prompts of equal token length" if whole_shape
               else "record with the same batch of seeds as the patched generation")
        )
    return value.to(device=like.device, dtype=like.dtype)


def get_module(root: nn.Module, path: str) -> nn.Module:
    """The submodule at a dotted ``path`` (``transformer_blocks.6.attn2``)."""
    try:
        return root.get_submodule(path)
    except AttributeError as err:
        raise ValueError(f"site module '{path}' does not exist in {type(root).__name__}") from err


@contextmanager
def intervene(
    root: nn.Module, edits: Mapping[Site, Edit], cond_kwargs: tuple[str, ...] = ("encoder_hidden_states",)
) -> Iterator[None]:
    """Attach ``edits`` to their sites under ``root`` for the duration of the block."""
    handles: list[RemovableHandle] = []
    try:
        for site, edit in edits.items():
            handles += edit.attach(get_module(root, site.target), site, cond_kwargs)
        yield
    finally:
        for handle in handles:
            handle.remove()


class StopForward(Exception):
    """Raised by :func:`stop_after` to end a generation once enough has been recorded."""


@contextmanager
def stop_after(module: nn.Module, n_calls: int) -> Iterator[None]:
    """Abort the surrounding computation after ``module`` has run ``n_calls`` times."""
    count = 0

    def hook(_mod: nn.Module, _args: tuple, _out: Any) -> None:
        nonlocal count
        count += 1
        if count >= n_calls:
            raise StopForward

    handle = module.register_forward_hook(hook)
    try:
        yield
    except StopForward:
        pass
    finally:
        handle.remove()
