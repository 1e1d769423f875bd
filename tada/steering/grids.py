"""The reference's alpha grids as data: one grid per (arch, method, concept, arm).

``alpha_grids.csv`` (in the reference data folder, ``steering.reference_prompts``) expands the
reference's ``configs/steering/**/eval_*.yaml`` files. Its method names are mapped to ours and to the
architecture they ran on (rows without an architecture prefix are ACE-Step v1, the paper's model).
The reference's one-off arms (``ablated_calib``, ``custom``, ``loc_tf7_single``) are not in
:data:`REFERENCE_ARMS` and are left out.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tada.steering.concepts import check_reference_folder

GRIDS_FILE = "alpha_grids.csv"
#: the architecture of the reference's main steering experiments
REFERENCE_ARCH = "ace_step_v1"
#: reference method name -> (our method, architecture) where they differ from (name, REFERENCE_ARCH)
REFERENCE_METHODS: dict[str, tuple[str, str]] = {
    "concept_slider": ("sliders", REFERENCE_ARCH),
    "audioldm_caa": ("caa", "audioldm2"),
    "stable_audio_caa": ("caa", "stable_audio"),
}
#: the arms of the paper's tables
REFERENCE_ARMS: tuple[str, ...] = ("all", "loc", "ablated")
GRID_COLUMNS = ["arch", "method", "concept", "arm", "alphas"]


def reference_grids(folder: str | Path) -> pd.DataFrame:
    """Every paper grid: columns ``arch, method, concept, arm`` and ``alphas`` (a list of floats, in order)."""
    table = pd.read_csv(check_reference_folder(folder, (GRIDS_FILE,)) / GRIDS_FILE)
    table = table[table.arm.isin(REFERENCE_ARMS)]
    names = [REFERENCE_METHODS.get(m, (m, REFERENCE_ARCH)) for m in table.method]
    return pd.DataFrame(
        {
            "arch": [arch for _, arch in names],
            "method": [method for method, _ in names],
            "concept": table.concept.to_numpy(),
            "arm": table.arm.to_numpy(),
            "alphas": [[float(a) for a in alphas.split()] for alphas in table.alphas],
        },
        columns=GRID_COLUMNS,
    ).reset_index(drop=True)
