"""The data layer: pinned upstream files, typed readers, context generators.

    from shapca.data import load, labels, entity_types
    train = load("twitter2015", "train")          # list[NERExample]
    texts, coverage = load_contexts("mnre", "dev", "llava_next", load("mnre", "dev"))
"""
from shapca.data.context_texts import Coverage, generators, load_contexts
from shapca.data.datasets import entity_types, labels, load, notes
from shapca.data.errors import ChecksumError, DataError, FetchError, MissingContextError
from shapca.data.types import (DATASETS, SPLITS, TASK_OF, Example, JMEREExample, NERExample, REExample, Span,
                               Triple)

__all__ = ["load", "labels", "entity_types", "notes", "generators", "load_contexts", "Coverage", "DataError",
           "FetchError", "ChecksumError", "MissingContextError", "DATASETS", "SPLITS", "TASK_OF", "Example",
           "NERExample", "REExample", "JMEREExample", "Span", "Triple"]
