"""A plain-text report format: one line per configuration."""

from __future__ import annotations

from pathlib import Path


def write_txt(card, out_dir: Path, title: str) -> dict[str, Path]:
    frame = card.card_frame()
    lines = [title]
    for row in frame.to_dict("records"):
        lines.append(f"{row['system']} on {row['vendor']}: {row['successes']}/{row['counted_runs']} "
                     f"successful runs")
    path = Path(out_dir) / "report.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"txt": path}
