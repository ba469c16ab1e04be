import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { Resvg } from "@resvg/resvg-js";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

/** One point of a series in a panel. */
export interface PlotPoint {
  readonly x: number;
  readonly y: number;
  readonly series: string;
}

/** One chart of a figure: a line per series. */
export interface PlotPanel {
  readonly title: string;
  readonly xTitle: string;
  readonly yTitle: string;
  readonly points: readonly PlotPoint[];
}

// A font shipped through npm, so the PNG has the same text on any machine.
const FONT = join(
  dirname(createRequire(import.meta.url).resolve("dejavu-fonts-ttf/package.json")),
  "ttf",
  "DejaVuSans.ttf",
);

function panelSpec(panel: PlotPanel) {
  return {
    title: panel.title,
    width: 300,
    height: 220,
    data: { values: panel.points.map((p) => ({ ...p })) },
    mark: { type: "line" as const, point: true },
    encoding: {
      x: { field: "x", type: "quantitative" as const, title: panel.xTitle },
      y: { field: "y", type: "quantitative" as const, title: panel.yTitle },
      color: {
        field: "series",
        type: "nominal" as const,
        title: null,
        legend: { orient: "bottom" as const, columns: 2 },
      },
    },
  };
}

/** Renders panels side by side under a title: vega-lite → vega SVG → PNG (resvg). */
export async function renderPlot(
  title: string,
  panels: readonly PlotPanel[],
): Promise<{ svg: string; png: Buffer }> {
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: { text: title, fontSize: 13 },
    background: "white",
    config: { font: "DejaVu Sans" },
    hconcat: panels.map(panelSpec),
    resolve: { scale: { color: "independent" } },
  } as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    const svg = await view.toSVG();
    const png = new Resvg(svg, {
      font: { fontFiles: [FONT], loadSystemFonts: false, defaultFontFamily: "DejaVu Sans" },
      fitTo: { mode: "zoom", value: 1.5 },
      background: "white",
    })
      .render()
      .asPng();
    return { svg, png };
  } finally {
    view.finalize();
  }
}
