"""Training configuration: one typed dataclass, named recipes, ``key=value`` overrides.

The dataclass is the single source of keys, types and defaults. A recipe is a small
dict of overrides on it; the CLI adds ``key=value`` overrides on top (parsed with
``ast.literal_eval``, type-checked against the default; unknown keys are an error that
suggests the closest key). The resolved config is saved as ``config.json`` in each run.
"""

from __future__ import annotations

import ast
import difflib
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .data.splits import SPLITS

MAX_TTA_VIEWS = 8  # len(inference.tta.VIEWS); config sits below inference, a test keeps the two equal


def _key(default: Any, *, choices: tuple[str, ...] | None = None, lo: float | None = None,
         hi: float | None = None) -> Any:
    """A config field with its allowed values declared beside its default."""
    return field(default=default, metadata={"choices": choices, "lo": lo, "hi": hi})


@dataclass
class TrainConfig:
    recipe: str = ""  # the recipe these values started from (runs are named after it)
    # ---- data
    data: str = ""  # Kaggle-layout folder, training.csv or zip (see `facekeypoints data`)
    split: str = _key("paper", choices=SPLITS)  # split protocol (data/splits.py)
    split_seed: int = 0  # fixed across recipes so every run is scored on the same test faces
    extra_data: str = ""  # more Kaggle-layout sets, comma-separated: all their faces join training only
    folds: int = _key(0, lo=0)  # K >= 2: k-fold cross-validation of the non-test part, K runs under one parent
    fold: int = _key(-1, lo=-1)  # the fold a k-fold member run validates on (set by `--folds`); -1 = none
    # ---- model
    model: str = "paper"  # registry name (`facekeypoints models`)
    antialias: bool = False  # blur before every stride-2 convolution (models/resnet.py `Blur`); not for `paper`
    # ---- distillation (training/distill.py)
    teacher: str = ""  # checkpoint or bundled model whose averaged answers become targets; "" = off
    teacher_weight: float = _key(0.5, lo=0.0, hi=1.0)  # target = w * teacher + (1 - w) * truth (teacher where no truth)
    # ---- optimisation
    epochs: int = _key(50, lo=1)
    batch_size: int = _key(256, lo=1)
    lr: float = _key(1e-3, lo=0.0)
    optimizer: str = _key("adam", choices=("adam", "adamw"))
    weight_decay: float = _key(0.0, lo=0.0)
    schedule: str = _key("constant", choices=("constant", "cosine", "onecycle"))  # per step; warm-up first
    warmup_epochs: float = _key(0.0, lo=0.0)  # linear warm-up (onecycle uses 30% of the run when this is 0)
    loss: str = _key("mse", choices=("mse", "l1", "wing"))  # on pixel coordinates, present labels only
    missing: str = _key("masked", choices=("masked", "ffill"))  # masked: loss on present labels | ffill: the report's
    augment: bool = False  # flip/rotate/scale/shift + photometric, on the training device (augment.py)
    aug_rotate: float = _key(15.0, lo=0.0, hi=180.0)  # max rotation, degrees
    aug_tilt: float = _key(0.0, lo=0.0, hi=180.0)  # max rotation of a share of faces (aug_tilt_p), degrees; 0 = off
    aug_tilt_p: float = _key(0.3, lo=0.0, hi=1.0)  # that share: heads tilted further than the detector turns upright
    aug_scale: float = _key(0.1, lo=0.0, hi=0.9)  # scale in [1 - s, 1 + s]: the framing's size jitter
    aug_translate: float = _key(0.06, lo=0.0, hi=0.5)  # shift per axis, fraction of the side: its position jitter
    aug_aspect: float = _key(0.0, lo=0.0, hi=1.0)  # x and y scaled apart (log ratio in [-a, a]); 0 = off
    aug_occlude: float = _key(0.0, lo=0.0, hi=1.0)  # probability of a grey patch over part of the face
    aug_lowres: float = _key(0.0, lo=0.0, hi=1.0)  # probability of a small face's blur: shrunk 1.5-4x, scaled back up
    aux68: float = _key(0.0, lo=0.0)  # weight of an auxiliary loss on all 68 points (converted sets); 0 = off
    ema: float = _key(0.0, lo=0.0, hi=1.0)  # weight EMA decay (e.g. 0.999); 0 = off. The EMA weights are saved
    tta_flip: bool = False  # average with the mirrored image's prediction at evaluation/inference
    tta_views: int = _key(0, lo=0, hi=MAX_TTA_VIEWS)  # also average over this many fixed small re-framings (tta.py)
    # ---- run
    seed: int = 0  # training seed (init, shuffling, dropout)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    threads: int = _key(0, lo=0)  # CPU threads for torch; 0 = torch's default
    channels_last: bool = True  # NHWC convolutions: ~1.5x faster on CPU here, same numbers
    amp: bool = False  # bf16 autocast for forward/backward on CUDA (ignored on CPU)
    compile: bool = False  # torch.compile the model (falls back to eager if compilation fails)
    sync_debug: bool = False  # CUDA: raise on any host sync inside a training step (a check, not for speed)
    eval_batch_size: int = _key(512, lo=1)
    save_every: int = _key(10, lo=1)  # write the resume point every N epochs ...
    save_every_s: float = _key(60.0, lo=0.0)  # ... or once this many seconds passed (also at the end, on SIGINT)


