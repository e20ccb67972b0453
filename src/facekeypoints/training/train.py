"""Training: the whole loop in one function, read top to bottom; it stops at the weights.

Run folder (``runs/train/NAME``, never overwritten): ``config.json`` (resolved config),
``split.json`` (indices), ``history.json`` (per epoch), ``state.safetensors`` (resume
point, rewritten atomically after every epoch), ``model.safetensors`` + ``model.json``
(the final weights). ``facekeypoints.train`` (``workflow.py``) and the CLI then add
``metrics.json`` and pictures from the test evaluation.
"""

from __future__ import annotations

import copy
import json
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from ..checkpoint import load_state, save_checkpoint, save_state
from ..config import TrainConfig, config_dict, config_from_dict, resume_overrides
from ..data import KeypointDataset, load_training, make_split
from ..data.kaggle import IMAGE_SIZE, crop_upright
from ..data.labels import forward_fill
from ..data.splits import fold_args
from ..devices import device_name, pick_device
from ..fileio import atomic_write_json, remove_stale_temps
from ..inference.tta import TestTimeAugment
from ..keypoints import NUM_KEYPOINTS, NUM_WITH_68, flip_index
from ..models import create_model
from ..warps import as_batch, index_on
from .augment import AugmentConfig, augment_batch
from .distill import blend, teacher_labels


def next_run_dir(root: str | Path, name: str) -> Path:
    """``root/name``, or ``root/name2``, ``name3``... whichever is free first."""
    root = Path(root)
    for i in range(1, 10_000):
        d = root / (name if i == 1 else f"{name}{i}")
        if not d.exists():
            d.mkdir(parents=True)
            return d
    raise RuntimeError(f"no free run folder under {root}")


