"""The step clock: which diffusion step is running and which rows of a denoiser call belong to which
classifier-free-guidance pass.

The adapter's sampling loop drives it: :meth:`StepClock.start` before sampling, :meth:`StepClock.tick`
after every scheduler step (diffusers' step callback, or the loop itself), :meth:`StepClock.begin_call`
before every denoiser call. Edits read it; nothing counts calls against a per-class constant.

Each adapter declares its CFG layout:

* ``uncond_cond`` - one batched call per step, rows ``[uncond, cond]`` (mini, Stable Audio, AudioLDM2);
* ``cond_uncond`` - rows ``[cond, uncond]`` (ACE-Step 1.5; a step outside its guidance interval
  runs the conditional rows alone);
* ``separate`` - one call per pass, conditional first (ACE-Step v1; the number of calls per step
  follows its guidance interval).

Extra denoiser calls made by a steering method (FreeSliders' positive / negative predictions) run
inside :meth:`StepClock.extra_pass`; their rows are the ``extra`` pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from tada.errors import ConfigError

CFGLayout = Literal["uncond_cond", "cond_uncond", "separate"]
#: the names of the passes an edit can select
PASSES: tuple[str, ...] = ("cond", "uncond", "extra")


@dataclass
class StepClock:
    """Where sampling is: ``step`` (0-based diffusion step) and, per call, the rows of each pass."""

    layout: CFGLayout
    batch: int = 0
    steps: int = 0
    step: int = 0
    call: int = 0
    extra: bool = False
    running: bool = False

    def start(self, batch: int, steps: int) -> None:
        """A generation of ``batch`` prompts with ``steps`` diffusion steps begins."""
        self.batch, self.steps, self.step, self.call, self.extra, self.running = batch, steps, 0, 0, False, True

    def stop(self) -> None:
        self.running = False

    def tick(self) -> None:
        """The scheduler finished a step."""
        self.step += 1
        self.call = 0

    def begin_call(self) -> None:
        """A denoiser call of the sampling loop begins (extra passes are not counted)."""
        if not self.extra:
            self.call += 1

    @contextmanager
    def extra_pass(self) -> Iterator[None]:
        """Denoiser calls made inside this block are ``extra`` passes."""
        previous, self.extra = self.extra, True
        try:
            yield
        finally:
            self.extra = previous

    def passes(self, rows: int) -> dict[str, slice]:
        """Rows of each pass in a call with ``rows`` rows, in row order."""
        everything = slice(0, rows)
        if self.extra:
            return {"extra": everything}
        if self.layout == "separate":
            return {("cond", "uncond")[self.call - 1] if 1 <= self.call <= 2 else "extra": everything}
        if rows == 2 * self.batch and self.batch:
            first, second = ("uncond", "cond") if self.layout == "uncond_cond" else ("cond", "uncond")
            return {first: slice(0, self.batch), second: slice(self.batch, rows)}
        return {"cond": everything}


@dataclass(frozen=True)
class StepWindow:
    """Diffusion steps ``start <= step < end`` (``end`` None: to the last step)."""

    start: int = 0
    end: int | None = None

    def __contains__(self, step: int) -> bool:
        return step >= self.start and (self.end is None or step < self.end)

    def check(self, steps: int) -> None:
        """Raise if the window lies outside ``0..steps``."""
        end = steps if self.end is None else self.end
        if not 0 <= self.start < end <= steps:
            raise ConfigError(f"step window [{self.start}, {self.end}) is outside the {steps} sampling steps")
