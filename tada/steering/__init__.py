"""Steering of text-to-music models: one controller interface, four methods, concepts as data, sweeps.

``with model.steer(CAA.from_pretrained(path, alpha=8, target_layers="tf1tf2")): model.generate(...)``
"""

from tada.steering.austeer import AUSteer
from tada.steering.caa import CAA
from tada.steering.compose import Composite, compose
from tada.steering.concepts import Concept, mini_concept, reference_concepts
from tada.steering.controller import ArtifactController, Controller
from tada.steering.freesliders import FreeSliders
from tada.steering.methods import ARMS, METHODS, cell_name, make_controller, split_cell
from tada.steering.pci import PCI
from tada.steering.profiles import profile
from tada.steering.sae import SAE, ActivationCache, SiteSAEs
from tada.steering.sliders import ConceptSliders
from tada.steering.sweep import SweepCell, compute_artifact, run_sweep, sweep_cells
from tada.steering.textemb import TextEmb
from tada.steering.tokemb import TokEmb

__all__ = [
    "ARMS",
    "AUSteer",
    "Composite",
    "TokEmb",
    "compose",
    "CAA",
    "METHODS",
    "PCI",
    "SAE",
    "SiteSAEs",
    "SweepCell",
    "ActivationCache",
    "ArtifactController",
    "Concept",
    "ConceptSliders",
    "Controller",
    "FreeSliders",
    "TextEmb",
    "cell_name",
    "compute_artifact",
    "make_controller",
    "mini_concept",
    "profile",
    "reference_concepts",
    "run_sweep",
    "split_cell",
    "sweep_cells",
]