def masked_loss(pred: torch.Tensor, target: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean loss over present coordinates only (NaN targets carry no gradient).

    ``wing`` is Feng et al.'s Wing loss (w=10, eps=2): log-shaped for small errors, so
    the last pixel of error still pulls, L1 for large ones.
    """
    present = torch.isfinite(target)
    diff = torch.where(present, pred - torch.nan_to_num(target), torch.zeros_like(pred))
    if kind == "l1":
        per = diff.abs()
    elif kind == "wing":
        w, eps = 10.0, 2.0
        a = diff.abs()
        per = torch.where(a < w, w * torch.log1p(a / eps), a - (w - w * math.log1p(w / eps)))
    else:
        per = diff**2
    return per.sum() / present.sum().clamp(min=1)


def lr_at(cfg: TrainConfig, step: int, total: int, steps_per_epoch: int) -> float:
    """Learning rate at a step: linear warm-up, then constant, cosine or one-cycle decay."""
    warm = int(cfg.warmup_epochs * steps_per_epoch)
    if cfg.schedule == "onecycle" and warm == 0:
        warm = int(0.3 * total)  # one-cycle: rise over 30% of the run, then anneal
    if step < warm:
        start = cfg.lr / 25 if cfg.schedule == "onecycle" else 0.0
        return start + (cfg.lr - start) * (step + 1) / warm
    if cfg.schedule in ("cosine", "onecycle"):
        t = (step - warm) / max(1, total - warm)
        floor = cfg.lr / 1e4 if cfg.schedule == "onecycle" else 0.0
        return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * t))
    return cfg.lr


class EMA(torch.nn.Module):
    """Exponential moving average of a model's weights and buffers, on the model's device.

    The first update copies the model; later ones move towards it by ``1 - decay`` (one fused
    ``_foreach_lerp_`` over the float tensors). The update count is kept in Python too, so an
    update never reads a number back from the GPU. State dict keys match ``AveragedModel``'s.
    """

    def __init__(self, model: torch.nn.Module, decay: float):
        super().__init__()
        if not 0 <= decay <= 1:
            raise ValueError(f"ema={decay}: choose a decay in 0..1")
        self.module = copy.deepcopy(model).requires_grad_(False)
        self.decay, self.updates = decay, 0
        self._pairs: tuple[list, list, list] | None = None  # (EMA floats, model floats, other pairs): first update
        device = next(model.parameters()).device
        self.register_buffer("n_averaged", torch.zeros((), dtype=torch.long, device=device))

    @torch.no_grad()
    def update_parameters(self, model: torch.nn.Module) -> None:
        if self._pairs is None:  # the tensors of both models, grouped once (the model's tensors stay the same)
            mine = [*self.module.parameters(), *self.module.buffers()]
            theirs = [t.detach() for t in (*model.parameters(), *model.buffers())]
            pairs = list(zip(mine, theirs, strict=True))
            floats = [(m, t) for m, t in pairs if m.is_floating_point()]
            self._pairs = ([m for m, _ in floats], [t for _, t in floats],
                           [(m, t) for m, t in pairs if not m.is_floating_point()])
        ema_f, model_f, others = self._pairs
        if self.updates == 0:
            torch._foreach_copy_(ema_f, model_f)
        else:
            torch._foreach_lerp_(ema_f, model_f, 1 - self.decay)
        for a, b in others:
            a.copy_(b)  # counters (BatchNorm's num_batches_tracked) follow the model
        self.n_averaged += 1
        self.updates += 1

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        out = super().load_state_dict(state_dict, strict, assign)
        self.updates = int(self.n_averaged)  # once, when a run resumes
        return out


class _Interrupt:
    """SIGINT/SIGTERM during training: finish the epoch, save the resume point, stop.

    A second signal stops at once (Python's default handling).
    """

    def __init__(self, enabled: bool = True):
        self.requested, self.enabled = False, enabled
        self._old: dict[int, Any] = {}

    def _handle(self, signum, frame) -> None:
        self.requested = True
        print(f"\n{signal.Signals(signum).name}: saving the resume point at the end of this epoch "
              "(send it again to stop at once)", file=sys.stderr)
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def __enter__(self) -> _Interrupt:
        if self.enabled and threading.current_thread() is threading.main_thread():  # only there can it catch them
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()


class _AllPoints(torch.nn.Module):
    """Calls ``forward_all`` (every predicted point), so DDP sees it as the forward pass."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.forward_all(x)


class Distributed:
    """Rank, world size and the few collective calls ``train`` needs; a no-op when alone.

    Under torchrun (``WORLD_SIZE > 1``) it joins the process group: every rank trains on a
    share of each batch through DistributedDataParallel; rank 0 alone validates and writes files.
    """

    def __init__(self, cfg: TrainConfig):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = 0
        if self.world > 1:
            import torch.distributed as tdist

            self.tdist = tdist
            if not tdist.is_initialized():
                tdist.init_process_group("nccl" if torch.cuda.is_available() and cfg.device != "cpu" else "gloo")
            self.rank, self.world = tdist.get_rank(), tdist.get_world_size()
        self.main = self.rank == 0

    def device(self, cfg: TrainConfig) -> torch.device:
        device = pick_device(cfg.device)
        if self.world > 1 and device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return device

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank."""
        if self.world <= 1:
            return value
        box = [value]
        self.tdist.broadcast_object_list(box, src=0)
        return box[0]

    def mean(self, t: torch.Tensor) -> torch.Tensor:
        if self.world > 1:
            self.tdist.all_reduce(t)
            t /= self.world
        return t

    def wrap(self, net: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        if self.world <= 1:
            return net
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)

    def share(self, idx: torch.Tensor) -> torch.Tensor | None:
        """This rank's part of a batch's indices; None when the batch is too small to share."""
        if self.world > 1 and len(idx) < self.world:
            return None
        return idx[self.rank :: self.world]

    def finish(self) -> None:
        if self.world > 1:
            self.tdist.barrier()
            self.tdist.destroy_process_group()


@torch.no_grad()
def validate(model: torch.nn.Module, images: torch.Tensor, keypoints: torch.Tensor, batch_size: int) -> torch.Tensor:
    """RMSE over present labels, as a 0-d tensor on the data's device (no per-batch host copies).

    ``images`` ``(N, 96, 96)`` uint8 and ``keypoints`` ``(N, 15, 2)`` (NaN = missing), both on the
    model's device; flips and views come from wrapping the model (``TestTimeAugment``).
    """
    was_training = model.training
    model.eval()
    sq = torch.zeros((), device=images.device, dtype=torch.float64)
    n = torch.zeros((), device=images.device, dtype=torch.float64)
    for i in range(0, len(images), batch_size):
        x = as_batch(images[i : i + batch_size])
        pred = model(x).float()
        err = (pred - keypoints[i : i + batch_size]) ** 2
        ok = torch.isfinite(err)
        sq += torch.where(ok, err, torch.zeros_like(err)).sum()
        n += ok.sum()
    model.train(was_training)
    return torch.sqrt(sq / n.clamp(min=1))


@dataclass
class TrainData:
    """What training reads, on the CPU: training faces (the split's train part plus every
    ``extra_data`` set) and targets (15 points, then the 68 with ``aux68``), validation and test
    indices into ``ds``, the flip permutation of all targets, and the training faces' ids."""

    ds: KeypointDataset
    split: dict[str, np.ndarray]
    x_train: torch.Tensor  # (N, S, S) uint8: S = 96, or the data's `data convert --size`
    y_train: torch.Tensor  # (N, 15 [+ 68], 2) float32, NaN = missing
    flip_idx: tuple[int, ...]
    seen: list[str]
    upright: bool = False  # the crops were turned upright (`data convert --upright`): predict must turn them too


def _kind(images: np.ndarray) -> str:
    return f"{images.shape[-1]}-px {'grey' if images.ndim == 3 else 'BGR'}"


def load_train_data(cfg: TrainConfig) -> TrainData:
    """Load ``cfg.data`` (and ``cfg.extra_data``), split it and build the training targets."""
    if not cfg.data:
        raise ValueError("no training data: pass data=PATH (a Kaggle-layout folder, training.csv or zip)")
    ds = load_training(cfg.data)
    split = make_split(len(ds), cfg.split, cfg.split_seed, ds.identities, **fold_args(config_dict(cfg)))
    aux = cfg.aux68 > 0
    if aux and "points68" not in ds.extra:
        raise ValueError(f"aux68 needs 68-point labels: {cfg.data} has no meta.csv with x0..y67 (see `data convert`); "
                         "pass aux68=0 to train without them")

    def targets(d: KeypointDataset, ffill: bool) -> np.ndarray:
        # The report forward-filled missing labels over the CSV rows before splitting.
        kp = forward_fill(d.keypoints) if ffill else d.keypoints
        if not aux:
            return kp
        # Auxiliary supervision: the 68 source points ride along as targets 15..82 (NaN where unknown).
        pts = d.extra.get("points68", np.full((len(d), 68, 2), np.nan, np.float32))
        return np.concatenate([kp, pts], axis=1)

    tr = split["train"]
    xs, ys = [ds.images[tr]], [targets(ds, cfg.missing == "ffill")[tr]]
    seen = ds.fingerprints(tr)  # recorded in the checkpoint: evaluate warns about these faces
    upright = crop_upright(cfg.data)
    for extra in filter(None, (p.strip() for p in cfg.extra_data.split(","))):
        more = load_training(extra)  # extra sets only ever add training faces
        if more.images.shape[1:] != ds.images.shape[1:]:
            raise ValueError(f"extra_data {extra} holds {_kind(more.images)} faces, {cfg.data} {_kind(ds.images)}: "
                             "convert both with the same `data convert --size` (and --color)")
        if crop_upright(extra) != upright:
            up, plain = (extra, cfg.data) if not upright else (cfg.data, extra)
            raise ValueError(f"{up} holds upright faces (`data convert --upright`), {plain} does not: "
                             "convert every set the same way")
        xs.append(more.images)
        ys.append(targets(more, False))
        seen += more.fingerprints()
    flip_idx = flip_index(NUM_WITH_68 if aux else NUM_KEYPOINTS)
    x_train, y_train = torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))
    if cfg.teacher:  # distillation: the teacher's averaged answers join (or replace) the true 15 points
        held_out = set(ds.fingerprints(np.concatenate([split["val"], split["test"]])))
        labels, taught_by = teacher_labels(cfg.teacher, x_train, pick_device(cfg.device), forbidden=held_out)
        y_train[:, :NUM_KEYPOINTS] = blend(y_train[:, :NUM_KEYPOINTS], labels, cfg.teacher_weight)
        seen += sorted(taught_by)  # what the teacher learnt from, the student learns through it
    return TrainData(ds, split, x_train, y_train, flip_idx, sorted(set(seen)), upright)


