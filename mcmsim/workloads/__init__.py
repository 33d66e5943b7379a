"""Workloads: layers, models as DAGs, the model zoo and ONNX import."""

from mcmsim.workloads.layer import Layer, OpKind
from mcmsim.workloads.model import Model, ModelBuilder
from mcmsim.workloads.zoo import ZOO, UnknownModelError, get_model

__all__ = ["ZOO", "Layer", "Model", "ModelBuilder", "OpKind", "UnknownModelError", "get_model"]
