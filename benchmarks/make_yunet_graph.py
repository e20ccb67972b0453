"""Make the YuNet graph the package runs with onnxruntime from OpenCV's published one.

    python benchmarks/make_yunet_graph.py UPSTREAM.onnx src/facekeypoints/assets/yunet_2023mar.onnx

UPSTREAM is ``face_detection_yunet_2023mar_int8bq.onnx`` of the OpenCV model zoo (MIT, sha256
below; it is in this repository's history as ``assets/yunet_2023mar_int8bq.onnx``). OpenCV's DNN
runs it as it is; onnxruntime refuses two things in it, so this script changes only those:

- its per-tensor ``DequantizeLinear`` nodes carry a ``block_size`` that onnxruntime rejects: every
  ``DequantizeLinear`` of a stored weight is replaced by the float32 weight it computes,
  ``(q - zero_point) * scale`` (per tensor, per channel or per block), the same numbers OpenCV uses;
- its input is fixed at 640x640: height and width become free, as OpenCV's ``setInputSize`` makes them.

Nothing else changes (layers, weights' values, outputs). Needs the ``onnx`` package ([train]).
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

UPSTREAM_SHA256 = "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10"


def dequantized(node, inits) -> np.ndarray:
    from onnx import helper, numpy_helper

    att = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    q = numpy_helper.to_array(inits[node.input[0]]).astype(np.float32)
    s = numpy_helper.to_array(inits[node.input[1]]).astype(np.float32)
    z = numpy_helper.to_array(inits[node.input[2]]).astype(np.float32) if len(node.input) > 2 else np.zeros_like(s)
    block, axis = att.get("block_size", 0), att.get("axis", 1)
    if s.size > 1:
        if block:  # one scale per `block` values along `axis`
            keep = range(q.shape[axis])
            s, z = (np.repeat(v, block, axis=axis).take(keep, axis=axis) for v in (s, z))
        else:  # one scale per channel along `axis`
            shape = [1] * q.ndim
            shape[axis] = -1
            s, z = s.reshape(shape), z.reshape(shape)
    return ((q - z) * s).astype(np.float32)


def main() -> None:
    import onnx
    from onnx import numpy_helper

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("upstream", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    digest = hashlib.sha256(args.upstream.read_bytes()).hexdigest()
    if digest != UPSTREAM_SHA256:
        raise SystemExit(f"{args.upstream}: sha256 {digest}, expected OpenCV's {UPSTREAM_SHA256}")
    model = onnx.load(str(args.upstream))
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    weights = []
    for node in list(g.node):
        if node.op_type == "DequantizeLinear" and all(i in inits for i in node.input):
            weights.append(numpy_helper.from_array(dequantized(node, inits), node.output[0]))
            g.node.remove(node)
    used = {i for n in g.node for i in n.input}
    kept = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(kept + weights)
    dims = g.input[0].type.tensor_type.shape.dim
    for k, name in ((2, "height"), (3, "width")):
        dims[k].ClearField("dim_value")
        dims[k].dim_param = name
    for out in g.output:  # (1, anchors, C): the anchors follow the input size
        out.type.tensor_type.shape.dim[1].ClearField("dim_value")
        out.type.tensor_type.shape.dim[1].dim_param = "anchors"
    onnx.checker.check_model(model)
    onnx.save(model, str(args.out))
    print(f"{args.out}: {args.out.stat().st_size:,} bytes, {len(weights)} weights dequantized, "
          f"sha256 {hashlib.sha256(args.out.read_bytes()).hexdigest()}")


if __name__ == "__main__":
    main()
