# Shared definitions: config validation, result paths, wildcard constraints from the registries.
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

from tada.errors import ConfigError, UnknownNameError
from tada.localization.patching import Patching
from tada.localization.prompts import prompt_pairs
from tada.localization.studies import check_features, check_presets, layer_names, study
from tada.models import ARCHITECTURES
from tada.protocol import reference_data
from tada.protocol.eval_set import check_balance
from tada.protocol.tables import REFERENCE_CELLS
from tada.steering.methods import ARMS as STEERING_ARMS
from tada.steering.methods import LOCALIZED_ARMS
from tada.steering.methods import METHODS as STEERING_METHODS
from tada.steering.methods import artifact_name, cell_name, has_random_control, needs_artifact, split_artifact, split_cell
from tada.steering.grids import reference_grids
from tada.steering.profiles import profile
from tada.world.synth import check_prior

min_version("9.0")

validate(config, schema="../schemas/config.schema.yaml")
check_prior(config["world"].get("prior", {}))

RESULTS = config["results"]
LOGS = f"{RESULTS}/logs"
MINI = f"{RESULTS}/mini"
MINI_MODEL = f"{MINI}/model/config.json"
MINI_SCORER = f"{MINI}/scorer/config.json"
LOC = f"{RESULTS}/localization"
#: what this workflow builds for an arch itself (the mini model) and the real archs take from config:
#: its checkpoint, the files a rule using its model or its scorer depends on, the preset its own
#: localization found (its `loc` arms) and its load options
BUILT_HERE = {
    "mini": {
        "checkpoint": f"{MINI}/model",
        "model": [MINI_MODEL],
        "scorer": [MINI_SCORER],
        "localized": f"{LOC}/mini/localized.yaml",
        "load": {"device": config["device"]},
    },
}


def built_here(arch, key, default=None):
    """One entry of ``BUILT_HERE`` for ``arch``, or ``default`` for an arch this workflow does not build."""
    return BUILT_HERE.get(arch, {}).get(key, default)


wildcard_constraints:
    arch="|".join(ARCHITECTURES),


def per_arch(value, arch):
    """A config value set for every arch (a list) or per arch (a mapping; ``default`` for the rest)."""
    return value.get(arch, value.get("default", [])) if isinstance(value, dict) else value


def model_card_targets():
    """The mini model card, when the mini model is localized or steered."""
    return [f"{MINI}/model_card.md"] if "mini" in {*config["localization"]["archs"], *config["steering"]["archs"]} else []


def checkpoint_of(arch):
    """Where an architecture's weights come from: the trained mini model or the configured checkpoint."""
    return built_here(arch, "checkpoint") or config["models"][arch]["checkpoint"]


def model_inputs(arch):
    """Files a rule using ``arch`` depends on (the mini checkpoint is built by this workflow)."""
    return built_here(arch, "model", [])


def scorer_inputs(arch):
    """Files the arch's alignment scorer depends on (the mini scorer is built by this workflow)."""
    return built_here(arch, "scorer", [])


def load_options(arch):
    """Keyword arguments for ``tada.models.load_model``: device and dtype of the arch."""
    built = built_here(arch, "load")
    if built:
        return dict(built)
    opts = config["models"][arch]
    return {"device": opts.get("device", config["device"]), "dtype": opts.get("dtype", "float32")}


# --- reference data: the paper's frozen CSVs (published tables, published heatmaps) ---
# A local copy (reference.published) is read in place once its SHA-256 check passes; without one, the
# files are downloaded from reference.published_url into REFERENCE_CACHE (rule fetch_published_reference)
# when a published target is asked for. `rule all` asks for them only when they are there or
# reference.fetch is true; otherwise one line says how to enable them.
REFERENCE = config.get("reference", {})
REFERENCE_URL = REFERENCE.get("published_url") or reference_data.PUBLISHED_URL
REFERENCE_CACHE = f"{RESULTS}/reference/tada-published"
if reference_data.has_copy(REFERENCE.get("published")):
    reference_data.verify_copy(REFERENCE["published"])  # a modified copy stops here, naming the file
    PUBLISHED = REFERENCE["published"]
    PUBLISHED_IN_ALL = True
