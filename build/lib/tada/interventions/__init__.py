"""One intervention mechanism for every architecture: edits attached to named sites, a step clock.

An :class:`Edit` says what happens at a site; :func:`intervene` attaches edits to the modules the
sites name for the duration of a ``with`` block, using plain PyTorch hooks. The :class:`StepClock`,
driven by the adapter's sampling loop, tells every edit the diffusion step and which rows of a call
belong to which CFG pass. Patching, ablation, recording and steering are all edits, so no
architecture needs a controller of its own.
"""

from tada.interventions.clock import PASSES, CFGLayout, StepClock, StepWindow
from tada.interventions.edits import (
    Conditioning,
    Edit,
    HookContext,
    MapOutput,
    PassConditioning,
    Record,
    RecordOutput,
    ReplaceConditioning,
    SteerOutput,
    StopForward,
    ZeroOutput,
    get_module,
    intervene,
    main_tensor,
    with_main_tensor,
)

__all__ = [
    "PASSES",
    "CFGLayout",
    "Conditioning",
    "Edit",
    "HookContext",
    "MapOutput",
    "PassConditioning",
    "Record",
    "RecordOutput",
    "ReplaceConditioning",
    "StepClock",
    "StepWindow",
    "SteerOutput",
    "StopForward",
    "ZeroOutput",
    "get_module",
    "intervene",
    "main_tensor",
    "with_main_tensor",
]
