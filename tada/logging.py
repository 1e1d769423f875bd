"""Logging set-up shared by the workflow scripts."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path
from types import TracebackType

import torch


def setup_job(log_file: str | Path | None, threads: int = 1) -> logging.Logger:
    """Send log records (and warnings) of a workflow job to ``log_file`` and stderr; pin torch threads.

    An uncaught exception is logged with its traceback too, so a failed job's log says why it failed.
    """
    torch.set_num_threads(threads)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", handlers=handlers, force=True)
    logging.captureWarnings(True)
    # raised by diffusers' own StableAudio module on import; nothing a user can act on
    warnings.filterwarnings("ignore", message=".*Transformer2DModelOutput.*", category=FutureWarning)
    log = logging.getLogger("tada")
    sys.excepthook = _log_uncaught(log)
    return log


def _log_uncaught(log: logging.Logger):
    """An excepthook writing the traceback to ``log``'s handlers (the job's log file and stderr)."""

    def hook(kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        log.critical("job failed: %s: %s", kind.__name__, error, exc_info=(kind, error, tb))
        logging.shutdown()

    return hook