def _optimizer(cfg: TrainConfig, model: torch.nn.Module, device: torch.device) -> torch.optim.Optimizer:
    opt = torch.optim.AdamW if cfg.optimizer == "adamw" else torch.optim.Adam
    fused = {"fused": True} if device.type == "cuda" else {}  # one kernel for the whole update on GPU
    return opt(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, **fused)


def _pack_state(model, opt, gen: torch.Generator, ema=None, aug_gen=None) -> tuple[dict[str, torch.Tensor], dict]:
    """Everything a resumed run needs to continue bit for bit."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    osd = opt.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in osd["state"].items():
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"opt.{pid}.{k}"] = v
            else:
                scalars.setdefault(str(pid), {})[k] = v
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.shuffle"] = gen.get_state()
    if ema is not None:
        tensors.update({f"ema.{k}": v for k, v in ema.state_dict().items()})
    if aug_gen is not None:
        tensors["rng.augment"] = aug_gen.get_state().cpu()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    return tensors, {"param_groups": osd["param_groups"], "opt_scalars": scalars}


def _unpack_state(tensors, info, model, opt, gen: torch.Generator, ema=None, aug_gen=None) -> None:
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, Any]] = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, pid, name = k.split(".", 2)
            state.setdefault(int(pid), {})[name] = v
    for pid, sc in info["opt_scalars"].items():
        state.setdefault(int(pid), {}).update(sc)
    opt.load_state_dict({"state": state, "param_groups": info["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    gen.set_state(tensors["rng.shuffle"])
    if ema is not None:
        ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    if aug_gen is not None:
        aug_gen.set_state(tensors["rng.augment"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])


def train(cfg: TrainConfig | None = None, run_dir: str | Path | None = None, resume: str | Path | None = None,
          runs_root: str | Path = "runs/train", name: str | None = None, progress: bool = True,
          stop_after: int | None = None, overrides: dict[str, Any] | None = None) -> Path:
    """Train a model; returns the run folder ``runs_root/NAME`` (``name`` or the recipe's name, never
    overwritten: NAME2, NAME3... when taken). ``resume=RUN_DIR`` continues an interrupted run.

    ``overrides``: with ``resume``, the keys a resumed run may change (``config.RESUMABLE``:
    ``epochs`` to go on longer, ``threads``, ``device``...); they are applied, said on stderr and
    saved in ``config.json``; any other key is refused.

    ``stop_after=N`` stops after N epochs of this call, exactly as an interruption would
    (no final weights); ``resume`` then continues to the same result. SIGINT/SIGTERM while it
    runs: the epoch finishes, the resume point is saved, and ``KeyboardInterrupt`` says how to go on.
    """
    with _Interrupt(enabled=os.environ.get("RANK", "0") == "0") as interrupt:
        return _train(cfg, run_dir, resume, runs_root, name, progress, stop_after, interrupt,
                      overrides or {})


def _run_config(cfg: TrainConfig | None, resume: str | Path | None, overrides: dict[str, Any]) -> TrainConfig:
    """The config to train with: ``cfg``, or a resumed run's own with the keys it may change."""
    if resume is None:
        if overrides:
            raise ValueError("overrides= goes with resume=; a new run takes them in its config")
        if cfg is None:
            raise ValueError("train() needs a config or resume=RUN_DIR")
        if cfg.folds and cfg.fold < 0:
            raise ValueError(f"folds={cfg.folds}: k-fold training is facekeypoints.train (or `train --folds`), "
                             "which runs this once per fold")
        return cfg
    run_dir = Path(resume)
    if not (run_dir / "config.json").is_file():
        raise ValueError(f"{run_dir}: not a run folder (no config.json), nothing to resume")
    if (run_dir / "folds.json").is_file():
        raise ValueError(f"{run_dir}: a k-fold parent; resume it with facekeypoints.train (or `train --resume`)")
    cfg = config_from_dict(json.loads((run_dir / "config.json").read_text()), strict=True)
    if overrides:
        cfg = resume_overrides(cfg, overrides)
        print(f"resuming {run_dir} with " + ", ".join(f"{k}={getattr(cfg, k)!r}" for k in overrides)
              + (" (the learning-rate schedule follows the new length from here)" if "epochs" in overrides else ""),
              file=sys.stderr)
        if os.environ.get("RANK", "0") == "0":
            atomic_write_json(run_dir / "config.json", config_dict(cfg))
    return cfg


