#!/usr/bin/env python3
"""Draws the pictures of docs/observability.md from what a real Prometheus answered.

    deploy/grafana/plot.py                 # run the dashboard test with 90 s of traffic, then draw
    deploy/grafana/plot.py --seconds 300   # more traffic
    deploy/grafana/plot.py --data run.json # draw from a dump of an earlier run

The dashboard test (examples/tests/dashboard.rs) starts Prometheus scraping the
request_handler example every second and, with DYNAMO_DASHBOARD_DATA set, writes each
panel's range query results to a JSON file. This script draws one PNG per row of the
dashboard into docs/img/: the panels as Grafana lays them out, each query's series as a line
(the series table as bars of its last values). Needs matplotlib (`pip install matplotlib`)
and what the test needs (cargo, Debian's prometheus).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dynamo-worker.json"
IMAGES = ROOT / "docs" / "img"


def run_dashboard_test(seconds: int, out: Path) -> None:
    env = dict(os.environ, DYNAMO_DASHBOARD_DATA=str(out), DYNAMO_DASHBOARD_SECONDS=str(seconds))
    subprocess.run(
        [
            "cargo",
            "test",
            "-p",
            "dynamo-examples",
            "--test",
            "dashboard",
            "--",
            "--exact",
            "every_panel_and_recording_rule_returns_data_from_a_real_prometheus",
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )


def rows(dashboard: dict) -> list[tuple[str, list[dict]]]:
    """The dashboard's rows, each with its panels (with their grid positions)."""
    out: list[tuple[str, list[dict]]] = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            out.append((panel["title"], []))
        elif out:
            out[-1][1].append(panel)
    return out


def label(legend: str, metric: dict) -> str:
    text = legend
    for name, value in metric.items():
        text = text.replace("{{" + name + "}}", value)
    return text or metric.get("__name__", "")


UNITS = {
    "reqps": "requests/s",
    "percentunit": "ratio",
    "s": "seconds",
    "bytes": "bytes",
    "Bps": "bytes/s",
    "short": "",
}


def draw_row(title: str, panels: list[dict], data: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_title = {p["title"]: p for p in data["panels"]}
    height = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels) - min(
        p["gridPos"]["y"] for p in panels
    )
    top = min(p["gridPos"]["y"] for p in panels)
    fig = plt.figure(figsize=(16, height * 0.45 + 0.6), layout="constrained")
    grid = fig.add_gridspec(height, 24)
    for panel in panels:
        g = panel["gridPos"]
        ax = fig.add_subplot(grid[g["y"] - top : g["y"] - top + g["h"], g["x"] : g["x"] + g["w"]])
        ax.set_title(panel["title"], fontsize=10, loc="left")
        shown = by_title.get(panel["title"])
        if shown is None:
            ax.text(
                0.5, 0.5, "no data in this run", ha="center", va="center", transform=ax.transAxes
            )
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        if panel["type"] == "table":
            last = {}
            for target in shown["targets"]:
                for series in target["result"]:
                    last[series["metric"].get("__name__", "")] = float(series["values"][-1][1])
            names = sorted(last, key=last.get)
            ax.barh(names, [last[n] for n in names], color="#3274d9")
            ax.tick_params(axis="y", labelsize=7)
            ax.set_xlabel("series")
            continue
        for target in shown["targets"]:
            for series in target["result"]:
                times = [float(t) - data["start"] for t, _ in series["values"]]
                values = [float(v) for _, v in series["values"]]
                ax.plot(
                    times, values, label=label(target["legend"], series["metric"]), linewidth=1.2
                )
        ax.set_xlabel("seconds into the run", fontsize=8)
        ax.set_ylabel(UNITS.get(shown["unit"], shown["unit"]), fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(
        f"Dynamo worker: {title} (request_handler example, scraped every second)", fontsize=12
    )
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=90, help="seconds of traffic to record")
    parser.add_argument("--data", type=Path, help="draw from this dump instead of running the test")
    args = parser.parse_args()
    if args.data is None:
        args.data = Path(tempfile.mkdtemp()) / "dashboard.json"
        run_dashboard_test(args.seconds, args.data)
    data = json.loads(args.data.read_text())
    dashboard = json.loads(DASHBOARD.read_text())
    IMAGES.mkdir(parents=True, exist_ok=True)
    for title, panels in rows(dashboard):
        path = IMAGES / f"dashboard-{title.lower()}.png"
        draw_row(title, panels, data, path)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
