"""``PneumoniaNet``: a pretrained backbone (image -> pooled features) plus a two-class linear head."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class PneumoniaNet(nn.Module):
    """Backbone + linear head, with freezing that survives ``model.train()``.

    Args:
        backbone: an ``nn.Sequential`` of stages mapping a (B, 3, H, W) batch to pooled features
            (B, num_features).
        num_features: the backbone's output width.
        blocks: the backbone's stages in input-to-output order; ``unfreeze_last=N`` trains the last N.
        cam_layer: the last convolutional block (Grad-CAM's target layer).
        num_classes: 2 (NORMAL, PNEUMONIA).
        dropout: dropout before the head (0 = none).
    """

    def __init__(
        self,
        backbone: nn.Module,
        num_features: int,
        blocks: Sequence[nn.Module],
        cam_layer: nn.Module,
        num_classes: int = 2,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.backbone = backbone
        self.blocks = list(blocks)  # plain list: the modules are registered through self.backbone
        self._cam_layer = [cam_layer]  # a reference, not a submodule: its weights live in self.backbone
        self.num_features = num_features
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(num_features, num_classes))
        self.trainable_blocks = 0

    @property
    def cam_layer(self) -> nn.Module:
        """The last convolutional block: Grad-CAM's target layer."""
        return self._cam_layer[0]

    @property
    def classifier(self) -> nn.Linear:
        """The final linear layer (the paper's replaced last layer)."""
        return self.head[-1]

    def set_trainable_blocks(self, n: int) -> None:
        """Freeze the whole backbone (n=0, the paper) or leave its last ``n`` blocks trainable.

        Raises:
            ValueError: ``n`` is negative or larger than the number of blocks.
        """
        if not 0 <= n <= len(self.blocks):
            raise ValueError(f"unfreeze_last must be between 0 and {len(self.blocks)} for this backbone, got {n}.")
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        for block in self.blocks[len(self.blocks) - n :]:
            for p in block.parameters():
                p.requires_grad_(True)
        self.trainable_blocks = n
        self.train(self.training)

    @property
    def backbone_frozen(self) -> bool:
        return self.trainable_blocks == 0

    def train(self, mode: bool = True) -> PneumoniaNet:
        """Like ``nn.Module.train``, but frozen blocks stay in eval mode (fixed BN statistics, no dropout)."""
        super().train(mode)
        frozen = self.blocks[: len(self.blocks) - self.trainable_blocks]
        for block in frozen:
            block.eval()
        if self.trainable_blocks == 0:
            self.backbone.eval()
        return self

    def split_index(self) -> int:
        """Position in ``self.backbone`` (a Sequential) of the first trainable stage; its length when frozen."""
        if self.trainable_blocks == 0:
            return len(self.backbone)
        first = self.blocks[len(self.blocks) - self.trainable_blocks]
        return next(i for i, m in enumerate(self.backbone) if m is first)

    def frozen_part(self) -> nn.Module:
        """The frozen stages: their output never changes during training, so it can be cached."""
        return self.backbone[: self.split_index()]

    def trainable_part(self) -> nn.Module:
        """The rest of the network (trainable stages + head), sharing parameters with this model."""
        return nn.Sequential(self.backbone[self.split_index() :], self.head)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def features_and_block_means(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Pooled features and, concatenated, the spatial mean of every block's output.

        The block means describe the image at every depth (edges and textures early, anatomy late);
        the population check uses them. They cost one mean per block on top of the forward pass.
        """
        taps: list[torch.Tensor] = []

        def keep(_module: nn.Module, _inputs: tuple, out: torch.Tensor) -> None:
            taps.append(out.float().mean((2, 3)) if out.ndim == 4 else out.float().flatten(1))

        hooks = [block.register_forward_hook(keep) for block in self.blocks]
        try:
            feats = self.backbone(x)
        finally:
            for hook in hooks:
                hook.remove()
        return feats, torch.cat(taps, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))