else:
    PUBLISHED = REFERENCE_CACHE  # an earlier download counts: it was verified when fetched
    PUBLISHED_IN_ALL = str(REFERENCE.get("fetch")).lower() == "true" or reference_data.has_copy(REFERENCE_CACHE)
    if not PUBLISHED_IN_ALL:
        print(reference_data.skipped_message(REFERENCE.get("published"), REFERENCE_URL), file=sys.stderr)


def published_input(name):
    """Path of one reference CSV: in the local copy, or in the cache the fetch rule fills."""
    return f"{PUBLISHED}/{name}"


def published_targets():
    """The published tables of every configured axis, when the reference data is to be used."""
    return [f"{RESULTS}/published/tables_{axis}.csv" for axis in published_axes()]


def published_axes():
    """The preservation axes of the published tables, when the reference data is to be used."""
    return config["protocol"]["published_axes"] if PUBLISHED_IN_ALL else []


# --- localization ---
LOCALIZATION = config["localization"]
LOC_PUBLISHED = PUBLISHED_IN_ALL  # the published heatmaps are in `rule all`
LOC_PUBLISHED_MODELS = ("ace", "audioldm2", "stableaudio")
LOC_PATCHING = Patching(LOCALIZATION["variant"], LOCALIZATION["reverse"])  # a bad combination fails here

def features_of(arch):
    """The localization features of ``arch`` (``localization.features``: a list or per arch)."""
    return per_arch(LOCALIZATION["features"], arch)


def localization_sites(arch):
    """The sites whose impact is measured: every cross-attention layer, or the configured presets."""
    if LOCALIZATION["presets"] == "layers":
        return layer_names(arch, config["mini"]["num_layers"])
    return [p for p in LOCALIZATION["presets"] if p not in ("none", "all")]


def localization_presets(arch):
    return ["none", "all", *localization_sites(arch)]


for _arch in LOCALIZATION["archs"]:  # an unknown feature or preset, or a bad prompt file, fails here, before any job
    check_features(_arch, features_of(_arch))
    check_presets(_arch, localization_sites(_arch), LOC_PATCHING, config["mini"]["num_layers"])
    if Path(LOCALIZATION["prompt_files"].get(_arch, "")).is_file():  # a missing one: snakemake's missing input
        prompt_pairs(_arch, features_of(_arch), LOCALIZATION["pairs_per_feature"], LOCALIZATION["prompt_files"][_arch])


def localization_families(arch):
    """The families of the configured features, where the arch's study groups them (the mini world)."""
    return sorted(set((study(arch).families(features_of(arch)) or {}).values()))


def localization_targets(wildcards=None):
    """Final files of the localization of every configured arch, and the published heatmaps."""
    names = ["impact.csv", "heatmap.png", "heatmap.pdf", "impact_bars.png", "localized.yaml", "summary.md"]
    files = []
    for arch in LOCALIZATION["archs"]:
        files += [f"{LOC}/{arch}/{name}" for name in names]
        files += [f"{LOC}/{arch}/localized_{family}.yaml" for family in localization_families(arch)]
    if LOC_PUBLISHED:
        files += [f"{LOC}/published/heatmap_{model}.png" for model in LOC_PUBLISHED_MODELS]
    return files


# --- steering: artifacts and sweeps ---
STEERING = config["steering"]
BALANCE = STEERING.get("balance", {})
#: artifact folder names: a method's (shared by its arms) or, for methods computed per arm, ``method_arm``
ARTIFACT_NAMES = sorted({artifact_name(m, a) for m in STEERING_METHODS if needs_artifact(m) for a in STEERING_ARMS})


