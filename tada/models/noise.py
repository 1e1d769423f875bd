"""The reference's initial-noise draws (``noise: reference``), next to our per-clip seeds.

Per-clip seeds (the default) give every clip its own generator, so a clip never depends on its
batch. The reference instead draws the noise of a whole run at once: patching draws every clip of
a feature (8 latents per prompt) from one generator seeded 222, ACE-Step steering draws the 100 test
prompts from one generator seeded 2115, and Stable Audio / AudioLDM2 steering draw chunks of 8
prompts from generators seeded ``2115 + chunk``. Under ``noise: reference`` the ``seeds`` given to
``generate`` are the clips' indices in that run (the row of the reference's draw), and each adapter
draws the rows exactly as the reference does (shape, generator device, dtype).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch

from tada.errors import ConfigError

#: ``per_clip``: one generator per clip seeded with its seed; ``reference``: rows of the reference's draw
NOISE_MODES = ("per_clip", "reference")

#: draws ``n`` latents from a seeded generator, as the reference does
Draw = Callable[[int, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class ReferenceNoise:
    """How the reference draws a run's initial noise.

    One generator seeded ``seed + c`` on ``device`` (``cpu`` or the model's) draws chunk ``c`` of
    ``chunk`` clips at once; ``chunk=None`` draws the whole run in one call.
    """

    seed: int
    chunk: int | None = None
    device: Literal["cpu", "model"] = "cpu"

    def rows(
        self,
        indices: Sequence[int],
        run_size: int | None,
        draw: Draw,
        model_device: torch.device,
        cache: dict | None = None,
        tag: Hashable = None,
    ) -> torch.Tensor:
        """Rows ``indices`` of the reference's draw for a run of ``run_size`` clips.

        ``run_size`` (the reference's number of clips) fixes the size of each draw; without it the draw
        reaches the largest index, which gives the same rows only where the generator fills a tensor
        front to back (CPU); CUDA's counter-based draws depend on the tensor's size, so pass it there.
        ``cache`` keeps the last draw (``tag`` names what else it depends on, e.g. the clip length), so
        a run's batches do not redraw it.
        """
        if not indices or min(indices) < 0:
            raise ConfigError("noise: reference takes the clips' row indices in the reference's draw (0, 1, ...)")
        total = run_size if run_size is not None else max(indices) + 1
        if max(indices) >= total:
            raise ConfigError(f"noise row {max(indices)} is outside the reference's draw of {total} clips")
        chunk = self.chunk or total
        device = torch.device("cpu") if self.device == "cpu" else torch.device(model_device)
        cache = {} if cache is None else cache
        picked = []
        for i in indices:
            c = i // chunk
            key = (tag, self.seed + c, min(chunk, total - c * chunk), str(device))
            if cache.get("key") != key:
                cache.update(key=key, value=draw(key[2], torch.Generator(device).manual_seed(key[1])))
            picked.append(cache["value"][i % chunk])
        return torch.stack(picked)

    def generator(self, index: int, run_size: int | None, model_device: torch.device) -> torch.Generator:
        """A generator seeded as the reference's for the chunk of clip ``index``: what its sampler
        takes besides the drawn latents (Stable Audio seeds its SDE noise with it)."""
        chunk = self.chunk or run_size or index + 1
        device = torch.device("cpu") if self.device == "cpu" else torch.device(model_device)
        return torch.Generator(device).manual_seed(self.seed + index // chunk)
