"""Check a dataset folder (``train/``, ``val/``, ``test/`` of class subfolders) before using it.

Every problem is collected, so ``pneumoscan data check DIR`` can list them all at once; each one
names what is wrong and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from pneumoscan import CLASS_NAMES

SPLITS: tuple[str, ...] = ("train", "val", "test")
REQUIRED_SPLITS: tuple[str, ...] = ("train", "test")
IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")


class DatasetError(ValueError):
    """A dataset cannot be used; ``problems`` lists every reason, each with its fix."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("Dataset problems:\n" + "\n".join(f"- {p}" for p in self.problems))


@dataclass
class DatasetReport:
    """What ``check_dataset`` found: per-split class counts, problems (fatal) and notes (not)."""

    root: Path
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_if_bad(self) -> None:
        if self.problems:
            raise DatasetError(self.problems)


def is_hidden(path: Path) -> bool:
    return path.name.startswith(".")


def check_dataset(root: str | Path, verify_images: bool = True) -> DatasetReport:
    """Check a dataset root laid out as ``<root>/<split>/<CLASS>/<image>``.

    ``train/`` and ``test/`` are required; ``val/`` may be missing or small (a patient-grouped
    validation split is then carved out of ``train/``).

    Args:
        root: the dataset folder.
        verify_images: open every image file with Pillow to find unreadable ones (slower).

    Returns:
        A report with class counts per split and every problem found.
    """
    root = Path(root)
    report = DatasetReport(root=root)
    if not root.is_dir():
        report.problems.append(
            f"{root} is not a folder. Pass the folder that holds train/, val/ and test/ "
            "(for example ../shared/data/chest_xray)."
        )
        return report
    for split in SPLITS:
        split_dir = root / split
        if not split_dir.is_dir():
            if split in REQUIRED_SPLITS:
                report.problems.append(
                    f"Missing split folder {split_dir}. Create it with one subfolder per class: "
                    f"{', '.join(CLASS_NAMES)}."
                )
            else:
                report.notes.append(
                    f"No {split}/ folder: a validation split will be carved out of train/, grouped by patient."
                )
            continue
        report.counts[split] = _check_split(split_dir, report, verify_images)
    return report


def _check_split(split_dir: Path, report: DatasetReport, verify_images: bool) -> dict[str, int]:
    counts: dict[str, int] = {}
    entries = sorted(p for p in split_dir.iterdir() if not is_hidden(p))
    for entry in entries:
        if entry.is_file():
            report.problems.append(
                f"Stray file {entry} directly inside {split_dir.name}/. Move it into a class folder "
                f"({', '.join(CLASS_NAMES)}) or delete it."
            )
        elif entry.name not in CLASS_NAMES:
            report.problems.append(
                f"Unexpected class folder {entry}. Only {', '.join(CLASS_NAMES)} are allowed "
                "(names are case-sensitive): rename or remove it."
            )
    for cls in CLASS_NAMES:
        cls_dir = split_dir / cls
        if not cls_dir.is_dir():
            report.problems.append(f"Missing class folder {cls_dir}. Create it and put that class's images in it.")
            counts[cls] = 0
            continue
        n = 0
        for file in sorted(p for p in cls_dir.rglob("*") if p.is_file() and not is_hidden(p)):
            if file.suffix.lower() not in IMAGE_EXTENSIONS:
                report.problems.append(
                    f"Not an image file: {file}. Only {', '.join(IMAGE_EXTENSIONS)} are read; remove it."
                )
                continue
            if verify_images and not _readable(file):
                report.problems.append(
                    f"Unreadable image: {file} (corrupt or not really an image). Remove or replace it."
                )
                continue
            n += 1
        if n == 0:
            report.problems.append(
                f"Empty class folder {cls_dir}: it holds no readable image. Add images or fix the path."
            )
        counts[cls] = n
    return counts


def _readable(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            im.verify()
        return True
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return False
