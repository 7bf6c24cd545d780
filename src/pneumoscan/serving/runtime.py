"""The model's serving runtime: ONE forward pass gives everything a request needs.

``ServingGraph`` runs the backbone's stages in order (``EnsembleGraph``: each member's, on its own
input) and returns, from that single pass:

- ``features``: the pooled backbone features (the feature gate's input and the head's);
- ``block_means``: the spatial mean of every backbone block's output, concatenated (the population
  check's input; the same numbers as ``PneumoniaNet.features_and_block_means``);
- ``logits``: the head's output;
- ``last``: the activations of the CAM layer (the last convolutional block), for the class
  activation map (``serving.heatmap.class_activation_maps``).

Two runtimes execute it, chosen by ``make_runtime(model, kind)``:

- ``onnx`` (the default where ``onnxruntime`` is installed): the graph is exported to ONNX in
  memory when the checkpoint is loaded and run by ONNX Runtime's CPU kernels. On this project's
  2-core CPU it was the fastest of eager PyTorch, channels-last (oneDNN) and ``torch.compile``
  (``bench/serve_latency.py`` prints them side by side), with probabilities within 1e-5 of eager
  PyTorch (tested on the committed samples; the bench checks the 624 test images).
- ``torch``: eager PyTorch, the reference (any device, any model layout).

The ONNX Runtime session is created lazily on the first pass (in a gunicorn worker: after the
fork, so no thread pool crosses a fork); the exported bytes are made before, so a preloaded app
exports once for all workers.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import os
import warnings
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)

RUNTIMES: tuple[str, ...] = ("onnx", "torch")
OUTPUT_NAMES: tuple[str, ...] = ("features", "block_means", "logits", "last")


@dataclass(frozen=True)
class Outputs:
    """One forward pass's results, one row per image (float32 numpy arrays)."""

    features: np.ndarray
    block_means: np.ndarray
    logits: np.ndarray
    last: np.ndarray

    def as_tuple(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.features, self.block_means, self.logits, self.last


def _spatial_mean(out: torch.Tensor) -> torch.Tensor:
    """A block output's spatial mean (B, C), or its flattened form when it has no spatial axes."""
    return out.float().mean((2, 3)) if out.ndim == 4 else out.float().flatten(1)


class ServingGraph(nn.Module):
    """Backbone stages in order, then the head; returns ``(features, block_means, logits, last)``.

    Args:
        model: a ``PneumoniaNet`` whose backbone is an ``nn.Sequential`` holding its blocks and its
            CAM layer as direct children (every registered backbone).

    Raises:
        ValueError: the model has another layout (use ``supports`` first).
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        if not supports(model):
            raise ValueError("ServingGraph needs a PneumoniaNet whose blocks are children of its Sequential backbone.")
        stages = list(model.backbone)
        self.stages = nn.ModuleList(stages)
        block_ids = {id(b) for b in model.blocks}
        self.tapped = [i for i, s in enumerate(stages) if id(s) in block_ids]
        self.cam_index = next(i for i, s in enumerate(stages) if s is model.cam_layer)
        self.head = model.head

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        means: list[torch.Tensor] = []
        last = x
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.tapped:
                means.append(_spatial_mean(x))
            if i == self.cam_index:
                last = x
        return x, torch.cat(means, 1), self.head(x), last


class EnsembleGraph(nn.Module):
    """An ``EnsembleNet``'s one pass: each member's ``ServingGraph`` on its adapted input; features
    and block means concatenated in member order, the combined logits, and the CAM member's
    (the first's) last activations."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.inputs = model.inputs
        self.graphs = nn.ModuleList(ServingGraph(m) for m in model.members)
        self.ensemble = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        outs = [graph(adapt(x)) for graph, adapt in zip(self.graphs, self.inputs)]
        feats = torch.cat([o[0] for o in outs], 1)
        means = torch.cat([o[1] for o in outs], 1)
        return feats, means, self.ensemble.combine_logits([o[2] for o in outs]), outs[0][3]


def serving_graph(model: nn.Module) -> nn.Module:
    """``EnsembleGraph`` for an ensemble, ``ServingGraph`` otherwise (see ``supports``)."""
    return EnsembleGraph(model) if hasattr(model, "members") else ServingGraph(model)


def supports(model: nn.Module) -> bool:
    """Whether the serving graph can run ``model``: a Sequential backbone holding blocks and CAM layer,
    or an ensemble of such members."""
    if hasattr(model, "members"):
        return all(supports(m) for m in model.members)
    backbone = getattr(model, "backbone", None)
    if not isinstance(backbone, nn.Sequential) or not hasattr(model, "head") or not hasattr(model, "blocks"):
        return False
    children = {id(m) for m in backbone}
    return all(id(b) in children for b in model.blocks) and id(getattr(model, "cam_layer", None)) in children


class Runtime(Protocol):
    """Runs a preprocessed batch (B, 3, H, W) through the serving graph."""

    kind: str

    def run(self, batch: torch.Tensor) -> Outputs: ...


class TorchRuntime:
    """Eager PyTorch (optionally channels-last, for oneDNN's blocked kernels)."""

    def __init__(self, model: nn.Module, device: torch.device | str = "cpu", channels_last: bool = False):
        self.graph = serving_graph(model).eval().to(device)
        self.device = torch.device(device)
        self.channels_last = channels_last
        if channels_last:
            self.graph = self.graph.to(memory_format=torch.channels_last)
        self.kind = "torch-channels-last" if channels_last else "torch"

    def run(self, batch: torch.Tensor) -> Outputs:
        with torch.inference_mode():
            x = batch.to(self.device)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            outs = self.graph(x)
        return Outputs(*(o.float().cpu().contiguous().numpy() for o in outs))


def export_onnx(model: nn.Module, size: int = 224) -> bytes:
    """The serving graph as an ONNX model (batch axis dynamic), exported in memory.

    Args:
        model: a ``PneumoniaNet`` or ``EnsembleNet`` (see ``supports``), on the CPU.
        size: the input's height and width (the eval transform's crop).
    """
    graph = serving_graph(model).eval().cpu()
    buf = io.BytesIO()
    dummy = torch.zeros(1, 3, size, size)
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter needs only ``onnx``; the newer one would add onnxscript.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # an ensemble member's fixed resize decision
        torch.onnx.export(
            graph,
            (dummy,),
            buf,
            input_names=["image"],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes={name: {0: "batch"} for name in ("image", *OUTPUT_NAMES)},
            opset_version=17,
            dynamo=False,
        )
    return buf.getvalue()


class OnnxRuntime:
    """ONNX Runtime (CPU) on the exported serving graph; the session is made on first use.

    Args:
        model: a ``PneumoniaNet`` (see ``supports``).
        size: the input's side (the eval transform's crop).
        threads: intra-op threads (default: PyTorch's thread count when the session is made).
    """

    kind = "onnx"

    def __init__(self, model: nn.Module, size: int = 224, threads: int | None = None):
        self.onnx_bytes = export_onnx(model, size)
        self.threads = threads
        self._session = None

    def session(self):
        """The ONNX Runtime inference session (created on the first call)."""
        if self._session is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = int(self.threads or torch.get_num_threads())
            opts.inter_op_num_threads = 1
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # No spin-waiting between kernels: the cores are shared with the request threads (decode,
            # preprocess, PNG) and other workers; spinning threads halved throughput when they were busy.
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._session = ort.InferenceSession(self.onnx_bytes, opts, providers=["CPUExecutionProvider"])
        return self._session

    def run(self, batch: torch.Tensor) -> Outputs:
        x = np.ascontiguousarray(batch.detach().cpu().numpy(), dtype=np.float32)
        outs = self.session().run(list(OUTPUT_NAMES), {"image": x})
        return Outputs(*(np.asarray(o, dtype=np.float32) for o in outs))


def default_runtime() -> str:
    """``PNEUMOSCAN_RUNTIME`` when set, else ``onnx`` where ONNX Runtime is installed, else ``torch``."""
    chosen = os.environ.get("PNEUMOSCAN_RUNTIME", "").strip().lower()
    if chosen:
        return chosen
    # find_spec, not import: ONNX Runtime's process-wide environment must be made after a fork
    # (in the gunicorn worker), or the worker aborts at exit joining a thread that stayed behind.
    return "onnx" if importlib.util.find_spec("onnxruntime") is not None else "torch"


def make_runtime(
    model: nn.Module, kind: str | None = None, device: torch.device | str = "cpu", size: int = 224
) -> Runtime | None:
    """The runtime that serves ``model``, or None when its layout needs the generic eager path.

    Args:
        model: the loaded ``PneumoniaNet``.
        kind: ``onnx`` or ``torch`` (default: ``default_runtime()``).
        device: where it runs (ONNX Runtime here runs on the CPU only: on another device ``torch``).
        size: the input's side.

    Raises:
        ValueError: an unknown ``kind``.
    """
    kind = (kind or default_runtime()).lower()
    if kind not in RUNTIMES:
        raise ValueError(f"Unknown runtime {kind!r}. Available: {', '.join(RUNTIMES)}.")
    if not supports(model):
        log.info("model layout not supported by the serving graph: eager PyTorch with hooks")
        return None
    if kind == "onnx" and torch.device(device).type == "cpu":
        try:
            return OnnxRuntime(model, size)
        except Exception as exc:  # noqa: BLE001 - an export failure must not stop serving
            log.warning("ONNX export failed (%s): serving with eager PyTorch", exc)
    return TorchRuntime(model, device)
