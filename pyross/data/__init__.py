"""Datasets as in-memory tensors: the registry, label selection and batching by index."""
from .dataset import Dataset, Split
from .registry import DATASETS, get_dataset
from .semisupervised import SemiSupervisedData, binarize, index_batches, random_shift, select_labelled

__all__ = ["DATASETS", "Dataset", "SemiSupervisedData", "Split", "binarize", "get_dataset",
           "index_batches", "random_shift", "select_labelled"]
