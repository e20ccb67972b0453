"""``facekeypoints report RUN_DIR``: one self-contained HTML page about a training run.

Config, timing, test metrics, learning curves, per-keypoint errors, the cumulative error
distribution (share of test faces under each NME) and the best and worst faces; pictures
are embedded as base64 PNGs so the file can be mailed or archived alone.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np

from ..fileio import atomic_write_text
from .plots import plt, save_figure


def _img(path: Path) -> str:
    if not path.exists():
        return "<p><em>(not available)</em></p>"
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(path.stem)}">'


def ced_curve(path: Path, nme: list[float | None], label: str = "model") -> Path:
    """Cumulative error distribution: fraction of faces with NME below each threshold.

    The axis runs to 15% NME, or further when faces lie beyond it (a weak model's curve is
    never off the chart); the legend gives the share under 10% (1 - failure rate).
    """
    v = np.sort(np.array([x for x in nme if x is not None and np.isfinite(x)], float))
    top = max(0.15, float(np.percentile(v, 99)) * 1.05) if len(v) else 0.15
    t = np.linspace(0, top, 301)
    under10 = float((v <= 0.10).mean()) if len(v) else 0.0
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(100 * t, np.searchsorted(v, t, side="right") / max(1, len(v)),
            label=f"{label}: {100 * under10:.1f}% of {len(v)} faces under 10%")
    ax.axvline(10, color="grey", ls="--", lw=0.8, label="failure threshold (10%)")
    ax.set(xlabel="NME (% of outer-eye-corner distance)", ylabel="fraction of test faces", ylim=(0, 1.01),
           xlim=(0, 100 * top), title="cumulative error distribution")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return save_figure(fig, path)


def _oof_section(run: Path) -> str:
    """A k-fold parent's out-of-fold scores (``oof.json``): overall, per label regime, per fold."""
    if not (run / "oof.json").exists():
        return ""
    o = json.loads((run / "oof.json").read_text())

    def row(name: str, m: dict) -> str:
        if not m.get("n_faces"):
            return f"<tr><td>{html.escape(name)}</td><td>0</td><td></td><td></td></tr>"
        return (f"<tr><td>{html.escape(name)}</td><td>{m['n_faces']}</td><td>{m['rmse']:.3f}</td>"
                f"<td>{100 * m['nme']:.2f}%</td></tr>")

    rows = [row("all non-test faces", o)]
    rows += [row(f"rows with {k} labels" if k != "other" else "rows with other label counts", m)
             for k, m in o["by_labels"].items() if k != "other" or m.get("n_faces")]
    rows += [row(f"fold {f['fold']} ({f['run']})", f) for f in o["per_fold"]]
    return (f"<h2>Out-of-fold scores ({o['folds']} folds)</h2><p>Every non-test face predicted by the fold "
            "model that did not train on it. The test figure above is the folds' models averaged.</p>"
            "<table><tr><td><b>faces</b></td><td><b>n</b></td><td><b>RMSE (px)</b></td><td><b>NME</b></td></tr>"
            + "".join(rows) + "</table>")


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``RUN_DIR/report.html`` (or ``out``); returns its path."""
    run = Path(run_dir)
    if not (run / "config.json").exists():
        raise ValueError(f"{run}: not a run folder (no config.json)")
    cfg = json.loads((run / "config.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text()) if (run / "metrics.json").exists() else None
    model = json.loads((run / "model.json").read_text()) if (run / "model.json").exists() else {}
    hist = json.loads((run / "history.json").read_text()) if (run / "history.json").exists() else []
    nme_file = run / "nme_per_face_test.json"
    if nme_file.exists():
        ced_curve(run / "ced.png", json.loads(nme_file.read_text()), cfg.get("model", "model"))

    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in cfg.items())
    if metrics:
        m = metrics
        summary = (f"<p>Test part of split <b>{html.escape(m['split'])}</b>: {m['n_faces']} faces. "
                   f"RMSE <b>{m['rmse']:.3f} px</b> (forward-filled labels {m['rmse_ffill']:.3f}), "
                   f"NME <b>{100 * m['nme']:.2f}%</b>, failure rate (NME &gt; 10%) {100 * m['failure_rate']:.2f}%.</p>")
        per_kp = "".join(f"<tr><td>{k}</td><td>{v:.3f}</td></tr>" for k, v in m["per_keypoint_rmse"].items())
    else:
        summary, per_kp = "<p>No test metrics yet (run unfinished?).</p>", ""
    oof = _oof_section(run)
    timing = (f"{len(hist)} epochs, {sum(h['time_s'] for h in hist):.0f} s of training"
              + (f" on {html.escape(str(model.get('device_name') or model.get('device')))}" if model else ""))
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>facekeypoints run {html.escape(run.name)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}}
table{{border-collapse:collapse}}td{{border:1px solid #ddd;padding:2px 8px}}img{{max-width:100%}}</style></head>
<body><h1>Run {html.escape(run.name)}</h1>
<p>Model <b>{html.escape(cfg.get('model', '?'))}</b>; {timing}.</p>
{summary}
{oof}
<h2>Learning curves</h2>{_img(run / "learning_curves.png")}
<h2>Cumulative error distribution</h2>{_img(run / "ced.png")}
<h2>Per-keypoint error</h2>{_img(run / "per_keypoint_rmse.png")}<table>{per_kp}</table>
<h2>Best test faces</h2>{_img(run / "best_faces.png")}
<h2>Worst test faces</h2>{_img(run / "worst_faces.png")}
<h2>Configuration</h2><table>{rows}</table>
</body></html>
"""
    return atomic_write_text(out or run / "report.html", page)