def localized_file(arch):
    """The preset file of ``arch``'s localized arms, where it is not the shipped ``localized`` preset:
    ``steering.localized.<arch>``, else the one its localization found (mini)."""
    return STEERING.get("localized", {}).get(arch) or built_here(arch, "localized")


def steering_profile(arch):
    """The architecture profile, with the preset of its localized arms (:func:`localized_file`)."""
    return profile(arch, localized_file(arch), STEERING.get("reference_prompts"))


def concepts_of(arch):
    return per_arch(STEERING["concepts"], arch)


def methods_of(arch):
    return per_arch(STEERING["methods"], arch)


# steering.alphas: reference = the paper's grid per (arch, method, concept, arm), read from the reference data
PAPER_GRIDS = reference_grids(STEERING["reference_prompts"]) if STEERING["alphas"] == "reference" else None

for _arch in STEERING["archs"]:  # unknown names fail here, before any job (snakemake -n included)
    for _concept in concepts_of(_arch):
        steering_profile(_arch).check_concept(_concept)
    for _method in methods_of(_arch):
        if _method not in STEERING_METHODS:
            raise ValueError(f"unknown steering method '{_method}' in steering.methods; valid: {sorted(STEERING_METHODS)}")
        if PAPER_GRIDS is None and _method not in STEERING["alphas"]:
            raise ValueError(f"steering.alphas has no grid for method '{_method}'")


def known_concepts():
    """Every concept of every architecture's profile (a grid may stay for an arch not steered now), or None
    where one cannot be listed (a real arch without the reference prompts): then nothing is refused."""
    names = set()
    for arch in ARCHITECTURES:
        try:
            names |= set(profile(arch, None, STEERING.get("reference_prompts")).concept_names())
        except ConfigError:
            return None
    return names


_known = known_concepts() if PAPER_GRIDS is None else None
for _method, _grid in STEERING["alphas"].items() if _known is not None else []:  # a misspelt concept: default grid
    for _concept in sorted(set(_grid) - {"default"}) if isinstance(_grid, dict) else []:
        if _concept not in _known:
            raise ConfigError(f"steering.alphas.{_method}.{_concept}: '{_concept}' is no architecture's concept; valid: {sorted(_known)}")
for _arch in BALANCE.get("archs", []):
    if _arch in STEERING["archs"]:
        check_balance(steering_profile(_arch), concepts_of(_arch), STEERING["prompts"], BALANCE["pool_prompts"], STEERING.get("noise", "per_clip"))


def alpha_grid(arch, method, concept, arm):
    """The alpha grid of a sweep: the paper's, or ``steering.alphas.<method>`` (a list, or a mapping of
    concepts to lists with a ``default``)."""
    if PAPER_GRIDS is not None:
        rows = PAPER_GRIDS.query("arch == @arch and method == @method and concept == @concept and arm == @arm")
        return rows.alphas.iloc[0]
    grid = STEERING["alphas"][method]
    return grid.get(concept, grid["default"]) if isinstance(grid, dict) else grid


def sweep_manifest(arch, concept, method, arm):
    return f"{RESULTS}/sweeps/{arch}/{concept}/{method}_{arm}/manifest.csv"


def artifact_dir(arch, concept, artifact):
    return f"{RESULTS}/steering/{arch}/{concept}/{artifact}"


def eval_set_path(arch, concept):
    """Where the balanced evaluation set of (arch, concept) is written (rule eval_set)."""
    return f"{RESULTS}/steering/{arch}/{concept}/eval_set.csv"


def eval_set_of(arch, concept):
    """The evaluation set file a sweep of ``arch`` reads, or None (the profile's prompts x seeds)."""
    return eval_set_path(arch, concept) if arch in BALANCE.get("archs", []) else None


