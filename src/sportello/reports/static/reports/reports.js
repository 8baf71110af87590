// Report pages: draw each chart with uPlot (static/vendor) from its JSON (views._chart), keep it as
// wide as its box, print it at the page's width with its numbers' table open, and keep the filter
// form's URL short (empty filters are not sent). The numbers are also in the tables under the
// chart, which is what screen readers read (the chart is role="img", described by the table).
"use strict";

(function () {
  const HEIGHT = 280;
  const PRINT_WIDTH = 680;
  const charts = [];

  function token(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function number(value) {
    return value === null || value === undefined || value === "" ? null : Number(value);
  }

  function pointLabel(data) {
    const lang = document.documentElement.lang || undefined;
    if (!data.dates) {
      return function (point) {
        return point.length > 16 ? point.slice(0, 15) + "…" : point;
      };
    }
    const options =
      data.granularity === "month"
        ? { month: "short", year: "numeric", timeZone: "UTC" }
        : { month: "short", day: "numeric", timeZone: "UTC" };
    const format = new Intl.DateTimeFormat(lang, options);
    return function (point) {
      return format.format(new Date(point + "T00:00:00Z"));
    };
  }

  // A value of the chart's unit as text: durations in s, min, h or d; percentages with "%".
  function formatter(data) {
    const lang = document.documentElement.lang || undefined;
    const plain = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });
    const units = data.units || {};
    return function (value) {
      if (value === null || value === undefined) {
        return "–";
      }
      if (data.unit === "percent") {
        return plain.format(value) + " %";
      }
      if (data.unit !== "seconds") {
        return plain.format(value);
      }
      const size = Math.abs(value);
      if (size < 60) {
        return plain.format(value) + " " + units.s;
      }
      if (size < 3600) {
        return plain.format(value / 60) + " " + units.min;
      }
      if (size < 172800) {
        return plain.format(value / 3600) + " " + units.h;
      }
      return plain.format(value / 86400) + " " + units.d;
    };
  }

  // Bars are told apart by a texture as well as their colour (series 1 plain, then stripes, dots,
  // a cross…), in the chart and in its legend: colour is never the only cue, in print neither.
  const TEXTURES = ["plain", "stripes", "dots", "cross", "rows", "back-stripes", "columns", "grid"];

  function tile(colour, index) {
    const size = 8 * Math.max(1, Math.round(window.devicePixelRatio || 1));
    const canvas = document.createElement("canvas");
    canvas.width = size;
    canvas.height = size;
    const g = canvas.getContext("2d");
    g.fillStyle = colour;
    g.fillRect(0, 0, size, size);
    g.strokeStyle = "rgba(255, 255, 255, 0.9)";
    g.fillStyle = "rgba(255, 255, 255, 0.9)";
    g.lineWidth = size / 6;
    const half = size / 2;
    const lines = {
      stripes: [[0, size, size, 0], [-half, half, half, -half], [half, size + half, size + half, half]],
      "back-stripes": [[0, 0, size, size], [-half, half, half, size + half], [half, -half, size + half, half]],
      cross: [[0, half, size, half], [half, 0, half, size]],
      rows: [[0, half, size, half]],
      columns: [[half, 0, half, size]],
      grid: [[0, 0, size, 0], [0, 0, 0, size]],
    }[TEXTURES[index % TEXTURES.length]];
    if (lines) {
      g.beginPath();
      for (const [x0, y0, x1, y1] of lines) {
        g.moveTo(x0, y0);
        g.lineTo(x1, y1);
      }
      g.stroke();
    } else if (TEXTURES[index % TEXTURES.length] === "dots") {
      g.beginPath();
      g.arc(half, half, size / 5, 0, 2 * Math.PI);
      g.fill();
    }
    return canvas;
  }

  // Stacked bars: each series drawn from the top of the ones before it.
  function stacks(values) {
    const bottoms = [];
    const tops = [];
    let running = values[0].map(function () {
      return 0;
    });
    for (const series of values) {
      bottoms.push(running);
      running = running.map(function (below, i) {
        return below + (series[i] || 0);
      });
      tops.push(running);
    }
    return { bottoms: bottoms, tops: tops, highest: Math.max(0, ...running) };
  }

  function options(data, width) {
    const count = data.axis.length;
    const values = data.series.map(function (s) {
      return s.values.map(number);
    });
    const label = pointLabel(data);
    const format = formatter(data);
    const bars = data.kind !== "line";
    const stacked = data.kind === "stacked-bar" ? stacks(values) : null;
    const grouped = data.kind === "bar" ? data.series.length : 0;
    let highest = stacked
      ? stacked.highest
      : Math.max(
          0,
          ...values.flat().filter(function (v) {
            return v !== null;
          }),
        );
    highest = highest > 0 ? highest * 1.08 : 1;
    const lowest = Math.min(
      0,
      ...values.flat().filter(function (v) {
        return v !== null;
      }),
    );
    const step = Math.max(1, Math.ceil(count / Math.max(1, Math.floor(width / (data.dates ? 70 : 110)))));
    const series = data.series.map(function (s, index) {
      const colour = token("--chart-" + s.colour) || "#0072b2";
      const line = {
        label: s.label,
        stroke: colour,
        width: 2,
        points: { show: !bars && count <= 45, fill: colour },
        value: function (_u, value) {
          return format(value);
        },
      };
      if (!bars) {
        if (s.dash) {
          line.dash = s.dash.split(" ").map(Number);
        }
        return line;
      }
      const texture = tile(colour, index);
      let pattern = null;
      line.fill = function (u) {
        pattern = pattern || u.ctx.createPattern(texture, "repeat");
        return pattern;
      };
      line.marker = "url(" + texture.toDataURL() + ") 0 0 / 8px 8px repeat";
      line.width = 0;
      if (stacked) {
        line.paths = uPlot.paths.bars({
          size: [0.7, 48],
          disp: {
            y0: { unit: 3, values: () => stacked.bottoms[index] },
            y1: { unit: 3, values: () => stacked.tops[index] },
          },
        });
      } else {
        const share = 0.8 / grouped;
        line.paths = uPlot.paths.bars({
          disp: {
            x0: { unit: 3, values: (u) => u.data[0].map((x) => x - 0.4 + index * share) },
            size: { unit: 3, values: () => [share] },
          },
        });
      }
      return line;
    });
    return {
      width: width,
      height: HEIGHT,
      legend: {
        show: true,
        live: true,
        markers: {
          fill: function (u, i) {
            return u.series[i].marker || "transparent";
          },
        },
      },
      cursor: { points: { show: !bars }, drag: { x: false, y: false } },
      scales: {
        x: { time: false, range: bars || count < 2 ? [-0.5, count - 0.5] : [0, count - 1] },
        y: { range: [lowest, highest] },
      },
      axes: [
        {
          stroke: token("--chart-axis"),
          grid: { show: false },
          ticks: { stroke: token("--chart-grid") },
          splits: function () {
            const found = [];
            for (let i = 0; i < count; i += step) {
              found.push(i);
            }
            return found;
          },
          values: function (_u, splits) {
            return splits.map(function (i) {
              return Number.isInteger(i) && i >= 0 && i < count ? label(data.axis[i]) : "";
            });
          },
        },
        {
          stroke: token("--chart-axis"),
          grid: { stroke: token("--chart-grid"), width: 1 },
          ticks: { stroke: token("--chart-grid") },
          values: function (_u, splits) {
            return splits.map(format);
          },
          // Wide enough for the longest label (about 7 px a character at the axis' font).
          size: function (_u, values) {
            const longest = Math.max(
              1,
              ...(values || []).map(function (text) {
                return String(text).length;
              }),
            );
            return longest * 7 + 20;
          },
        },
      ],
      series: [
        {
          label: data.axis_label || "\u00a0",
          value: function (_u, i) {
            return i === null || i === undefined || data.axis[i] === undefined ? "" : label(data.axis[i]);
          },
        },
        ...series,
      ],
    };
  }

  function draw(figure) {
    const source = document.getElementById(figure.dataset.chart);
    const host = figure.querySelector(".chart-plot");
    if (!source || !host || typeof uPlot === "undefined") {
      return;
    }
    const data = JSON.parse(source.textContent);
    const xs = data.axis.map(function (_, i) {
      return i;
    });
    const ys = data.series.map(function (s) {
      return s.values.map(number);
    });
    const width = host.clientWidth || 600;
    host.classList.toggle("no-axis-label", !data.axis_label);
    const plot = new uPlot(options(data, width), [xs, ...ys], host);
    host.dataset.drawn = String(data.axis.length);
    charts.push({ plot: plot, host: host });
  }

  function fit() {
    for (const chart of charts) {
      const width = chart.host.clientWidth;
      if (width && width !== chart.plot.width) {
        chart.plot.setSize({ width: width, height: HEIGHT });
      }
    }
  }

  // Leave empty fields out of the URL: a shared report link names only the filters it uses.
  function shortenForm(form) {
    form.addEventListener("submit", function () {
      for (const field of form.querySelectorAll("input, select")) {
        if (field.name && field.value === "") {
          field.disabled = true;
        }
      }
      window.setTimeout(function () {
        for (const field of form.querySelectorAll(":disabled")) {
          field.disabled = false;
        }
      }, 0);
    });
  }

  function start() {
    for (const figure of document.querySelectorAll("figure[data-chart]")) {
      draw(figure);
    }
    const form = document.getElementById("filters");
    if (form) {
      shortenForm(form);
    }
    if (typeof ResizeObserver !== "undefined") {
      const watcher = new ResizeObserver(fit);
      for (const chart of charts) {
        watcher.observe(chart.host);
      }
    }
    const opened = [];
    window.addEventListener("beforeprint", function () {
      for (const box of document.querySelectorAll("details.chart-numbers:not([open])")) {
        box.open = true;
        opened.push(box);
      }
      for (const chart of charts) {
        chart.plot.setSize({ width: Math.min(PRINT_WIDTH, chart.host.clientWidth || PRINT_WIDTH), height: HEIGHT });
      }
    });
    window.addEventListener("afterprint", function () {
      for (const box of opened.splice(0)) {
        box.open = false;
      }
      fit();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
