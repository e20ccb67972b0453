"""Model registry. Every model file is imported here explicitly, so every model registers."""

from . import ensemble, mobile, paper, resnet  # noqa: F401
from .registry import create_model, list_models, register_model

__all__ = ["create_model", "list_models", "register_model"]