# What the recipes after the report's share: AdamW, cosine decay after 5 warm-up epochs, batch 128,
# augmentation, the mirrored crop at evaluation. Heatmap and mobile recipes add their own few keys.
_MODERN: dict[str, Any] = dict(batch_size=128, optimizer="adamw", schedule="cosine", warmup_epochs=5, augment=True,
                               tta_flip=True)
_HEATMAP = dict(_MODERN, lr=2e-3, weight_decay=5e-4)
_MOBILE = dict(_MODERN, lr=3e-3, weight_decay=1e-4, loss="wing", ema=0.995, aux68=0.5)

RECIPES: dict[str, dict[str, Any]] = {
    # The report: Adam 1e-3, MSE on raw pixel coordinates, batch 256, 50 epochs,
    # no augmentation, missing labels forward-filled from the previous row.
    "paper": dict(model="paper", epochs=50, batch_size=256, lr=1e-3, optimizer="adam",
                  schedule="constant", loss="mse", missing="ffill"),
    # The report's network, trained well: augmentation, L1, one-cycle, long, flip TTA.
    "paper_aug": dict(model="paper", epochs=600, batch_size=256, lr=1e-3, optimizer="adamw", weight_decay=1e-4,
                      schedule="onecycle", loss="l1", augment=True, tta_flip=True),
    # Residual direct regression / heatmaps with soft-argmax / a small CPU network.
    "resreg": dict(_HEATMAP, model="resreg_s", epochs=300, loss="wing", ema=0.998),
    "hmnet": dict(_HEATMAP, model="hmnet_s", epochs=300, loss="l1", ema=0.998),
    # CPU-trainable heatmap networks with auxiliary 68-point heatmaps (converted sets have them;
    # pass aux68=0 for Kaggle's own data): the bundled `default` of earlier versions was an ensemble of these.
    "hmnet_t": dict(_HEATMAP, model="hmnet_t", epochs=80, loss="l1", ema=0.99, tta_views=8, aux68=0.5),
    "hmnet_xs": dict(_HEATMAP, model="hmnet_xs", epochs=80, loss="l1", ema=0.99, tta_views=8, aux68=0.5),
    # mobile_m (0.23M parameters, 21 MFLOPs) distilled from the bundled `default` (its answers on the
    # training faces, half-and-half with the labels), evaluated with the mirrored crop as `predict` runs it.
    "fast": dict(_MOBILE, model="mobile_m", epochs=150, teacher="default", teacher_weight=0.5),
    # mobile_s (96k parameters, 7 MFLOPs), no teacher, no mirror at evaluation.
    "fast_s": dict(_MOBILE, model="mobile_s", epochs=150, tta_flip=False),
    # Photo models (issue #18), the bundled `default` and `fast`: trained on faces framed as `predict`
    # frames them (`data convert --framing detector` of YT15 and the wild-68 packs), all 68 points as a
    # second head (kept when bundled: `predict --points 68`), evaluated with the mirrored crop.
    "photo": dict(_MOBILE, model="mobile_m", epochs=120),
    "photo_s": dict(_MOBILE, model="mobile_s", epochs=120),
    # Minutes-not-hours smoke recipe for tests and CPU try-outs.
    "tiny": dict(model="paper_tiny", epochs=2, batch_size=32, lr=3e-3, missing="masked"),
}

_FIELDS = {f.name: f for f in fields(TrainConfig)}


