"""Delegating to a real Quarto: ``quarto render`` for each target (used when ``quarto`` is on PATH)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any


def render_with_quarto(quarto: str, qmd: Path, targets: list[str], meta: dict[str, Any],
                       output_dir: Path | None, log) -> int:
    formats = meta.get("format")
    names = set(formats) if isinstance(formats, dict) else ({formats} if isinstance(formats, str) else set())
    for target in targets:
        to = "html" if target == "html" else ("pdf" if "pdf" in names and "typst" not in names else "typst")
        cmd = [quarto, "render", qmd.name, "--to", to]
        if output_dir is not None:
            cmd += ["--output-dir", str(output_dir.resolve())]
        log("$ " + " ".join(cmd))
        proc = subprocess.run(cmd, cwd=qmd.parent)
        if proc.returncode != 0:
            log(f"error: quarto render --to {to} failed with status {proc.returncode}")
            return 1
    return 0
