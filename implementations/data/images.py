"""Image data sets as :class:`~.types.LabelledData` with ``inputs`` (N, C, H, W) float32 in [0, 1].

Loaders:

* :func:`load_digits_images`: scikit-learn's bundled 8x8 digits (1,797 images, 10 classes).
* :func:`load_fashion_mnist` / :func:`load_mnist`: the IDX files of (Fashion-)MNIST (:func:`read_idx`).
* :func:`load_cifar10` / :func:`load_cifar100`: the CIFAR binary (``.bin``) or python-pickle formats.
* :func:`load_image_folder`: ``root/<class>/<image>.png|jpg`` (PIL).

Every loader can resize (``size``), turn grey into RGB (``channels=3``) and keep a reproducible
subset (``max_samples``, ``seed``); :func:`load_fashion_mnist` and friends only read files.
"""

from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import Tensor

from . import transforms as T
from .types import LabelledData, stratified_split

__all__ = [
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
    "CIFAR10_CLASSES",
    "DEFAULT_FASHION_MNIST_ROOT",
    "load_digits_images",
    "read_idx",
    "write_idx",
    "load_idx_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "load_cifar10",
    "load_cifar100",
    "load_image_folder",
    "prepare_images",
]

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
MNIST_CLASSES = tuple(str(d) for d in range(10))
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
DEFAULT_FASHION_MNIST_ROOT = "/usr/share/datasets/fashion-mnist"

_SPLITS = ("train", "test")
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _check_split(split: str, allowed: Sequence[str] = _SPLITS) -> None:
    if split not in allowed:
        raise ValueError(f"split: expected one of {tuple(allowed)}, got {split!r}")


def prepare_images(
    images: Tensor,
    size: int | Sequence[int] | None = None,
    channels: int | None = None,
    interpolation: str = "bilinear",
) -> Tensor:
    """(N, C, H, W) float images → resized to ``size`` (pair or square int) and ``channels`` (1 or 3)."""
    if channels not in (None, 1, 3):
        raise ValueError(f"channels: expected 1, 3 or None, got {channels!r}")
    if size is not None:
        pair = (size, size) if isinstance(size, int) else tuple(size)
        images = T.resize(images, pair, interpolation=interpolation).clamp(0.0, 1.0)
    if channels == 3 and images.shape[1] == 1:
        images = T.to_rgb(images)
    elif channels == 1 and images.shape[1] == 3:
        weights = torch.tensor([0.299, 0.587, 0.114], dtype=images.dtype).view(1, 3, 1, 1)
        images = (images * weights).sum(dim=1, keepdim=True)
    return images.contiguous()


def _limit(data: LabelledData, max_samples: int | None, seed: int) -> LabelledData:
    if max_samples is None or max_samples >= len(data):
        return data
    return data.subset(max_samples, seed=seed)


def _scaled(
    data: LabelledData, size: int | Sequence[int] | None, channels: int | None, max_samples: int | None, seed: int
) -> LabelledData:
    """``data`` cut to ``max_samples`` (a seeded subset), its uint8 images scaled to [0, 1] and prepared."""
    return _limit(data, max_samples, seed).map_inputs(lambda x: prepare_images(x.float() / 255.0, size, channels))


# --------------------------------------------------------------------------------------------
# scikit-learn digits


def load_digits_images(
    size: int | Sequence[int] | None = 32,
    split: str = "train",
    seed: int = 0,
    test_fraction: float = 0.25,
    channels: int = 3,
    interpolation: str = "bilinear",
) -> LabelledData:
    """scikit-learn's digits (8x8 grey, values 0..16) as images in [0, 1], up-sampled to ``size``.

    ``split``: "train", "test" (a stratified ``test_fraction`` split under ``seed``) or "all".
    Returns inputs (N, channels, size, size); 1,797 images in all, classes "0".."9".
    """
    from sklearn.datasets import load_digits

    _check_split(split, ("train", "test", "all"))
    bunch = load_digits()
    images = torch.from_numpy(bunch.images.astype(np.float32) / 16.0).unsqueeze(1)
    labels = np.asarray(bunch.target, dtype=np.int64)
    if split != "all":
        train, test = stratified_split(labels, test_fraction, seed)
        index = train if split == "train" else test
        images, labels = images[torch.from_numpy(index)], labels[index]
    images = prepare_images(images, size, channels, interpolation)
    return LabelledData(
        images,
        torch.from_numpy(labels),
        MNIST_CLASSES,
        name="digits",
        split=split,
        metadata={"source": "sklearn.datasets.load_digits", "license": "BSD-3-Clause"},
    )


# --------------------------------------------------------------------------------------------
# IDX (MNIST format)

