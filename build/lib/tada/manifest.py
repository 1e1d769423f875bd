"""The sweep manifest: the file steering writes and the protocol reads (below both layers).

``manifest.csv`` of a sweep directory has one row per clip; ``path`` is relative to the directory and
``alpha = 0`` rows are the references the other clips are compared with. ``method`` holds the
protocol cell (``caa_loc``...).
"""

MANIFEST_COLUMNS: tuple[str, ...] = ("concept", "method", "prompt_id", "prompt", "seed", "alpha", "path")
