# Shared definitions: config validation, result paths, wildcard constraints from the registries.
from pathlib import Path

from snakemake.utils import min_version, validate

from tada.models import ARCHITECTURES
from tada.world.attributes import SWAPS

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