def _run_folder(run_dir: Path | str | None, runs_root: str | Path, name: str | None, cfg: TrainConfig,
                dist: Distributed, data: TrainData, fresh: bool) -> Path:
    """The run folder: the resumed one, the one asked for, or a new ``runs_root/NAME`` (rank 0 picks it);
    a ``fresh`` run gets its ``config.json`` and ``split.json`` here."""
    if run_dir is None:
        run_dir = dist.broadcast(next_run_dir(runs_root, name or cfg.recipe or "run") if dist.main else None)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if fresh and dist.main:
        split = data.split
        atomic_write_json(run_dir / "config.json", config_dict(cfg))
        atomic_write_json(run_dir / "split.json", {"name": cfg.split, "seed": cfg.split_seed,
                                                   "data_hash": data.ds.data_hash, **fold_args(config_dict(cfg)),
                                                   "extra_train_faces": len(data.x_train) - len(split["train"]),
                                                   **{k: v.tolist() for k, v in split.items()}})
    return run_dir


def _compiled(net: torch.nn.Module) -> torch.nn.Module:
    try:
        return torch.compile(net)
    except Exception as e:  # noqa: BLE001 - torch.compile refused this platform: eager is always correct
        print(f"note: torch.compile unavailable ({e}); training eagerly", file=sys.stderr)
        return net  # (errors raised later, while compiling the first step, are not caught: set compile=False)


