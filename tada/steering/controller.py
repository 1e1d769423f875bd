"""The one controller interface every steering method implements.

``with model.steer(CAA.from_pretrained(path, alpha=20, target_layers="tf6tf7")): model.generate(...)``

A controller holds a concept, ``alpha``, the target sites (``target_layers``: a preset name, a list
of site names, ``all``), the CFG mode and the step window. ``model.steer`` binds it to the model (its
checks run there, before any generation) and hands every ``generate`` to :meth:`Controller.generate`,
which builds what is generated from the raw prompts (the method's neutral prompt) and attaches the
method's edits for that call only. Methods with a compute step save and load their artifact with
:meth:`save_pretrained` / :meth:`from_pretrained` (safetensors + ``config.json``).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors.torch import load_file, save_file

from tada.errors import ConfigError, MissingCheckpointError
from tada.interventions import Edit, PassConditioning, StepWindow
from tada.models.base import Audio, GenerationConfig, ModelAdapter
from tada.sites import Site
from tada.steering.concepts import Concept

ARTIFACT_CONFIG = "config.json"
ARTIFACT_TENSORS = "vectors.safetensors"


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tada")
    except PackageNotFoundError:
        return "unknown"


#: an option configured as this takes the reference's per-concept value (``Controller.reference_option``)
REFERENCE = "reference"


class Controller(ABC):
    """A steering method bound to one concept; ``alpha`` is its signed strength."""

    method: ClassVar[str]
    #: CFG modes this method accepts (the first is its default)
    modes: ClassVar[tuple[str, ...]] = ("cond_only",)
    #: option -> the reference's value per concept, for options configured as ``reference``
    reference_values: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    def __init__(
        self,
        concept: Concept,
        alpha: float = 0.0,
        target_layers: str | Sequence[str] = "all",
        mode: str | None = None,
        start_step: int = 0,
        end_step: int | None = None,
    ) -> None:
        self.concept = concept
        self.target_layers = target_layers
        self.mode = mode or self.modes[0]
        if self.mode not in self.modes:
            raise ConfigError(f"{self.method} takes mode {' | '.join(self.modes)}; got '{self.mode}'")
        self.start_step, self.end_step = start_step, end_step
        self.sites: list[Site] = []
        self._recorded: dict[tuple, dict[str, PassConditioning]] = {}
        self.set_alpha(alpha)

    @classmethod
    def reference_option(cls, option: str, concept: str, arm: str | None) -> Any:
        """The reference's per-concept value of ``option`` (configured as ``reference``) for ``arm``: an
        entry of :attr:`reference_values` (a subclass may pick the arm's part of it)."""
        if option not in cls.reference_values:
            raise ConfigError(f"{cls.method} has no reference value for option '{option}': set a number")
        table = cls.reference_values[option]
        if concept not in table:
            raise ConfigError(f"the reference has no {cls.method} {option} for concept '{concept}'; it has {sorted(table)}")
        return table[concept]

    # --- life cycle -------------------------------------------------------------------------
    def set_alpha(self, alpha: float) -> None:
        """Change the strength (a sweep mounts once and changes only alpha)."""
        self.alpha = float(alpha)

    def bind(self, adapter: ModelAdapter) -> None:
        """Resolve the target sites on ``adapter`` and check the controller fits it (before any work)."""
        registry = adapter.registry()
        if isinstance(self.target_layers, str):
            self.sites = registry.resolve(self.target_layers)
        else:
            self.sites = [s for name in self.target_layers for s in registry.resolve(name)]
        self._recorded.clear()
        self.check(adapter)
        if self.end_step is not None or self.start_step:
            StepWindow(self.start_step, self.end_step).check(adapter.generation_config("steering").steps)

    def record(
        self,
        adapter: ModelAdapter,
        key: tuple,
        prompts: list[str],
        seeds: list[int],
        config: GenerationConfig,
        sites: list[Site],
    ) -> dict[str, PassConditioning]:
        """Recorded conditioning, cached per batch (a sweep records each target once for all alphas)."""
        full = (key, tuple(prompts), tuple(seeds), repr(config), tuple(s.name for s in sites))
        if full not in self._recorded:
            self._recorded[full] = adapter.record_conditioning(prompts, seeds, config, sites)
        return self._recorded[full]

    def check(self, adapter: ModelAdapter) -> None:
        """Method-specific checks against the model (artifact arch, widths...)."""

    def neutral(self, prompt: str) -> str:
        """What is generated for ``prompt`` at alpha 0."""
        return self.concept.triple(prompt, self.method)[0]

    def generate(self, adapter: ModelAdapter, prompts: list[str], seeds: list[int], config: GenerationConfig) -> Audio:
        """Generate the neutral prompts with this method's edits (none at alpha 0)."""
        neutral = [self.neutral(p) for p in prompts]
        if self.alpha == 0 or not self.sites:
            return adapter.sample(neutral, seeds, config)
        with adapter.intervene(self.edits(adapter, prompts, seeds, config)):
            return adapter.sample(neutral, seeds, config)

    @abstractmethod
    def edits(
        self, adapter: ModelAdapter, prompts: list[str], seeds: list[int], config: GenerationConfig
    ) -> Mapping[Site, Edit]:
        """The edits that steer one generation of ``prompts``."""

    # --- artifacts ---------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """Everything that defines this controller, for its artifact's JSON."""
        return {
            "method": self.method,
            "concept": self.concept.name,
            "target_layers": self.target_layers if isinstance(self.target_layers, str) else list(self.target_layers),
            "mode": self.mode,
            "start_step": self.start_step,
            "end_step": self.end_step,
            "tada_version": package_version(),
        }


class ArtifactController(Controller):
    """A controller whose method has a compute step; its result is an artifact of tensors + JSON."""

    #: the artifact's tensor file (the reference's name where it has one)
    tensors_file: ClassVar[str] = ARTIFACT_TENSORS
    #: options of ``compute`` (a configuration's method options hold both; the controller gets the rest)
    compute_options: ClassVar[tuple[str, ...]] = ()
    #: the artifact is made for the sites it steers (one per arm), not once on every site and subset later
    computed_per_arm: ClassVar[bool] = False

    def __init__(self, concept: Concept, tensors: dict[str, torch.Tensor], meta: dict[str, Any], **kwargs: Any) -> None:
        self.tensors, self.meta = tensors, meta
        super().__init__(concept, **kwargs)

    def save_pretrained(self, path: str | Path) -> None:
        """Write the tensors (``vectors.safetensors``) and ``config.json`` (the compute settings and provenance)."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in self.tensors.items()}, str(path / self.tensors_file))
        meta = {**self.meta, "method": self.method, "concept": self.concept.name, "tada_version": package_version()}
        (path / ARTIFACT_CONFIG).write_text(json.dumps(meta, indent=1))

    @classmethod
    def from_pretrained(cls, path_or_id: str | Path, concept: Concept | None = None, **kwargs: Any) -> ArtifactController:
        """Load an artifact from a folder or a hub id; ``kwargs`` set alpha, target_layers (default: the
        artifact's sites), mode, step window."""
        folder = artifact_folder(path_or_id)
        meta = json.loads((folder / ARTIFACT_CONFIG).read_text())
        if meta.get("method") != cls.method:
            raise ConfigError(f"{folder} holds a '{meta.get('method')}' artifact, not '{cls.method}'")
        if concept is None:
            concept = stored_concept(meta)
        elif concept.name != meta["concept"]:
            raise ConfigError(f"{folder} was computed for concept '{meta['concept']}', not '{concept.name}'")
        kwargs.setdefault("target_layers", list(meta["sites"]))  # default: every site it was computed on
        return cls(concept, load_file(str(folder / cls.tensors_file)), meta, **kwargs)

    def push_to_hub(self, repo_id: str, **kwargs: Any) -> str:
        """Upload the artifact to the Hub repository ``repo_id`` (``kwargs``: token, private, commit_message)."""
        return push_folder(self.save_pretrained, repo_id, **kwargs)

    def check(self, adapter: ModelAdapter) -> None:
        if self.meta["arch"] != adapter.arch:
            raise ConfigError(
                f"this {self.method} artifact was computed on '{self.meta['arch']}', not '{adapter.arch}'"
            )
        missing = [s.name for s in self.sites if s.name not in self.meta["sites"]]
        if missing:
            raise ConfigError(
                f"this {self.method} artifact has no vectors for site(s) {missing}; it covers {self.meta['sites']}"
            )
        for site in self.sites:
            width, stored = adapter.site_width(site), self.meta["widths"][site.name]
            if width != stored:
                raise ConfigError(f"site {site.name} has width {width} on this model; the artifact's is {stored}")

    def check_steps(self, config: GenerationConfig) -> None:
        if config.steps != self.meta["steps"]:
            raise ConfigError(
                f"this {self.method} artifact holds vectors for {self.meta['steps']} sampling steps; "
                f"generation asks for {config.steps}"
            )


def generation_settings(config: GenerationConfig) -> dict[str, Any]:
    """The generation settings an artifact records (steps, guidance scale, duration)."""
    return {"steps": config.steps, "guidance_scale": config.guidance_scale, "duration": config.duration}


def computed_on(adapter: ModelAdapter, sites: Sequence[Site], config: GenerationConfig, concept: Concept) -> dict[str, Any]:
    """The part of an artifact's JSON every computed method shares: the model and its sites (with widths),
    the generation settings and the concept's prompt sets."""
    return {
        "arch": adapter.arch,
        "sites": [s.name for s in sites],
        "widths": {s.name: adapter.site_width(s) for s in sites},
        "steps": config.steps,
        "generation": generation_settings(config),
        "positive": list(concept.positive),
        "negative": list(concept.negative),
        "templates": dict(concept.templates),
    }


def stored_concept(meta: dict[str, Any]) -> Concept:
    """The concept an artifact was computed for: its architecture profile's, when that needs no outside
    data (mini), else rebuilt from the prompts and templates stored in the artifact."""
    from tada.steering.profiles import profile

    try:
        return profile(meta["arch"]).concept(meta["concept"])
    except ConfigError:
        return Concept(meta["concept"], meta["positive"], meta["negative"], templates=meta.get("templates", {}))


def push_folder(
    save: Callable[[Path], None],
    repo_id: str,
    token: str | None = None,
    private: bool | None = None,
    commit_message: str = "Upload tada steering artifact",
) -> str:
    """Write an artifact with ``save`` to a temporary folder and upload it to ``repo_id`` (created if
    missing); returns the commit URL. ``from_pretrained(repo_id)`` reads it back."""
    import tempfile

    from huggingface_hub import create_repo, upload_folder

    with tempfile.TemporaryDirectory() as tmp:
        save(Path(tmp))
        create_repo(repo_id, token=token, private=private, exist_ok=True)
        return str(upload_folder(repo_id=repo_id, folder_path=tmp, token=token, commit_message=commit_message))


def artifact_folder(path_or_id: str | Path) -> Path:
    """A local artifact folder, or a hub repository downloaded to the local cache."""
    path = Path(path_or_id).expanduser()
    if path.is_dir():
        if not (path / ARTIFACT_CONFIG).is_file():
            raise MissingCheckpointError(f"'{path}' is not a steering artifact: no {ARTIFACT_CONFIG}")
        return path
    if str(path_or_id).count("/") != 1 or str(path_or_id).startswith((".", "/", "~")):
        raise MissingCheckpointError(f"steering artifact '{path_or_id}' not found; compute it with `tada compute`")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(str(path_or_id)))
    except Exception as err:  # noqa: BLE001 - any failure means the same thing to the user
        raise MissingCheckpointError(
            f"steering artifact '{path_or_id}' is neither a local folder nor downloadable from the Hub ({err})"
        ) from err
