"""``EnsembleNet``: several frozen-backbone members behind one model interface.

Every member sees the same preprocessed image (the run's ``preprocessing``, left unnormalised:
mean 0, std 1) and adapts it in the graph to its own input (``MemberInput``: bilinear resize to its
input size, then its own normalisation). The ensemble then offers what a single ``PneumoniaNet``
offers to serving, evaluation and the population check:

- ``forward(x)``: two-class logits whose softmax is the combined P(pneumonia);
- ``features(x)``: the members' pooled features, concatenated (the refusal gate's input);
- ``features_and_block_means(x)``: those, and the members' block means concatenated.

Combinations: ``mean`` (mean of the members' probabilities) or ``stack`` (logistic regression on
the members' log-odds, fitted on the validation split; ``coef``/``intercept`` in the meta).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from pneumoscan.models.net import PneumoniaNet

COMBINATIONS: tuple[str, ...] = ("mean", "stack")
_TINY = 1e-12


class MemberInput(nn.Module):
    """Unnormalised (B, 3, S, S) input -> this member's input: resize to ``size`` (if not S), normalise."""

    def __init__(self, size: int, mean: Sequence[float], std: Sequence[float]):
        super().__init__()
        self.size = int(size)
        self.register_buffer("mean", torch.tensor([float(m) for m in mean]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([float(s) for s in std]).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.size or x.shape[-2] != self.size:
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)
        return (x - self.mean) / self.std


def combined_logits(member_logits: Sequence[torch.Tensor], combine: str, coef: torch.Tensor | None = None,
                    intercept: torch.Tensor | None = None) -> torch.Tensor:
    """Two-class logits whose softmax is the combination of the members' probabilities.

    ``mean``: p = mean of softmax(logits)[:, 1]; returns (log(1 - p), log p).
    ``stack``: z = intercept + sum_m coef_m * (logit1_m - logit0_m); returns (0, z), so softmax is sigmoid(z).
    """
    if combine == "mean":
        p = torch.stack([torch.softmax(lg.float(), 1)[:, 1] for lg in member_logits], 1).mean(1)
        return torch.stack([torch.log((1 - p).clamp_min(_TINY)), torch.log(p.clamp_min(_TINY))], 1)
    if combine == "stack":
        odds = torch.stack([lg[:, 1].float() - lg[:, 0].float() for lg in member_logits], 1)
        z = odds @ coef.float() + intercept.float()
        return torch.stack([torch.zeros_like(z), z], 1)
    raise ValueError(f"Unknown combination {combine!r}. Available: {', '.join(COMBINATIONS)}.")


class EnsembleNet(nn.Module):
    """Members (``PneumoniaNet``) with their input adapters and a combination rule.

    Args:
        members: the trained members (frozen backbones, linear heads).
        inputs: one ``MemberInput`` per member.
        names: the members' backbone names (for reports).
        combine: ``mean`` or ``stack``.
        coef, intercept: the stack's logistic regression (``stack`` only).

    Raises:
        ValueError: an unknown combination, mismatched lists, or a stack without coefficients.
    """

    def __init__(self, members: Sequence[PneumoniaNet], inputs: Sequence[MemberInput], names: Sequence[str],
                 combine: str = "mean", coef: Sequence[float] | None = None, intercept: float | None = None):
        super().__init__()
        if combine not in COMBINATIONS:
            raise ValueError(f"Unknown combination {combine!r}. Available: {', '.join(COMBINATIONS)}.")
        if not members or len(members) != len(inputs) or len(members) != len(names):
            raise ValueError("An ensemble needs one input adapter and one name per member, and at least one member.")
        if combine == "stack" and (coef is None or intercept is None or len(coef) != len(members)):
            raise ValueError("A stacked ensemble needs one coefficient per member and an intercept.")
        self.members = nn.ModuleList(members)
        self.inputs = nn.ModuleList(inputs)
        self.names = list(names)
        self.combine = combine
        self.register_buffer("coef", torch.tensor([float(c) for c in (coef or [0.0] * len(members))]))
        self.register_buffer("intercept", torch.tensor(float(intercept or 0.0)))
        self.num_features = sum(m.num_features for m in members)

    @property
    def cam_member(self) -> PneumoniaNet:
        """The member whose class activation map serves as the ensemble's heatmap (the first)."""
        return self.members[0]

    @property
    def cam_layer(self) -> nn.Module:
        """The CAM member's target layer (Grad-CAM's, where the exact CAM does not apply)."""
        return self.cam_member.cam_layer

    def member_logits(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each member's two-class logits on its own adapted input."""
        return [member(adapt(x)) for member, adapt in zip(self.members, self.inputs)]

    def combine_logits(self, member_logits: Sequence[torch.Tensor]) -> torch.Tensor:
        return combined_logits(member_logits, self.combine, self.coef, self.intercept)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.combine_logits(self.member_logits(x))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([member.features(adapt(x)) for member, adapt in zip(self.members, self.inputs)], 1)

    def features_and_block_means(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The members' pooled features and block means, each concatenated in member order."""
        pairs = [member.features_and_block_means(adapt(x)) for member, adapt in zip(self.members, self.inputs)]
        return torch.cat([f for f, _ in pairs], 1), torch.cat([m for _, m in pairs], 1)

    def train(self, mode: bool = True) -> EnsembleNet:
        super().train(mode)
        for member in self.members:
            member.train(mode)  # keeps each member's frozen blocks in eval mode
        return self


def ensemble_meta(names: Sequence[str], inputs: Sequence[MemberInput], dropouts: Sequence[float], combine: str,
                  coef: Sequence[float] | None = None, intercept: float | None = None) -> dict:
    """The checkpoint's ``ensemble`` entry: members (backbone, dropout, input), combination."""
    members = [{"backbone": n, "dropout": float(d), "input": {"size": a.size, "mean": a.mean.flatten().tolist(),
                                                            "std": a.std.flatten().tolist()}}
               for n, a, d in zip(names, inputs, dropouts)]
    out = {"members": members, "combine": combine}
    if combine == "stack":
        out.update(coef=[float(c) for c in coef or []], intercept=float(intercept or 0.0))
    return out


def build_ensemble(spec: dict) -> EnsembleNet:
    """An untrained ``EnsembleNet`` of the layout in a checkpoint's ``ensemble`` meta (weights: none)."""
    from pneumoscan.models.registry import build_model

    members = [build_model(m["backbone"], weights="none", dropout=m.get("dropout", 0.0)) for m in spec["members"]]
    inputs = [MemberInput(m["input"]["size"], m["input"]["mean"], m["input"]["std"]) for m in spec["members"]]
    return EnsembleNet(members, inputs, [m["backbone"] for m in spec["members"]], spec["combine"],
                       spec.get("coef"), spec.get("intercept"))
