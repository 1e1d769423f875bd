"""The steering methods by name, and how a (method, arm) cell builds its controller."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from tada.errors import ConfigError, unknown_name
from tada.steering.austeer import AUSteer
from tada.steering.caa import CAA
from tada.steering.concepts import Concept
from tada.steering.controller import REFERENCE, ArtifactController, Controller
from tada.steering.freesliders import FreeSliders
from tada.steering.pci import PCI
from tada.steering.sae import SAE
from tada.steering.schedules import ActivationController
from tada.steering.sliders import ConceptSliders
from tada.steering.textemb import TextEmb
from tada.steering.tokemb import TokEmb

METHODS: dict[str, type[Controller]] = {"pci": PCI, "textemb": TextEmb, "freesliders": FreeSliders, "caa": CAA}
METHODS |= {"sliders": ConceptSliders, "sae": SAE}
METHODS |= {"tokemb": TokEmb, "austeer": AUSteer}
#: arms of a protocol cell: every cross-attention site, the localized preset, every site but the localized
#: ones (the reference's "ablated"), or (activation methods) the random-direction control at the localized preset
ARMS: tuple[str, ...] = ("all", "loc", "ablated", "random")
#: the arms whose sites derive from the localized preset
LOCALIZED_ARMS: tuple[str, ...] = ("loc", "ablated", "random")


def method_class(method: str) -> type[Controller]:
    if method not in METHODS:
        raise unknown_name("steering method", method, METHODS)
    return METHODS[method]


def has_random_control(method: str) -> bool:
    """Whether ``method`` is an activation method, so its ``random`` arm exists."""
    return issubclass(method_class(method), ActivationController)


def needs_artifact(method: str) -> bool:
    """Whether ``method`` has a compute step whose artifact a sweep loads."""
    return issubclass(method_class(method), ArtifactController)


def compute_options(method: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options of ``method``'s compute step among a configuration's method options, each checked
    against the type of its default in the compute step (a YAML ``iterations: true`` or ``weighting: 1`` is refused)."""
    cls = method_class(method)
    chosen = {k: v for k, v in options.items() if k in getattr(cls, "compute_options", ())}
    defaults = inspect.signature(cls.compute).parameters
    for name, value in chosen.items():
        default = defaults[name].default if name in defaults else None
        if default is None or default is inspect.Parameter.empty:
            continue
        expected = (int, float) if type(default) is float else (type(default),)
        if isinstance(value, bool) is not isinstance(default, bool) or not isinstance(value, expected):
            raise ConfigError(f"{method} compute option '{name}' must be of type {type(default).__name__} (like {default!r}); got {value!r}")
    return chosen


def controller_options(method: str) -> set[str]:
    """The options ``method``'s controller takes (``mode``, ``renorm``, ``top_k``...), from its constructors."""
    internal = {"self", "concept", "tensors", "meta", "alpha", "target_layers", "random_control"}
    names = set()
    for cls in method_class(method).__mro__:
        if "__init__" in vars(cls):
            params = inspect.signature(cls.__init__).parameters.values()
            names |= {p.name for p in params if p.kind is p.POSITIONAL_OR_KEYWORD or p.kind is p.KEYWORD_ONLY}
    return names - internal


def cell_name(method: str, arm: str) -> str:
    return f"{method}_{arm}"


def artifact_name(method: str, arm: str) -> str:
    """The artifact a (method, arm) cell loads: the method's, shared by its arms, or the arm's own."""
    cls = method_class(method)
    if not issubclass(cls, ArtifactController):
        raise ConfigError(f"{method} has no compute step; it steers directly")
    return cell_name(method, arm) if cls.computed_per_arm else method


def split_artifact(name: str) -> tuple[str, str | None]:
    """``caa`` -> (``caa``, None); ``sliders_loc`` -> (``sliders``, ``loc``)."""
    return (name, None) if name in METHODS else split_cell(name)


def split_cell(cell: str) -> tuple[str, str]:
    """``caa_loc`` -> (``caa``, ``loc``), checking both names."""
    method, _, arm = cell.rpartition("_")
    method_class(method)
    if arm not in ARMS:
        raise unknown_name("steering arm", arm, ARMS)
    return method, arm


def make_controller(
    method: str, concept: Concept | None, target_layers: str | None = None, artifact: str | Path | None = None,
    arm: str | None = None, **options: Any,
) -> Controller:
    """The controller of ``method`` for ``concept`` at ``target_layers`` (loading ``artifact`` if it has one:
    its concept and sites are the defaults); arm ``random`` makes it the random-direction control."""
    cls = method_class(method)
    if arm == "random" or options.get("random_control"):
        if not has_random_control(method):
            activation = [m for m in METHODS if has_random_control(m)]
            raise ConfigError(f"{method} has no random-direction control (arm 'random'): only activation methods {activation} do")
        options["random_control"] = True
    if options.get("schedule") is not None and not has_random_control(method):
        raise ConfigError(f"strength schedules are for activation methods; {method} takes start_step / end_step only")
    if target_layers is not None:
        options["target_layers"] = target_layers
    for key in [k for k, v in options.items() if v == REFERENCE]:
        if concept is None:
            raise ConfigError(f"{method} option {key}: reference needs the concept it is looked up for")
        options[key] = cls.reference_option(key, concept.name, arm)
    if issubclass(cls, ArtifactController):
        settings = {k: options.pop(k) for k in list(options) if k in cls.compute_options}
        if artifact is None:
            raise ConfigError(f"{method} needs an artifact: compute it first (`tada compute --method {method}`)")
        controller = cls.from_pretrained(artifact, concept, **options)
        stale = {k: (controller.meta[k], v) for k, v in settings.items() if k in controller.meta and controller.meta[k] != v}
        if stale:
            raise ConfigError(
                f"the {method} artifact {artifact} was computed with {', '.join(f'{k} {a}' for k, (a, _) in stale.items())}; "
                f"the configuration asks for {', '.join(f'{k} {b}' for k, (_, b) in stale.items())}: recompute it"
            )
        return controller
    if concept is None:
        raise ConfigError(f"{method} needs a concept")
    return cls(concept, **options)
