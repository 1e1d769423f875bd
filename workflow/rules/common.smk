# Shared definitions: config validation, result paths, wildcard constraints from the registries.
from snakemake.utils import min_version, validate

from tada.localization.features import check_features
from tada.localization.layout import layer_names
from tada.models import ARCHITECTURES
from tada.steering.pci import METHODS as SWEEP_METHODS
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


# --- localization ---
LOCALIZATION = config["localization"]
LOC = f"{RESULTS}/localization"
LOC_PUBLISHED = config.get("protocol", {}).get("shared_reference")
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


# --- sweeps ---
SWEEPS = config["sweeps"]


def sweep_manifest(arch, concept, method):
    return f"{RESULTS}/sweeps/{arch}/{concept}/{method}/manifest.csv"


def sweep_targets():
    """Manifests of every configured (concept, method) sweep of the mini model."""
    return [sweep_manifest("mini", c, m) for c in SWEEPS["concepts"] for m in SWEEPS["methods"]]


# --- protocol ---
PROTOCOL = config["protocol"]
PROTOCOL_REFERENCE_CELLS = ("pci_all", "pci_loc")


def protocol_cells(arch):
    """(concept, method) sweeps of an arch: protocol.concepts x protocol.methods, else those on disk."""
    if PROTOCOL.get("concepts") and PROTOCOL.get("methods"):
        return [(c, m) for c in PROTOCOL["concepts"] for m in PROTOCOL["methods"]]
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


def protocol_arch_inputs(wildcards):
    return [protocol_per_alpha(wildcards.arch, c, m) for c, m in protocol_cells(wildcards.arch)]
