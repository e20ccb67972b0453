"""Copy a trained checkpoint into the package as a bundled model (fp16 weights, JSON beside).

    python benchmarks/bundle_model.py runs/train/resreg-s1 default

Refuses a model whose split could have let the YT15 `paper` test faces into training
(the bundled model's test figure must stay honest): its config must use the `paper` split
with split_seed 0, so its training faces are the train part only.
"""

from __future__ import annotations

import argparse
import json

import torch

from facekeypoints.checkpoint import BUNDLED, bundled_path, load_checkpoint, save_checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("name", choices=BUNDLED)
    args = ap.parse_args()
    model, meta = load_checkpoint(args.checkpoint)
    cfg = meta.get("config", {})
    if cfg.get("split") != "paper" or cfg.get("split_seed") != 0:
        raise SystemExit(f"{args.checkpoint}: trained on split {cfg.get('split')}/{cfg.get('split_seed')}, "
                         "not paper/0: its YT15 test figure would not be honest")
    info = {k: v for k, v in meta.items() if k in ("config", "data_hash", "split", "epochs", "train_time_s",
                                                   "device", "device_name", "model_args")}
    out = save_checkpoint(bundled_path(args.name).with_suffix(".safetensors"), model, meta["model"],
                          {**info, "bundled_as": args.name, "source_checkpoint": str(args.checkpoint)},
                          dtype=torch.float16)
    size = out.with_suffix(".safetensors").stat().st_size
    print(json.dumps({"bundled": args.name, "json": str(out), "weights_bytes": size}))


if __name__ == "__main__":
    main()
