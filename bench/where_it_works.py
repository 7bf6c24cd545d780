"""Print the README's "Where it works" table from the validation reports attached to a run.

    python bench/where_it_works.py runs/default

Each row comes from ``RUN/validation/<source>/report.json``, written by
``pneumoscan validate RUN --data ... --attach``: refused share by reason, the number answered,
the share called pneumonia per true label, and the AUC (95% CI) where the answered images hold
both classes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SHORT = {
    "outside_intended_population": "population",
    "out_of_distribution": "feature gate",
    "lateral_view": "lateral",
    "ct_or_mr": "CT/MR",
    "not_chest": "not chest",
    "blank_image": "blank",
    "photograph": "photo",
    "document": "document",
    "not_radiograph": "not radiograph",
}


def row(report: dict) -> str:
    n = report["n"]
    refused = report.get("refused", {})
    total = sum(refused.values())
    reasons = ", ".join(f"{SHORT.get(r, r)} {100 * k / n:.1f}" for r, k in sorted(refused.items(), key=lambda x: -x[1]))
    called = []
    for label, c in report.get("by_class", {}).items():
        if c["answered"]:
            called.append(f"{label} {100 * c['called_pneumonia'] / c['answered']:.0f}% of {c['answered']}")
        else:
            called.append(f"{label} - of 0")
    auc = (report.get("metrics") or {}).get("auc")
    auc_text = "-" if not auc or auc.get("value") is None else (
        f"{auc['value']:.3f} ({auc['ci_low']:.3f}-{auc['ci_high']:.3f})")
    return (f"| {report['source']} | {n} | {100 * total / n:.1f}%{f' ({reasons})' if reasons else ''} | "
            f"{report['answered']} | {'; '.join(called)} | {auc_text} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    args = parser.parse_args()
    reports = sorted((args.run_dir / "validation").glob("*/report.json"))
    if not reports:
        raise SystemExit(f"No validation reports in {args.run_dir}/validation: run `pneumoscan validate ... --attach`.")
    print("| source | images | refused (by reason, % of images) | answered | called pneumonia, per true label "
          "| AUC on answered |")
    print("|---|---|---|---|---|---|")
    for path in reports:
        print(row(json.loads(path.read_text())))


if __name__ == "__main__":
    main()