def sweep_inputs(arch, concept, method, arms, with_artifacts=True):
    """The model, the artifact of each arm (``artifact_<arm>``, for methods with a compute step, unless
    the job computes them itself), the found localized preset where an arm uses it and the balanced
    evaluation set (archs in ``steering.balance.archs``)."""
    inputs = {"model": model_inputs(arch)}
    if eval_set_of(arch, concept):
        inputs["eval_set"] = eval_set_of(arch, concept)
    for arm in arms:
        if arm == "random" and not has_random_control(method):
            raise ValueError(f"{method} has no random-direction control: arm 'random' is for activation methods")
        if needs_artifact(method) and with_artifacts:
            inputs[f"artifact_{arm}"] = artifact_dir(arch, concept, artifact_name(method, arm))
        inputs.update(localized_input(arch, arm))
    return inputs


def batched_artifacts(method, arms):
    """The artifacts a ``sweep_<arch>_<method>`` job computes before it sweeps: ``{arm: artifact name}``."""
    return {arm: artifact_name(method, arm) for arm in arms} if needs_artifact(method) else {}


def batched_arms(arch, method):
    """The arms one ``sweep_<arch>_<method>`` job sweeps: the same for every concept of the arch."""
    arms = {concept: [split_cell(cell)[1] for c, cell in steering_cells(arch) if c == concept and split_cell(cell)[0] == method] for concept in concepts_of(arch)}
    distinct = {tuple(a) for a in arms.values()}
    if len(distinct) != 1:
        raise ValueError(f"steering.batch_arms: the arms of {arch} / {method} differ between concepts ({arms}); sweep it per cell")
    return list(distinct.pop())


def per_cell_archs_pattern():
    """The archs whose sweeps run one job per cell (the `sweep` rule), those not in ``steering.batch_arms``."""
    archs = [a for a in ARCHITECTURES if a not in STEERING.get("batch_arms", [])]
    return "|".join(archs) if archs else "(?!)"


def localized_input(arch, arm):
    """The preset file of the localized arms (:func:`localized_file`), for the arms that use it."""
    localized = localized_file(arch)
    return {"localized": localized} if arm in LOCALIZED_ARMS and localized else {}


def artifact_inputs(wildcards):
    """The model, and the found localized preset for an artifact computed on an arm's sites."""
    _, arm = split_artifact(wildcards.artifact)
    return {"model": model_inputs(wildcards.arch), **(localized_input(wildcards.arch, arm) if arm else {})}


def artifact_sites(arch, artifact):
    """The sites an artifact is computed on: every site (None), or its arm's for methods computed per arm."""
    _, arm = split_artifact(artifact)
    return None if arm is None else steering_profile(arch).target_layers(arm)


def steering_cells(arch):
    """(concept, cell) of every configured sweep of ``arch``."""
    if PAPER_GRIDS is not None:  # the cells the paper has a grid for
        rows = PAPER_GRIDS[(PAPER_GRIDS.arch == arch) & PAPER_GRIDS.method.isin(methods_of(arch))]
        rows = rows[rows.concept.isin(concepts_of(arch)) & rows.arm.isin(STEERING["arms"])]
        return [(r.concept, cell_name(r.method, r.arm)) for r in rows.itertuples()]
    return [
        (c, cell_name(m, a))
        for c in concepts_of(arch)
        for m in methods_of(arch)
        for a in STEERING["arms"]
        if a != "random" or has_random_control(m)  # the random control exists for activation methods only
    ]


def check_localized(arch):
    """The localized preset of ``arch``'s arms that use one names sites of it: a shipped preset or an existing
    file is resolved now (a file this workflow builds, as mini's, is resolved by the job)."""
    if not any(split_cell(cell)[1] in LOCALIZED_ARMS for _, cell in steering_cells(arch)):
        return
    preset = steering_profile(arch).localized
    if preset.endswith((".yaml", ".yml")) and not Path(preset).is_file():
        return
    try:
        study(arch).registry(config["mini"]["num_layers"]).resolve(preset)
    except UnknownNameError:
        if preset != "localized":
            raise
        raise ConfigError(
            f"the {', '.join(LOCALIZED_ARMS)} arms of '{arch}' steer its localized preset, and none ships for it: "
            f"set steering.localized.{arch} to a preset file (e.g. {LOC}/{arch}/localized.yaml, which localizing "
            f"{arch} writes: add it to localization.archs) or steer it on the 'all' arm only"
        ) from None


