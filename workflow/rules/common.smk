# Shared definitions: config validation, result paths, wildcard constraints from the registries.
import sys

from snakemake.utils import min_version, validate

from tada.localization.features import check_features
from tada.localization.layout import layer_names
from tada.models import ARCHITECTURES
from tada.protocol import reference_data
from tada.protocol.tables import REFERENCE_CELLS
from tada.steering.methods import ARMS as STEERING_ARMS
from tada.steering.methods import METHODS as STEERING_METHODS
from tada.steering.methods import cell_name, needs_artifact
from tada.steering.profiles import profile
from tada.world.attributes import VALUE_FAMILY

min_version("9.0")

validate(config, schema="../schemas/config.schema.yaml")

RESULTS = config["results"]
LOGS = f"{RESULTS}/logs"
MINI = f"{RESULTS}/mini"
MINI_MODEL = f"{MINI}/model/config.json"
MINI_SCORER = f"{MINI}/scorer/config.json"


wildcard_constraints:
    arch="|".join(ARCHITECTURES),


def checkpoint_of(arch):
    """Where an architecture's weights come from: the trained mini model or the configured checkpoint."""
    if arch == "mini":
        return f"{MINI}/model"
    return config["models"][arch]["checkpoint"]


def model_inputs(arch):
    """Files a rule using ``arch`` depends on (the mini checkpoint is built by this workflow)."""
    return [MINI_MODEL] if arch == "mini" else []


def scorer_inputs(arch):
    """Files the arch's alignment scorer depends on (the mini scorer is built by this workflow)."""
    return [MINI_SCORER] if arch == "mini" else []


def load_options(arch):
    """Keyword arguments for ``tada.models.load_model``: device and dtype of the arch."""
    if arch == "mini":
        return {"device": config["device"]}
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
    axes = config["protocol"]["published_axes"] if PUBLISHED_IN_ALL else []
    return [f"{RESULTS}/published/tables_{axis}.csv" for axis in axes]


# --- localization ---
LOCALIZATION = config["localization"]
LOC = f"{RESULTS}/localization"
LOC_PUBLISHED = PUBLISHED_IN_ALL  # the published heatmaps are in `rule all`
LOC_PUBLISHED_MODELS = ("ace", "audioldm2", "stableaudio")

for _arch in LOCALIZATION["archs"]:
    check_features(_arch, LOCALIZATION["features"])  # an unknown feature fails here, before any job


def localization_sites(arch):
    """The sites whose impact is measured: every cross-attention layer, or the configured presets."""
    if LOCALIZATION["presets"] == "layers":
        return layer_names(arch, config["mini"]["num_layers"])
    return [p for p in LOCALIZATION["presets"] if p not in ("none", "all")]


def localization_presets(arch):
    return ["none", "all", *localization_sites(arch)]


def localization_families(arch):
    """Attribute families of the configured features (mini world only)."""
    return sorted({VALUE_FAMILY[f] for f in LOCALIZATION["features"]}) if arch == "mini" else []


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
ARTIFACT_METHODS = [m for m in STEERING_METHODS if needs_artifact(m)]


def steering_profile(arch):
    """The architecture profile; the mini ``loc`` arm uses the preset its localization found."""
    localized = f"{LOC}/mini/localized.yaml" if arch == "mini" else None
    return profile(arch, localized, STEERING.get("reference_prompts"))


for _arch in STEERING["archs"]:  # unknown names fail here, before any job (snakemake -n included)
    for _concept in STEERING["concepts"]:
        steering_profile(_arch).check_concept(_concept)
for _method in STEERING["methods"]:
    if _method not in STEERING_METHODS:
        raise ValueError(f"unknown steering method '{_method}' in steering.methods; valid: {sorted(STEERING_METHODS)}")
    if _method not in STEERING["alphas"]:
        raise ValueError(f"steering.alphas has no grid for method '{_method}'")


def alpha_grid(method, concept):
    """The alpha grid of a (method, concept): ``steering.alphas.<method>`` is a list, or a mapping of
    concepts to lists with a ``default``."""
    grid = STEERING["alphas"][method]
    return grid.get(concept, grid["default"]) if isinstance(grid, dict) else grid


def sweep_manifest(arch, concept, method, arm):
    return f"{RESULTS}/sweeps/{arch}/{concept}/{method}_{arm}/manifest.csv"


def sweep_inputs(wildcards):
    """The model, the method's artifact (if it has a compute step) and the found localized preset."""
    inputs = {"model": model_inputs(wildcards.arch)}
    if needs_artifact(wildcards.method):
        inputs["artifact"] = f"{RESULTS}/steering/{wildcards.arch}/{wildcards.concept}/{wildcards.method}/config.json"
    if wildcards.arm == "loc" and wildcards.arch == "mini":
        inputs["localized"] = f"{LOC}/mini/localized.yaml"
    return inputs


def steering_cells(arch):
    """(concept, cell) of every configured sweep of ``arch``."""
    return [
        (c, cell_name(m, a)) for c in STEERING["concepts"] for m in STEERING["methods"] for a in STEERING["arms"]
    ]


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
    return f"{RESULTS}/protocol/{arch}/{concept}/{method}/per_alpha.csv"


def protocol_cell_inputs(wildcards):
    """The cell's own curve plus the reference (PCI) cells of its concept, which set the cut-offs."""
    cells = set(protocol_cells(wildcards.arch))
    refs = [m for m in PROTOCOL_REFERENCE_CELLS if (wildcards.concept, m) in cells and m != wildcards.method]
    return [protocol_per_alpha(wildcards.arch, wildcards.concept, m) for m in [wildcards.method, *refs]]


def alignment_texts(arch, concept):
    """Alignment metric -> the concept's text, and the texts it is contrasted with (the profile's)."""
    prof = steering_profile(arch)
    return {"texts": prof.alignment(concept), "contrast": prof.contrast(concept)}


def protocol_arch_inputs(wildcards):
    return [protocol_per_alpha(wildcards.arch, c, m) for c, m in protocol_cells(wildcards.arch)]
