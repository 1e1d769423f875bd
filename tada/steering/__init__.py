"""Steering of text-to-music models. For now: PCI prompt switching and the sweeps that feed the protocol."""

from tada.steering.concepts import ConceptPrompts, mini_concept_prompts
from tada.steering.pci import METHODS, method_sites, pci, pci_generate
from tada.steering.sweep import run_sweep, sweep_alphas, sweep_concept

__all__ = [
    "METHODS",
    "ConceptPrompts",
    "method_sites",
    "mini_concept_prompts",
    "pci",
    "pci_generate",
    "run_sweep",
    "sweep_alphas",
    "sweep_concept",
]
