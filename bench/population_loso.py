"""Leave-one-source-out check of the population check's recipe (how it was chosen).

    python bench/population_loso.py runs/default --data ../shared/data/chest_xray \
        --outside ../shared/data/external/manifest.csv

For each outside source used in fitting (the CC BY adult rows: ``adult_covid_hannover`` and the
CC BY rows of ``adult_ieee8023``), fit the check without it, on the same inside images and with the
same threshold rule as ``pneumoscan population-check``, and print the share of the left-out
source that the population check refuses, for each regularisation strength tried. Also prints the
share of the validation split refused. Test images are never read.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import numpy as np

from pneumoscan.data.transforms import Preprocessing
from pneumoscan.models.checkpoint import load_checkpoint
from pneumoscan.models.population import PopulationCheck
from pneumoscan.training.population import block_means, outside_files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--outside", type=Path, required=True)
    parser.add_argument("--max-inside", type=int, default=1200)
    parser.add_argument("--refused-inside", type=float, default=0.01)
    parser.add_argument("--c", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    args = parser.parse_args()

    splits = json.loads((args.run_dir / "splits.json").read_text())
    train = [args.data / item["id"] for item in splits["train"]]
    inside = random.Random(0).sample(train, min(args.max_inside, len(train)))
    val = [args.data / item["id"] for item in splits["val"]]
    # the same selection as `pneumoscan population-check --licence-prefix "CC BY"`, one source at a time
    per_source = {name: outside_files(args.outside, [name], licence_prefix="CC BY")[0]
                  for name in ("adult_covid_hannover", "adult_ieee8023")}
    sources = np.array([name for name, files in per_source.items() for _ in files])
    model, meta = load_checkpoint(args.run_dir)
    spec = Preprocessing.from_dict(meta["preprocessing"])
    x_in = block_means(model, spec, inside, "inside")
    x_val = block_means(model, spec, val, "validation")
    x_out = block_means(model, spec, [f for files in per_source.values() for f in files], "outside")
    print(f"inside {len(inside)} train images, threshold on {len(val)} validation images, "
          f"outside {len(sources)} CC BY adult images")
    print("| C | left out | its images | refused by the population check | validation refused |")
    print("|---|---|---|---|---|")
    for c in args.c:
        for held in sorted(set(sources)):
            keep = sources != held
            check = PopulationCheck.fit(x_in, x_out[keep], x_val, refused_inside=args.refused_inside, c=c)
            print(f"| {c} | {held} | {int((~keep).sum())} | {100 * check.outside(x_out[~keep]).mean():.1f}% | "
                  f"{100 * check.outside(x_val).mean():.1f}% |")


if __name__ == "__main__":
    main()
