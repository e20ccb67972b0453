"""Models by name, after timm: ``@register_model`` entrypoints, ``create_model``, ``list_models``.

Every model maps raw pixels ``(B, 1, 96, 96)`` float in 0..255 to keypoints ``(B, 15, 2)``
in pixels of that 96x96 frame (pixel centres at integers). Input normalisation lives in
the model (``input_mean``/``input_std``), so exported models and checkpoints need nothing else.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

import torch.nn as nn

_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register a model entrypoint under its function name."""
    if fn.__name__ in _MODELS:
        raise ValueError(f"model {fn.__name__!r} registered twice")
    _MODELS[fn.__name__] = fn
    return fn


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a glob ``pattern``, sorted."""
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern))


def create_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model; ``None``-valued kwargs leave the model's own defaults."""
    if name not in _MODELS:
        import difflib

        near = difflib.get_close_matches(name, _MODELS, n=3)
        hint = f"; did you mean {near}?" if near else f"; known: {list_models()}"
        raise ValueError(f"unknown model {name!r}{hint}")
    try:
        return _MODELS[name](**{k: v for k, v in kwargs.items() if v is not None})
    except TypeError as e:  # an option this architecture does not have (e.g. antialias for `paper`)
        raise ValueError(f"model {name!r} does not take that option ({e})") from None


def model_entry_doc(name: str) -> str | None:
    """The docstring of a model's entrypoint (its one-line description first)."""
    return _MODELS[name].__doc__


def count_flops(model: nn.Module, size: int | None = None) -> int:
    """Floating-point operations of one forward pass on one face (multiply-add = 2), at ``size``
    (None: the model's own input side) and the model's input channels."""
    size = size or getattr(model, "input_size", 96)
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, getattr(model, "input_channels", 1), size, size))
    model.train(was_training)
    return int(counter.get_total_flops())


def describe_models(pattern: str = "*") -> list[dict[str, Any]]:
    """Name, parameter count, GFLOPs per face and the first docstring line of each registered network."""
    rows = []
    for name in list_models(pattern):
        model = create_model(name)
        rows.append({"name": name, "params": sum(p.numel() for p in model.parameters()),
                     "gflops": count_flops(model) / 1e9, "about": (model_entry_doc(name) or "").splitlines()[0]})
    return rows
