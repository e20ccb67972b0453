"""Which test-time views help a model, and does blurring the input alone help? (validation faces only)

    python benchmarks/view_study.py runs/train/r1_aa --data data/yt15

Validation RMSE (YT15 `paper` split) of the model with the mirrored crop plus four extra views of
one kind at a time: sub-pixel-to-1.5-px shifts, rotations of 4 and 8 degrees, scales of 4 and 8%,
and the first four of `tta.VIEWS`; then with the input blurred by a [a, 1-2a, a] filter and no views.
If every kind helps about as much, the views average out the network's answer noise (variance),
not one missing invariance.
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F

from facekeypoints.checkpoint import load_checkpoint
from facekeypoints.data import load_training, make_split
from facekeypoints.evaluation.metrics import rmse
from facekeypoints.inference import tta
from facekeypoints.inference.crops import predict_crops

KINDS = {
    "shift": ((1, 0, 1.5, 1), (1, 0, -1.5, -1), (1, 0, 1, -1.5), (1, 0, -1, 1.5)),
    "rotate": ((1, 8, 0, 0), (1, -8, 0, 0), (1, 4, 0, 0), (1, -4, 0, 0)),
    "scale": ((1.08, 0, 0, 0), (0.92, 0, 0, 0), (1.04, 0, 0, 0), (0.96, 0, 0, 0)),
    "shipped4": tta.VIEWS[:4],
}


class Blurred(torch.nn.Module):
    """The model on its input blurred by a separable [a, 1-2a, a] filter."""

    def __init__(self, model: torch.nn.Module, a: float):
        super().__init__()
        self.model, self.input_size = model, model.input_size
        self.input_mean, self.input_std = model.input_mean, model.input_std
        k = torch.tensor([a, 1 - 2 * a, a])
        self.register_buffer("k", (k[:, None] * k[None, :])[None, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), self.k.to(x.device)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--data", default="data/yt15")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ds = load_training(args.data)
    val = make_split(len(ds), "paper", 0, ds.identities)["val"]
    model, _ = load_checkpoint(args.model)

    def score(net: torch.nn.Module) -> float:
        return round(rmse(predict_crops(net, ds.images[val]), ds.keypoints[val]), 4)

    out = {"model": args.model, "flip": score(tta.TestTimeAugment(model, flip=True))}
    shipped = tta.VIEWS
    try:
        for kind, views in KINDS.items():
            tta.VIEWS = tuple(views)  # TestTimeAugment reads the table when it is built
            out[f"flip+4 {kind}"] = score(tta.TestTimeAugment(model, flip=True, views=len(views)))
    finally:
        tta.VIEWS = shipped
    for a in (0.1, 0.15, 0.25):
        out[f"flip, input blur {a}"] = score(tta.TestTimeAugment(Blurred(model, a), flip=True))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
