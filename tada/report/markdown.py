"""The Markdown the workflow writes (headings, pipe tables, paragraphs) as an HTML page."""

from __future__ import annotations

import html
import re

STYLE = (
    "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1em}"
    "td,th{border:1px solid #ccc;padding:.25em .6em}"
)


def _inline(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text.strip()))


def _cells(line: str) -> list[str]:
    return [_inline(c) for c in line.strip().strip("|").split("|")]


def _table(lines: list[str]) -> str:
    head, body = _cells(lines[0]), [_cells(line) for line in lines[2:]]
    aligns = ["right" if c.strip().endswith(":") else "left" for c in lines[1].strip().strip("|").split("|")]
    th = "".join(f"<th>{c}</th>" for c in head)
    rows = ("".join(f'<td style="text-align:{a}">{c}</td>' for c, a in zip(row, aligns, strict=True)) for row in body)
    trs = "".join(f"<tr>{row}</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def markdown_page(text: str, title: str) -> str:
    """An HTML page of ``text``: ``#`` headings, pipe tables (a separator row second) and paragraphs."""
    parts, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        heading = re.match(r"(#{1,6})\s+(.*)", line)
        if heading:
            level = len(heading.group(1))
            parts.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif line.lstrip().startswith("|"):
            block = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                block.append(lines[i])
                i += 1
            parts.append(_table(block))
            continue
        elif line.strip():
            parts.append(f"<p>{_inline(line)}</p>")
        i += 1
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n"
    )