for _arch in STEERING["archs"]:
    check_localized(_arch)


def sweep_targets():
    """Manifests of every configured sweep."""
    return [f"{RESULTS}/sweeps/{arch}/{c}/{cell}/manifest.csv" for arch in STEERING["archs"] for c, cell in steering_cells(arch)]


# --- protocol ---
PROTOCOL = config["protocol"]
PROTOCOL_REFERENCE_CELLS = REFERENCE_CELLS  # the cells whose preservation range sets the cut-offs


def protocol_cells(arch):
    """(concept, cell) sweeps of an arch: the configured steering cells, else those on disk."""
    if arch in STEERING["archs"]:
        return steering_cells(arch)
    found = glob_wildcards(
        f"{RESULTS}/sweeps/{arch}/{{concept,[^/]+}}/{{method,[^/]+}}/manifest.csv"
    )
    return sorted(set(zip(found.concept, found.method)))


def protocol_per_alpha(arch, concept, method):
    return protocol_output(arch, concept, method, "per_alpha.csv")


def protocol_cell_inputs(wildcards):
    """The cell's own curve plus the reference (PCI) cells of its concept, which set the cut-offs."""
    cells = set(protocol_cells(wildcards.arch))
    refs = [m for m in PROTOCOL_REFERENCE_CELLS if (wildcards.concept, m) in cells and m != wildcards.method]
    return [protocol_per_alpha(wildcards.arch, wildcards.concept, m) for m in [wildcards.method, *refs]]


def protocol_output(arch, concept, cell, name):
    return f"{RESULTS}/protocol/{arch}/{concept}/{cell}/{name}"


def protocol_metrics_params(arch_of):
    """The params of the protocol_metrics rules; ``arch_of(wildcards)`` gives the arch."""
    return dict(
        arch=arch_of,
        results=lambda w: RESULTS,  # the mini scorer's checkpoint lives under it
        alignment=lambda w: alignment_texts(arch_of(w), w.concept),
        window_seconds=PROTOCOL["window_seconds"],
        extras=PROTOCOL.get("extra_metrics", []),
        checkpoints=PROTOCOL.get("checkpoints", {}),
        cache=lambda w: f"{RESULTS}/cache/metrics/{arch_of(w)}",  # outside the DVC-tracked outputs: derived, safe to delete
    )


def alignment_texts(arch, concept):
    """Alignment metric -> the concept's text, and the texts it is contrasted with (the profile's)."""
    prof = steering_profile(arch)
    return {"texts": prof.alignment(concept), "contrast": prof.contrast(concept)}


def claims_published_input():
    """The published LPAPS table the claims are compared with, when the reference data is used."""
    return [f"{RESULTS}/published/tables_lpaps.csv"] if "lpaps" in published_axes() else []


def protocol_arch_inputs(wildcards):
    return [protocol_per_alpha(wildcards.arch, c, m) for c, m in protocol_cells(wildcards.arch)]


# --- report: its own pages (workflow/rules/report.smk) ---
REPORT = f"{RESULTS}/report"


def report_targets():
    """The report's own pages: per localized arch, per steered arch and per steered (arch, concept)."""
    files = [f"{REPORT}/{arch}/localization_summary.html" for arch in LOCALIZATION["archs"]]
    for arch in STEERING["archs"]:
        files += [f"{REPORT}/{arch}/protocol_{page}.html" for page in ("tables", "claims")]
        files += [f"{REPORT}/{arch}/clips_{concept}.html" for concept in sorted({c for c, _ in steering_cells(arch)})]
    return files
