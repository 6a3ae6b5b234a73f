"""Data sets and image transforms that work offline, in plain torch.

Every loader returns a :class:`LabelledData` (also a ``torch.utils.data.Dataset`` of
``(input, label)`` pairs) with:

* ``inputs``: images (N, C, H, W) float32 in [0, 1]; time series (N, C, L) float32; texts
  ``list[str]`` (``list[tuple[str, str]]`` for sentence pairs);
* ``labels``: (N,) int64 indices into ``classes`` (−1 = unlabeled); float32 for regression;
* ``classes``: class names in index order; ``name``, ``split``, ``metadata`` (source, licence ...).

Helpers on it: ``subset(n, seed)`` (class-balanced sample), ``select(indices)``, ``batches(bs,
shuffle, seed)``, ``map_inputs(fn)``, ``class_counts()``, ``num_classes``.

================================  ===============================================================
loader                            data
================================  ===============================================================
``load_digits_images``            scikit-learn digits (bundled), 8x8 → ``size``, 3 channels
``load_fashion_mnist``            ``/usr/share/datasets/fashion-mnist`` (Debian ``dataset-fashion-mnist``)
``load_mnist``/``load_idx_dataset``  any MNIST-layout IDX folder (:func:`read_idx`, :func:`write_idx`)
``load_cifar10``/``load_cifar100``   CIFAR binary (.bin, preferred) or python-pickle batches
``load_image_folder``             ``root/<class>/<image>`` via PIL
``load_ucr``                      UCR/UEA ``.ts`` sets inside the sktime wheel (GunPoint ...)
``load_text_task``                our CC0 sets: ``"sentiment"`` (2 classes), ``"topic"`` (4 classes)
``load_glue_tsv``                 GLUE TSV (SST-2 format by default)
``load_ag_news_csv``              AG News CSV
================================  ===============================================================

Transforms (:mod:`.transforms`): ``to_tensor``, ``to_rgb``, ``resize`` (antialiased
``F.interpolate``), ``center_crop``, ``pad``, ``normalize``, their callable classes, ``Compose`` and
``imagenet_eval_transform`` (EfficientNet-Lite0 preprocessing).
"""

from __future__ import annotations

from . import transforms
from .images import (
    CIFAR10_CLASSES,
    DEFAULT_FASHION_MNIST_ROOT,
    FASHION_MNIST_CLASSES,
    MNIST_CLASSES,
    load_cifar10,
    load_cifar100,
    load_digits_images,
    load_fashion_mnist,
    load_idx_dataset,
    load_image_folder,
    load_mnist,
    prepare_images,
    read_idx,
    write_idx,
)
from .text import AG_NEWS_CLASSES, SST2_CLASSES, TEXT_TASKS, load_ag_news_csv, load_glue_tsv, load_text_task
from .timeseries import list_ucr, load_ucr, read_ts
from .transforms import imagenet_eval_transform
from .types import LabelledData, stratified_split

__all__ = [
    "LabelledData",
    "stratified_split",
    "transforms",
    "imagenet_eval_transform",
    "prepare_images",
    "load_digits_images",
    "read_idx",
    "write_idx",
    "load_idx_dataset",
    "load_fashion_mnist",
    "load_mnist",
    "load_cifar10",
    "load_cifar100",
    "load_image_folder",
    "load_ucr",
    "list_ucr",
    "read_ts",
    "load_text_task",
    "load_glue_tsv",
    "load_ag_news_csv",
    "TEXT_TASKS",
    "AG_NEWS_CLASSES",
    "SST2_CLASSES",
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
    "CIFAR10_CLASSES",
    "DEFAULT_FASHION_MNIST_ROOT",
]