def _train(cfg: TrainConfig | None, run_dir: str | Path | None, resume: str | Path | None, runs_root: str | Path,
           name: str | None, progress: bool, stop_after: int | None,
           interrupt: _Interrupt, overrides: dict[str, Any]) -> Path:
    # ---- set-up: config, data, model, then the run folder (made only once the run can start)
    cfg = _run_config(cfg, resume, overrides)
    dist = Distributed(cfg)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = dist.device(cfg)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    data = load_train_data(cfg)
    ds, split = data.ds, data.split
    fmt = torch.channels_last if cfg.channels_last else torch.contiguous_format
    aux = cfg.aux68 > 0
    model_args: dict[str, Any] = {"num_points": NUM_WITH_68} if aux else {}
    if cfg.antialias:
        model_args["antialias"] = True
    if data.x_train.shape[-1] != IMAGE_SIZE:  # the network is built for the side of its data (`data convert --size`)
        model_args["input_size"] = int(data.x_train.shape[-1])
    if data.x_train.dim() == 4:  # ... and for its channels (`data convert --color`: BGR planes)
        model_args["input_channels"] = int(data.x_train.shape[1])
    model = create_model(cfg.model, **model_args).to(device, memory_format=fmt)
    opt = _optimizer(cfg, model, device)
    run_dir = _run_folder(Path(resume) if resume is not None else run_dir, runs_root, name, cfg, dist, data,
                          fresh=resume is None)
    if resume is not None and dist.main:  # a run killed mid-write (SIGKILL, power loss) left a temporary file
        for stale in remove_stale_temps(run_dir):
            print(f"note: removed {stale}, half written when the run was stopped", file=sys.stderr)
    # Everything lives on the device as uint8 (~22 MB for YT15): no per-batch copies.
    x_train, y_train = data.x_train.to(device), data.y_train.to(device)
    x_val = torch.from_numpy(ds.images[split["val"]]).to(device)
    y_val = torch.from_numpy(ds.keypoints[split["val"]]).to(device)
    index_on(data.flip_idx, device)  # the left/right permutation, copied to the device once, before any step

    gen = torch.Generator(device="cpu").manual_seed(cfg.seed)  # batch order
    aug_gen = torch.Generator(device=device).manual_seed(cfg.seed + 1 + dist.rank) if cfg.augment else None
    aug_cfg = AugmentConfig(rotate=cfg.aug_rotate, tilt=cfg.aug_tilt, tilt_p=cfg.aug_tilt_p, scale=cfg.aug_scale,
                            translate=cfg.aug_translate, aspect=cfg.aug_aspect, occlude=cfg.aug_occlude,
                            lowres=cfg.aug_lowres)
    # EMA of the weights (and BN statistics); it is what gets validated and saved.
    ema = EMA(model, cfg.ema) if cfg.ema else None
    val_net = TestTimeAugment(ema.module if ema is not None else model, flip=cfg.tta_flip)  # what validation runs
    history: list[dict[str, Any]] = []
    start_epoch = 0
    state_path = run_dir / "state.safetensors"
    if resume is not None and state_path.exists():
        tensors, info = load_state(state_path)
        _unpack_state(tensors, info, model, opt, gen, ema, aug_gen)
        history, start_epoch = info["history"], info["epoch"]
    # What the loop calls: all points (15, or 15 + 68), through DDP when distributed.
    net = dist.wrap(_compiled(_AllPoints(model)) if cfg.compile else _AllPoints(model), device)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=cfg.amp and device.type == "cuda")
    sync_check = cfg.sync_debug and device.type == "cuda"

    steps_per_epoch = math.ceil(len(x_train) / cfg.batch_size)
    total_steps = cfg.epochs * steps_per_epoch
    bar = tqdm(range(start_epoch, cfg.epochs), desc="train", unit="epoch", disable=not progress,
               initial=start_epoch, total=cfg.epochs, file=sys.stderr)
    last_save_epoch, last_save_t = start_epoch, time.monotonic()
    for epoch in bar:
        # ---- one epoch of optimisation: no host sync inside a step (sync_debug=True proves it on CUDA)
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(len(x_train), generator=gen, device="cpu").to(device)
        loss_sum = torch.zeros((), device=device)  # summed on device
        if sync_check:
            torch.cuda.set_sync_debug_mode("error")
        for b in range(steps_per_epoch):
            step = epoch * steps_per_epoch + b
            for g in opt.param_groups:
                g["lr"] = lr_at(cfg, step, total_steps, steps_per_epoch)
            idx = dist.share(perm[b * cfg.batch_size : (b + 1) * cfg.batch_size])
            if idx is None:
                continue  # a last batch too small to give every rank a face
            x = as_batch(x_train[idx]).contiguous(memory_format=fmt)  # (B, C, S, S): C 1 grey, 3 BGR
            y = y_train[idx]  # (B, 15, 2), or (B, 15 + 68, 2) with aux68
            if cfg.augment:
                x, y = augment_batch(x, y, aug_cfg, aug_gen, data.flip_idx)
            with autocast:
                pred = net(x).float()
            loss = masked_loss(pred[:, :NUM_KEYPOINTS], y[:, :NUM_KEYPOINTS], cfg.loss)
            if aux:
                loss = loss + cfg.aux68 * masked_loss(pred[:, NUM_KEYPOINTS:], y[:, NUM_KEYPOINTS:], cfg.loss)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if ema is not None:
                ema.update_parameters(model)
            loss_sum += loss.detach()
        if sync_check:
            torch.cuda.set_sync_debug_mode("default")
        # ---- validate, log, and now and then save the resume point (rank 0)
        dist.mean(loss_sum)
        stopping = dist.broadcast(interrupt.requested) or (
            stop_after is not None and epoch + 1 - start_epoch >= stop_after and epoch + 1 < cfg.epochs)
        if dist.main:
            val_rmse = validate(val_net, x_val, y_val, cfg.eval_batch_size)
            history.append({"epoch": epoch + 1, "train_loss": float(loss_sum) / steps_per_epoch,
                            "val_rmse": float(val_rmse), "lr": opt.param_groups[0]["lr"],
                            "time_s": time.perf_counter() - t0})
            bar.set_postfix(loss=f"{history[-1]['train_loss']:.3g}", val_rmse=f"{history[-1]['val_rmse']:.3f}")
            if (epoch + 1 - last_save_epoch >= cfg.save_every or time.monotonic() - last_save_t >= cfg.save_every_s
                    or epoch + 1 == cfg.epochs or stopping):
                tensors, info = _pack_state(model, opt, gen, ema, aug_gen)
                save_state(state_path, tensors, {**info, "epoch": epoch + 1, "history": history})
                atomic_write_json(run_dir / "history.json", history)
                last_save_epoch, last_save_t = epoch + 1, time.monotonic()
        if stopping:
            dist.finish()
            if interrupt.requested:
                raise KeyboardInterrupt(f"stopped after epoch {epoch + 1}, resume point saved; continue with: "
                                        f"facekeypoints train --resume {run_dir}")
            return run_dir

    # ---- final weights (rank 0); the test evaluation is the caller's (workflow.train, the CLI)
    if dist.main:
        final = ema.module if ema is not None else model
        save_checkpoint(run_dir / "model.safetensors", final, cfg.model, {
            "model_args": model_args, "input": {"upright": data.upright},
            "config": config_dict(cfg), "data_hash": ds.data_hash,
            "split": {"name": cfg.split, "seed": cfg.split_seed}, "epochs": cfg.epochs,
            "train_time_s": sum(h["time_s"] for h in history), "device": str(device),
            "device_name": device_name(device), "world_size": dist.world, "training_faces": data.seen,
        })
    dist.finish()
    return run_dir