_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _open_maybe_gzip(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        return gzip.decompress(raw)
    return raw


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (plain or gzip): magic ``00 00 <type> <ndim>``, ndim big-endian int32 sizes, data.

    Returns an array of the stored type and shape (e.g. (60000, 28, 28) uint8 for images).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no IDX file at {path}")
    raw = _open_maybe_gzip(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"path: {path} is not an IDX file (bad magic number {raw[:4].hex()})")
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    shape = tuple(int(s) for s in np.frombuffer(raw[4:header], dtype=">i4"))
    count = int(np.prod(shape)) if shape else 1
    expected = header + count * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"path: {path} holds {len(raw)} bytes, the header {shape} needs {expected}")
    return np.frombuffer(raw, dtype=dtype, offset=header, count=count).reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray, compress: bool | None = None) -> Path:
    """Write ``array`` as an IDX file (gzip when ``compress`` or the name ends in ``.gz``); refuses to overwrite."""
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"path: {path} exists; refusing to overwrite")
    codes = {dtype: code for code, dtype in _IDX_TYPES.items()}
    big = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    code = codes.get(np.dtype(big)) or codes.get(np.dtype(array.dtype))
    if code is None:
        raise ValueError(
            f"array: dtype {array.dtype} has no IDX type code; use uint8, int8, int16, int32, float32 or float64"
        )
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">i4").tobytes()
    payload = header + np.ascontiguousarray(array).astype(big).tobytes()
    if compress or (compress is None and path.suffix == ".gz"):
        payload = gzip.compress(payload, mtime=0)
    path.write_bytes(payload)
    return path


def _idx_file(root: Path, stem: str) -> Path:
    for name in (f"{stem}.gz", stem):
        if (root / name).is_file():
            return root / name
    raise FileNotFoundError(f"root: no {stem}(.gz) in {root}")


