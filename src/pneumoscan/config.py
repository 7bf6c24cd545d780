"""Experiment settings: frozen dataclasses, read from a YAML file, overridden from the CLI.

The resolved config is written beside every run as ``config.yaml``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class DataConfig:
    image_size: int = 0  # center crop; 0 = the backbone's input size (224, the paper's; Lite1 240, Lite2 260)
    resize: int = 0  # resize before the crop; 0 = image_size * 256/224 (the paper: 256 for 224)
    canonical: int = 224  # squash to this square first; 0 turns it off (see data/transforms.py)
    jpeg_quality: int = 75  # then JPEG round trip at this quality, as the training copy was made; 0 = off
    batch_size: int = 32
    num_workers: int = 2
    val_fraction: float = 0.1  # carved from train/ when val/ is too small
    min_val_size: int = 100
    augment: bool = True
    equalize: str = "none"  # none | clahe | hist: contrast equalisation after the squash (data/transforms.py)


@dataclass(frozen=True)
class ModelConfig:
    backbone: str = "efficientnet_lite0"
    weights: str = "imagenet"  # imagenet | none | path to a .pth
    unfreeze_last: int = 0  # 0 = frozen backbone (the paper)
    dropout: float = 0.0


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    optimizer: str = "sgd"  # sgd | adamw
    lr: float = 0.001
    backbone_lr_scale: float = 0.1  # fine-tuned backbone blocks learn at lr * this
    momentum: float = 0.9
    weight_decay: float = 0.0
    scheduler: str = "step"  # step | cosine | none
    step_size: int = 7
    gamma: float = 0.1
    class_weighted_loss: bool = True
    monitor: str = "auc"  # auc | loss | accuracy (on the validation split)
    patience: int = 5  # early stopping; 0 = off
    cache_features: bool = True  # used when the backbone is frozen and augmentation is off
    device: str = "auto"
    seed: int = 42


@dataclass(frozen=True)
class EvalConfig:
    threshold_rule: str = "sensitivity"  # sensitivity | youden | fixed
    min_sensitivity: float = 0.95
    fixed_threshold: float = 0.5
    bootstrap: int = 1000
    ood_quantile: float = 0.995


@dataclass(frozen=True)
class PopulationConfig:
    """The population the model is validated on; the defaults describe the Kermany training data."""

    age_min_years: float = 1.0
    age_max_years: float = 5.0  # inclusive: 5 years and 11 months is inside
    views: str = "PA,AP"  # comma-separated DICOM ViewPosition codes
    description: str = "children aged 1-5 years, frontal (PA/AP) chest X-rays from one hospital in Guangzhou, China"


@dataclass(frozen=True)
class EnsembleConfig:
    """Several frozen probes as one run (training/ensemble.py); empty ``members`` = a single model."""

    members: str = ""  # comma-separated backbones, e.g. "efficientnet_lite0,mobilenet_v2"; each gets its own head
    combine: str = "mean"  # mean (of the members' probabilities) | stack (logistic regression fitted on validation)
    half: bool = False  # store the weights as float16 (halves the run folder)
    skip_test: bool = False  # do not evaluate on the test split (while choosing members on validation)

    def member_names(self) -> list[str]:
        return [m.strip() for m in self.members.split(",") if m.strip()]


@dataclass(frozen=True)
class ExperimentConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    population: PopulationConfig = field(default_factory=PopulationConfig)
    ensemble: EnsembleConfig = field(default_factory=EnsembleConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, overrides: dict[str, Any]) -> ExperimentConfig:
        """A copy with dotted-key overrides applied, e.g. ``{"train.epochs": 3}``.

        Raises:
            ValueError: an unknown section or key (the message lists the valid ones).
        """
        sections = {name: getattr(self, name) for name in ("data", "model", "train", "eval", "population", "ensemble")}
        for key, value in overrides.items():
            if value is None:
                continue
            section, _, name = key.partition(".")
            if section not in sections:
                raise ValueError(f"Unknown config section {section!r}; valid: {', '.join(sections)}.")
            fields = {f.name: f for f in dataclasses.fields(sections[section])}
            if name not in fields:
                raise ValueError(f"Unknown config key {key!r}; valid in {section}: {', '.join(fields)}.")
            sections[section] = dataclasses.replace(sections[section], **{name: _coerce(value, fields[name].type)})
        return ExperimentConfig(**sections)


def _coerce(value: Any, type_name: Any) -> Any:
    kind = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", str(type_name))
    try:
        if kind == "bool" and isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "str":
            return str(value)
    except (TypeError, ValueError):
        raise ValueError(f"Config value {value!r} is not a valid {kind}.") from None
    return value


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """Defaults, then the YAML file (sections data/model/train/eval/population/ensemble), then dotted overrides.

    Raises:
        FileNotFoundError: the YAML file does not exist.
        ValueError: unknown keys or values of the wrong type.
    """
    cfg = ExperimentConfig()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"Config file {path} not found. See configs/ for the presets.")
        raw = yaml.safe_load(path.read_text()) or {}
        if not isinstance(raw, dict):
            raise ValueError(
                f"{path} must hold a mapping of sections (data, model, train, eval, population, ensemble).")
        flat = {}
        for section, values in raw.items():
            if not isinstance(values, dict):
                raise ValueError(f"Section {section!r} in {path} must be a mapping.")
            flat.update({f"{section}.{k}": v for k, v in values.items()})
        cfg = cfg.replace(flat)
    return cfg.replace(overrides or {})


def save_config(cfg: ExperimentConfig, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
