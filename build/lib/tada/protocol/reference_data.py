"""The paper's frozen reference data: pinned upstream, SHA-256 checked, fetched or pointed to.

The per-alpha metrics behind the published tables and the published layer-impact table are the files
``results/{steering_metrics,quality_metrics,localization_impact}.csv`` of the reference repository
``luk-st/steer-audio`` (MIT) at one commit. The workflow reads them from a local copy
(``reference.published``) or downloads them from ``reference.published_url`` into its cache; either way
every file must have its pinned SHA-256, so the tables are rebuilt from exactly the published numbers.

    python -m tada.protocol.reference_data DEST [--url URL]

downloads and verifies the three files into ``DEST``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from tada.errors import TadaError

UPSTREAM_REPO = "luk-st/steer-audio"
UPSTREAM_COMMIT = "e5995fd244cb5477ca5730ae63c228a0e8350b64"
#: where the files live upstream (raw files of the pinned commit); ``<url>/<name>`` is one file
PUBLISHED_URL = f"https://raw.githubusercontent.com/{UPSTREAM_REPO}/{UPSTREAM_COMMIT}/results"
#: the pinned files and their SHA-256
PUBLISHED_FILES: Mapping[str, str] = {
    "steering_metrics.csv": "7462870e052392610fbf0a0783ce4c62aa0c57814eac3f3f283a9a540580d7ca",
    "quality_metrics.csv": "e35a800b660d964d8141b96e000acc4acd066af84aa9af899dc8671c617808f7",
    "localization_impact.csv": "7a3354a7b6e10a19fbd058488438cf7ccc5fefa55d9e246aa67dbbc210a00755",
}
#: the config keys a message points to
LOCAL_KEY = "reference.published"
URL_KEY = "reference.published_url"
FETCH_KEY = "reference.fetch"


class ReferenceDataError(TadaError):
    """Reference data that cannot be downloaded, or whose content is not the pinned one."""


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_url(base: str, name: str) -> str:
    return f"{base.rstrip('/')}/{name}"


def has_copy(folder: str | Path | None, names: Sequence[str] = tuple(PUBLISHED_FILES)) -> bool:
    """Whether ``folder`` holds every one of the reference files (their content is not checked here)."""
    return folder is not None and all((Path(folder) / name).is_file() for name in names)


def verify_copy(folder: str | Path, hashes: Mapping[str, str] = PUBLISHED_FILES) -> None:
    """Check that a local copy holds the pinned files; raise naming the first file that differs."""
    for name, expected in hashes.items():
        path = Path(folder) / name
        if not path.is_file():
            raise ReferenceDataError(f"reference file missing: '{path}' ({LOCAL_KEY} = '{folder}')")
        got = sha256(path)
        if got != expected:
            raise ReferenceDataError(
                f"'{path}' is not the pinned {UPSTREAM_REPO}@{UPSTREAM_COMMIT[:7]} results/{name} "
                f"(SHA-256 {got}, expected {expected}): point {LOCAL_KEY} to an unmodified copy, "
                f"or set it to null to download the files from {URL_KEY}"
            )


def fetch_verified(url: str, dest: str | Path, expected: str, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest`` if its SHA-256 is ``expected``; nothing is left at ``dest`` otherwise.

    The file is written next to ``dest`` under a temporary name and renamed only once verified, so
    an interrupted or corrupted download never looks like a finished one.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    for block in iter(lambda: response.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
            except (urllib.error.URLError, OSError) as err:
                reason = getattr(err, "reason", err)
                raise ReferenceDataError(
                    f"could not download the reference data {url} ({reason}); without internet, set "
                    f"{LOCAL_KEY} to a local copy of {UPSTREAM_REPO}@{UPSTREAM_COMMIT[:7]} results/ "
                    f"(or {URL_KEY} to a mirror)"
                ) from None
        got = digest.hexdigest()
        if got != expected:
            raise ReferenceDataError(
                f"rejected {url}: SHA-256 {got}, expected {expected} (pinned {UPSTREAM_REPO}@"
                f"{UPSTREAM_COMMIT[:7]} results/{dest.name}); check {URL_KEY} or use a local copy ({LOCAL_KEY})"
            )
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return dest


def fetch_reference(name: str, base_url: str, dest: str | Path, log: str | Path | None = None) -> Path:
    """Download one pinned reference file ``name`` from ``base_url`` to ``dest``; the outcome goes to ``log``."""
    url = file_url(base_url, name)
    try:
        fetch_verified(url, dest, PUBLISHED_FILES[name])
    except ReferenceDataError as err:
        if log:
            Path(log).write_text(f"{err}\n")
        raise
    if log:
        Path(log).write_text(f"{url} -> {dest} (SHA-256 {PUBLISHED_FILES[name]} verified)\n")
    return Path(dest)


def fetch_published(base_url: str, folder: str | Path, names: Sequence[str] = tuple(PUBLISHED_FILES)) -> list[Path]:
    """Download and verify the pinned reference files ``names`` from ``base_url`` into ``folder``."""
    return [fetch_verified(file_url(base_url, name), Path(folder) / name, PUBLISHED_FILES[name]) for name in names]


def skipped_message(local: str | Path | None, base_url: str = PUBLISHED_URL) -> str:
    """The one line saying the published tables and heatmaps were left out, and how to enable them."""
    where = f"no reference data at '{local}'" if local else "no local reference data"
    return (
        f"published tables and heatmaps skipped: {where} ({LOCAL_KEY}); to build them, set "
        f"{FETCH_KEY}: true (downloads {file_url(base_url, '*.csv')}, pinned and SHA-256-checked) "
        f"or point {LOCAL_KEY} to a local copy"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", help="folder to write the three CSVs to")
    parser.add_argument("--url", default=PUBLISHED_URL, help="base URL of the files (default: the pinned upstream)")
    args = parser.parse_args(argv)
    for path in fetch_published(args.url, args.dest):
        print(path)


if __name__ == "__main__":
    main()
