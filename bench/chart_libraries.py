"""Which charting library draws the report charts: size and rendering speed, measured in Chromium.

    uv run python bench/chart_libraries.py [--runs 60]

Installs the candidates (pinned below) with npm into a temporary folder, then, in headless
Debian Chromium driven by Playwright, draws one line chart of 365 points in 4 series with each:

- size: the minified file a page would load, raw and gzipped (level 9);
- cold: evaluating the library in a fresh page and drawing the first chart (what a report page
  pays once), median of 15 fresh pages;
- warm: drawing the chart again in the same page (what changing a filter costs), median and p90
  of --runs, counted until the microtasks ran (uPlot commits in one), and until the next frame.

Frappe Charts' drawing is deferred to later frames (its "warm" figure is low because of that: see
"to frame"), and it injects a <style> element, which the pages' Content-Security-Policy
(style-src 'self') blocks. The figures of the chosen library are in docs/frontend.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import subprocess
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
PACKAGES = ["uplot@1.6.32", "chart.js@4.6.1", "frappe-charts@1.6.2", "echarts@6.1.0"]
FILES = {
    "uPlot": ("uplot/dist/uPlot.iife.min.js", "uplot/dist/uPlot.min.css"),
    "Chart.js": ("chart.js/dist/chart.umd.min.js", None),
    "Frappe Charts": ("frappe-charts/dist/frappe-charts.min.umd.js", None),
    "ECharts": ("echarts/dist/echarts.min.js", None),
}
DATA = """() => {
  window.N = 365; window.S = 4; window.days = []; window.xs = []; window.ys = [];
  const t0 = Date.UTC(2026, 0, 1) / 1000;
  for (let i = 0; i < N; i++) {
    xs.push(t0 + i * 86400);
    days.push(new Date((t0 + i * 86400) * 1000).toISOString().slice(0, 10));
  }
  for (let s = 0; s < S; s++) {
    const row = [];
    for (let i = 0; i < N; i++) row.push(Math.round(50 + 40 * Math.sin(i / 20 + s) + 10 * s + ((i * 7919) % 13)));
    ys.push(row);
  }
  window.colours = ["#E69F00", "#56B4E9", "#009E73", "#0072B2"];
}"""
RENDER = {
    "uPlot": """(el) => new uPlot({ width: 800, height: 300,
        series: [{}, ...ys.map((_, s) => ({ label: "s" + s, stroke: colours[s] }))] }, [xs, ...ys], el)""",
    "Chart.js": """(el) => { const c = document.createElement("canvas"); el.appendChild(c);
        return new Chart(c, { type: "line", options: { animation: false, responsive: false },
        data: { labels: days,
          datasets: ys.map((d, s) => ({ label: "s" + s, data: d, borderColor: colours[s], pointRadius: 0 })) } }); }""",
    "Frappe Charts": """(el) => new frappe.Chart(el, { type: "line", height: 300, animate: false,
        data: { labels: days, datasets: ys.map((d, s) => ({ name: "s" + s, values: d })) }, colors: colours,
        lineOptions: { hideDots: 1 } })""",
    "ECharts": """(el) => { el.style.width = "800px"; el.style.height = "300px"; const c = echarts.init(el);
        c.setOption({ animation: false, xAxis: { type: "category", data: days }, yAxis: { type: "value" },
        series: ys.map((d, s) => ({ type: "line", data: d, showSymbol: false, color: colours[s] })) }); return c; }""",
}
COLD = """([src, render]) => new Promise((done) => {
  const t = performance.now(); (0, eval)(src);
  const el = document.createElement("div"); el.style.width = "800px"; document.body.appendChild(el); eval(render)(el);
  Promise.resolve().then(() => done(performance.now() - t));
})"""
WARM = """(render) => new Promise((done) => {
  const host = document.getElementById("host"); host.replaceChildren();
  const el = document.createElement("div"); host.appendChild(el);
  const draw = eval(render); const t = performance.now(); draw(el);
  Promise.resolve().then(() => { const drawn = performance.now() - t;
    requestAnimationFrame(() => setTimeout(() => done([drawn, performance.now() - t]), 0)); });
})"""


def measure(modules: Path, runs: int) -> dict[str, dict[str, float]]:
    figures = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        for name, (script, css) in FILES.items():
            source = (modules / script).read_bytes()
            cold = []
            for _ in range(15):
                page = browser.new_page()
                page.set_content("<!doctype html><body></body>")
                if css:
                    page.add_style_tag(path=str(modules / css))
                page.evaluate(DATA)
                cold.append(page.evaluate(COLD, [source.decode(), RENDER[name]]))
                page.close()
            page = browser.new_page()
            page.set_content("<!doctype html><body><div id=host></div></body>")
            if css:
                page.add_style_tag(path=str(modules / css))
            page.add_script_tag(content=source.decode())
            page.evaluate(DATA)
            drawn, framed = zip(*(page.evaluate(WARM, RENDER[name]) for _ in range(runs)), strict=True)
            page.close()
            figures[name] = {
                "min_kb": round(len(source) / 1024, 1),
                "gzip_kb": round(len(gzip.compress(source, 9)) / 1024, 1),
                "cold_ms": round(statistics.median(cold), 1),
                "warm_ms": round(statistics.median(drawn), 1),
                "warm_p90_ms": round(sorted(drawn)[int(0.9 * runs) - 1], 1),
                "to_frame_ms": round(statistics.median(framed), 1),
            }
        browser.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sportello-charts-") as folder:
        subprocess.run(["npm", "init", "-y"], cwd=folder, check=True, capture_output=True)
        install = ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", *PACKAGES]
        subprocess.run(install, cwd=folder, check=True)
        figures = measure(Path(folder) / "node_modules", args.runs)
    print(json.dumps(figures, indent=1))
    print(f"{'library':<14} {'min kB':>7} {'gzip kB':>8} {'cold ms':>8} {'warm ms':>8} {'p90 ms':>7} {'frame ms':>9}")
    for name, f in figures.items():
        print(f"{name:<14} {f['min_kb']:>7} {f['gzip_kb']:>8} {f['cold_ms']:>8} {f['warm_ms']:>8} "
              f"{f['warm_p90_ms']:>7} {f['to_frame_ms']:>9}")  # fmt: skip


if __name__ == "__main__":
    main()