def _coerce(key: str, text: Any, default: Any) -> Any:
    if not isinstance(text, str) or isinstance(default, str):
        value = text
    else:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError(f"{key}={text!r}: not a valid {type(default).__name__}") from None
    if isinstance(default, bool) and not isinstance(value, bool):
        raise ValueError(f"{key}={value!r}: expected True or False")
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, type(default)):
        raise ValueError(f"{key}={value!r}: expected {type(default).__name__}")
    meta = _FIELDS[key].metadata
    if meta.get("choices") and value not in meta["choices"]:
        raise ValueError(f"{key}={value!r}: choose from {meta['choices']}")
    if meta.get("lo") is not None and value < meta["lo"] or meta.get("hi") is not None and value > meta["hi"]:
        lo, hi = meta.get("lo"), meta.get("hi")
        raise ValueError(f"{key}={value!r}: choose a value " + (f"in {lo}..{hi}" if hi is not None else f">= {lo}"))
    return value


def _checked(values: dict[str, Any], base: TrainConfig) -> TrainConfig:
    """``base`` with ``values`` applied; unknown keys, wrong types and out-of-range values are errors."""
    known = {f.name: getattr(base, f.name) for f in fields(TrainConfig)}
    for key in values:
        if key not in known:
            near = difflib.get_close_matches(key, known, n=1)
            raise ValueError(f"unknown config key {key!r}" + (f"; did you mean {near[0]!r}?" if near else ""))
    return replace(base, **{k: _coerce(k, v, known[k]) for k, v in values.items()})


# Keys a resumed run may change (`train --resume RUN key=value`); every other key is the run's own.
RESUMABLE = ("epochs", "threads", "device", "eval_batch_size", "save_every", "save_every_s", "compile", "sync_debug")


def resume_overrides(cfg: TrainConfig, values: dict[str, Any]) -> TrainConfig:
    """``cfg`` (a run's config) with the keys a resumed run may change; any other key is an error."""
    fixed = [k for k in values if k not in RESUMABLE]
    if fixed:
        raise ValueError(f"{', '.join(sorted(fixed))}: cannot change when resuming (the run was trained with its "
                         f"own); a resumed run takes only {', '.join(RESUMABLE)}")
    return _checked(values, cfg)


def make_config(recipe: str = "paper", **overrides: Any) -> TrainConfig:
    """A recipe with overrides applied (strings are parsed, everything is type-checked)."""
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}; choose from {sorted(RECIPES)}")
    values = {**RECIPES[recipe], **{k: v for k, v in overrides.items() if v is not None}}
    cfg = _checked({"recipe": recipe, **values}, TrainConfig())
    _check_model(cfg.model)
    _check_folds(cfg)
    return cfg


def _check_folds(cfg: TrainConfig) -> None:
    if cfg.folds == 1 or cfg.folds > 50:
        raise ValueError(f"folds={cfg.folds}: choose 0 (one run) or 2..50 folds")
    if cfg.fold >= 0 and not cfg.fold < cfg.folds:
        raise ValueError(f"fold={cfg.fold}: a fold of folds={cfg.folds} runs is 0..{cfg.folds - 1} "
                         "(set by `train --folds K`, not by hand)")


def _check_model(name: str) -> None:
    """``model=`` names a registered network ``train`` can build (before any data is loaded)."""
    from .models import list_models

    if name == "ensemble":
        raise ValueError("model='ensemble' is made from trained runs (benchmarks/bundle_model.py), not trained; "
                         "train its members and bundle them")
    if name not in list_models():
        near = difflib.get_close_matches(name, list_models(), n=3)
        raise ValueError(f"model={name!r}: no such network" + (f"; did you mean {near}?" if near else
                                                                   f"; choose from {list_models()}"))


def parse_overrides(args: list[str]) -> dict[str, str]:
    """``["epochs=5", "lr=3e-4"]`` -> ``{"epochs": "5", "lr": "3e-4"}``."""
    out = {}
    for a in args:
        key, sep, value = a.partition("=")
        if not sep or not key:
            raise ValueError(f"override {a!r} is not key=value (e.g. epochs=5)")
        out[key.strip()] = value.strip()
    return out


def config_dict(cfg: TrainConfig) -> dict[str, Any]:
    return asdict(cfg)


def config_from_dict(d: dict[str, Any], strict: bool = True) -> TrainConfig:
    """A config read back (a run's ``config.json``, a checkpoint's ``config``), checked like overrides.

    ``strict=False`` skips keys this version does not know (reading older or newer checkpoints).
    """
    if not strict:
        known = {f.name for f in fields(TrainConfig)}
        d = {k: v for k, v in d.items() if k in known}
    return _checked(d, TrainConfig())
