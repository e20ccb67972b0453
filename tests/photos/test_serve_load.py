"""A small burst of mixed good and bad uploads against a served model (benchmarks/load_test.py)."""

import importlib.util
from pathlib import Path

import pytest

from facekeypoints.checkpoint import save_checkpoint
from facekeypoints.models import create_model

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "load_test.py"


@pytest.mark.load
def test_burst_of_good_and_bad_uploads_never_fails_a_good_one(tmp_path):
    spec = importlib.util.spec_from_file_location("load_test", SCRIPT)
    load_test = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(load_test)
    save_checkpoint(tmp_path / "m" / "model.safetensors", create_model("paper_tiny").eval(), "paper_tiny", {})
    r = load_test.run(str(tmp_path / "m"), clients=4, requests=60, seed=1)
    assert r["server_alive_after"] and r["failed_good_requests"] == 0 and r["good_requests"] > 20
    for kind, d in r["by_kind"].items():
        codes = {int(c) for c in d["status"]}
        if kind.startswith("good"):
            assert codes == {200} and d["faces"] == [2], (kind, d)  # the sample picture has two faces
        else:
            assert all(400 <= c < 500 for c in codes), (kind, d)
    assert r["by_kind"].get("oversized", {"status": {"413": 1}})["status"].keys() == {"413"}
    # bounded memory: a burst of uploads must not grow the server by more than a few buffers
    assert r["server_rss_mb_after"] - r["server_rss_mb_before"] < 300