def load_idx_dataset(
    root: str | os.PathLike,
    split: str = "train",
    classes: Sequence[str] = MNIST_CLASSES,
    name: str = "idx",
    size: int | Sequence[int] | None = None,
    channels: int | None = None,
    max_samples: int | None = None,
    seed: int = 0,
) -> LabelledData:
    """An MNIST-layout folder: ``{train,t10k}-images-idx3-ubyte(.gz)`` and ``...-labels-idx1-ubyte(.gz)``.

    Returns inputs (N, 1, 28, 28) in [0, 1] (or resized / 3-channel), labels (N,) int64.
    """
    _check_split(split)
    root = Path(root)
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(_idx_file(root, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_idx_file(root, f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"root: {root} images {images.shape} and labels {labels.shape} do not match")
    data = LabelledData(
        torch.from_numpy(images.copy()).unsqueeze(1),
        torch.from_numpy(labels.astype(np.int64)),
        tuple(classes),
        name=name,
        split=split,
        metadata={"source": str(root)},
    )
    return _scaled(data, size, channels, max_samples, seed)


def load_fashion_mnist(
    root: str | os.PathLike = DEFAULT_FASHION_MNIST_ROOT,
    split: str = "train",
    size: int | Sequence[int] | None = None,
    channels: int | None = None,
    max_samples: int | None = None,
    seed: int = 0,
) -> LabelledData:
    """Fashion-MNIST (Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747; MIT): 60,000/10,000 28x28 grey images.

    On Debian/Ubuntu the files come from the package ``dataset-fashion-mnist``
    (``apt-get install dataset-fashion-mnist``), installed at ``/usr/share/datasets/fashion-mnist``.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(
            f"root: Fashion-MNIST not found at {root}; install the Debian package 'dataset-fashion-mnist' "
            "(apt-get install dataset-fashion-mnist) or pass root=<folder with the IDX .gz files>"
        )
    data = load_idx_dataset(root, split, FASHION_MNIST_CLASSES, "fashion-mnist", size, channels, max_samples, seed)
    data.metadata["license"] = "MIT"
    return data


def load_mnist(
    root: str | os.PathLike,
    split: str = "train",
    size: int | Sequence[int] | None = None,
    channels: int | None = None,
    max_samples: int | None = None,
    seed: int = 0,
) -> LabelledData:
    """MNIST from a folder of IDX files (none ships here: pass your own ``root``)."""
    return load_idx_dataset(root, split, MNIST_CLASSES, "mnist", size, channels, max_samples, seed)


# --------------------------------------------------------------------------------------------
# CIFAR


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals a CIFAR batch needs (numpy array reconstruction).

    Any other global (``os.system``, ``builtins.eval`` ...) raises ``pickle.UnpicklingError``, which
    closes the usual code-execution route of pickle files. Residual risk: bugs in numpy's own
    reconstruction code; prefer the binary format when you can.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name} from a CIFAR pickle")


def _load_cifar_pickle(path: Path) -> dict[str, Any]:
    with open(path, "rb") as handle:
        payload = _NumpyOnlyUnpickler(handle, encoding="bytes").load()
    if not isinstance(payload, dict):
        raise ValueError(f"path: {path} is not a CIFAR python batch (expected a dict, got {type(payload).__name__})")
    return {(k.decode("latin1") if isinstance(k, bytes) else k): v for k, v in payload.items()}


def _decode_names(values: Sequence[Any]) -> tuple[str, ...]:
    return tuple(v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values)


def _find_cifar(root: Path, candidates: dict[str, tuple[str, ...]], fmt: str) -> tuple[str, Path]:
    if fmt not in ("auto", "binary", "python"):
        raise ValueError(f"format: expected 'auto', 'binary' or 'python', got {fmt!r}")
    order = ("binary", "python") if fmt == "auto" else (fmt,)
    for kind in order:
        for folder in (root, *[root / sub for sub in candidates[kind]]):
            marker = candidates[f"{kind}-marker"][0]
            if (folder / marker).is_file():
                return kind, folder
    raise FileNotFoundError(
        f"root: no CIFAR {'/'.join(order)} files under {root} (looked for {candidates['binary-marker'][0]} or "
        f"{candidates['python-marker'][0]}, also in {', '.join(candidates['binary'] + candidates['python'])})"
    )


def _read_names(path: Path) -> tuple[str, ...]:
    return tuple(line.strip() for line in path.read_text().splitlines() if line.strip())


def _cifar_images(flat: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(flat.reshape(-1, 3, 32, 32)))


def _cifar_data(
    pixels: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    name: str,
    split: str,
    source: tuple[Path, str],
    size: int | Sequence[int] | None,
    max_samples: int | None,
    seed: int,
) -> LabelledData:
    """CIFAR records (N, 3072) uint8 and labels (N,) as a dataset; ``source`` = (folder, "binary"|"python")."""
    folder, kind = source
    data = LabelledData(
        _cifar_images(pixels),
        torch.from_numpy(labels),
        tuple(classes),
        name=name,
        split=split,
        metadata={"source": str(folder), "format": kind},
    )
    return _scaled(data, size, None, max_samples, seed)


def load_cifar10(
    root: str | os.PathLike,
    split: str = "train",
    format: str = "auto",
    size: int | Sequence[int] | None = None,
    max_samples: int | None = None,
    seed: int = 0,
) -> LabelledData:
    """CIFAR-10 (Krizhevsky 2009): 50,000/10,000 32x32 RGB images, 10 classes.

    Binary format (preferred; ``cifar-10-batches-bin``): records of 1 label byte + 3,072 pixel bytes
    (R, G, B planes of 32x32) in ``data_batch_1..5.bin`` / ``test_batch.bin``; names in
    ``batches.meta.txt``. Python format (``cifar-10-batches-py``): pickled dicts with ``data``
    (N, 3072) uint8 and ``labels``; read with an unpickler restricted to numpy arrays, but a pickle
    is still code-bearing: only load files you trust.
    """
    _check_split(split)
    root = Path(root)
    layout = {
        "binary": ("cifar-10-batches-bin",),
        "python": ("cifar-10-batches-py",),
        "binary-marker": ("data_batch_1.bin" if split == "train" else "test_batch.bin",),
        "python-marker": ("data_batch_1" if split == "train" else "test_batch",),
    }
    kind, folder = _find_cifar(root, layout, format)
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    if kind == "binary":
        parts, labels = [], []
        for name in names:
            path = folder / f"{name}.bin"
            if not path.is_file():
                continue
            records = np.frombuffer(path.read_bytes(), dtype=np.uint8)
            if records.size % 3073:
                raise ValueError(f"path: {path} size {records.size} is not a multiple of 3073-byte CIFAR-10 records")
            records = records.reshape(-1, 3073)
            labels.append(records[:, 0].astype(np.int64))
            parts.append(records[:, 1:])
        meta = folder / "batches.meta.txt"
        classes = _read_names(meta) if meta.is_file() else CIFAR10_CLASSES
    else:
        parts, labels = [], []
        for name in names:
            path = folder / name
            if not path.is_file():
                continue
            batch = _load_cifar_pickle(path)
            parts.append(np.asarray(batch["data"], dtype=np.uint8))
            labels.append(np.asarray(batch["labels"], dtype=np.int64))
        meta = folder / "batches.meta"
        classes = _decode_names(_load_cifar_pickle(meta)["label_names"]) if meta.is_file() else CIFAR10_CLASSES
    pixels, targets = np.concatenate(parts), np.concatenate(labels)
    return _cifar_data(pixels, targets, classes, "cifar10", split, (folder, kind), size, max_samples, seed)


def load_cifar100(
    root: str | os.PathLike,
    split: str = "train",
    label: str = "fine",
    format: str = "auto",
    size: int | Sequence[int] | None = None,
    max_samples: int | None = None,
    seed: int = 0,
) -> LabelledData:
    """CIFAR-100: 100 fine classes grouped in 20 coarse ones (``label="fine"|"coarse"``).

    Binary format (``cifar-100-binary``): records of coarse byte, fine byte, 3,072 pixel bytes in
    ``train.bin`` / ``test.bin``, names in ``fine_label_names.txt`` / ``coarse_label_names.txt``.
    Python format (``cifar-100-python``): pickles ``train`` / ``test`` / ``meta`` (restricted unpickler).
    """
    _check_split(split)
    if label not in ("fine", "coarse"):
        raise ValueError(f"label: expected 'fine' or 'coarse', got {label!r}")
    root = Path(root)
    layout = {
        "binary": ("cifar-100-binary",),
        "python": ("cifar-100-python",),
        "binary-marker": (f"{split}.bin",),
        "python-marker": (split,),
    }
    kind, folder = _find_cifar(root, layout, format)
    if kind == "binary":
        path = folder / f"{split}.bin"
        records = np.frombuffer(path.read_bytes(), dtype=np.uint8)
        if records.size % 3074:
            raise ValueError(f"path: {path} size {records.size} is not a multiple of 3074-byte CIFAR-100 records")
        records = records.reshape(-1, 3074)
        labels = records[:, 0 if label == "coarse" else 1].astype(np.int64)
        pixels = records[:, 2:]
        names_file = folder / f"{label}_label_names.txt"
        classes = _read_names(names_file) if names_file.is_file() else ()
    else:
        batch = _load_cifar_pickle(folder / split)
        pixels = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch[f"{label}_labels"], dtype=np.int64)
        meta_path = folder / "meta"
        classes = _decode_names(_load_cifar_pickle(meta_path)[f"{label}_label_names"]) if meta_path.is_file() else ()
    if not classes:
        classes = tuple(str(i) for i in range(int(labels.max()) + 1))
    return _cifar_data(pixels, labels, classes, f"cifar100-{label}", split, (folder, kind), size, max_samples, seed)


# --------------------------------------------------------------------------------------------
# image folders


def load_image_folder(
    root: str | os.PathLike,
    size: int | Sequence[int] | None = None,
    channels: int = 3,
    extensions: Sequence[str] = _IMAGE_EXTENSIONS,
    max_samples: int | None = None,
    seed: int = 0,
) -> LabelledData:
    """``root/<class name>/<image file>``: classes are the sorted sub-folder names.

    Images are read with PIL, converted to RGB (``channels=3``) or grey (``channels=1``) and resized
    to ``size`` (square int or (H, W)); without ``size`` all images must share one size.
    ``metadata["paths"]`` lists the files in order.
    """
    from PIL import Image

    if channels not in (1, 3):
        raise ValueError(f"channels: expected 1 or 3, got {channels!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"root: no folder at {root}")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise FileNotFoundError(f"root: {root} has no class sub-folders")
    suffixes = tuple(e.lower() for e in extensions)
    paths: list[Path] = []
    labels: list[int] = []
    for index, name in enumerate(classes):
        for path in sorted((root / name).rglob("*")):
            if path.is_file() and path.suffix.lower() in suffixes:
                paths.append(path)
                labels.append(index)
    if not paths:
        raise FileNotFoundError(f"root: no image files with extensions {suffixes} under {root}")
    if max_samples is not None and max_samples < len(paths):
        keep = LabelledData(list(range(len(paths))), torch.tensor(labels), tuple(classes)).subset(max_samples, seed)
        order = list(keep.inputs)
        paths, labels = [paths[i] for i in order], [labels[i] for i in order]
    images = []
    for path in paths:
        with Image.open(path) as handle:
            image = T.to_tensor(handle.convert("RGB" if channels == 3 else "L"))
        if size is not None:
            pair = (size, size) if isinstance(size, int) else tuple(size)
            image = T.resize(image, pair).clamp(0.0, 1.0)
        images.append(image)
    shapes = {tuple(image.shape) for image in images}
    if len(shapes) > 1:
        raise ValueError(f"size: the images under {root} have different shapes {sorted(shapes)[:3]}...; pass size=")
    return LabelledData(
        torch.stack(images),
        torch.tensor(labels, dtype=torch.long),
        tuple(classes),
        name=root.name,
        split="",
        metadata={"source": str(root), "paths": [str(p) for p in paths]},
    )
