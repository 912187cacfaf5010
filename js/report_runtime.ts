// Runtime of the offline HTML report (built as an IIFE and inlined by xwidgets/report).
//
// It carries every widget module and a StaticModel implementing anywidget's model API, so
// the very same render() code that runs in Jupyter runs here, interactive and client-side,
// with no kernel, no require.js and no network request. The state comes from
// <script type="application/json" id="xw-report-state">; bytes are {"$binary": base64}, or
// {"$deflate": base64, ...} inflated with the browser's DecompressionStream (lib/report_state).

import aspectReport from "./aspect_report";
import attentionFlowViewer from "./attention_flow_viewer";
import compareGrid from "./compare_grid";
import conceptExplorer from "./concept_explorer";
import datasetExplorer from "./dataset_explorer";
import explanationGallery from "./explanation_gallery";
import leaderboard from "./leaderboard";
import { StaticModel, type WidgetModule } from "./lib/model";
import { readReportDocument, reviveBinaryAsync } from "./lib/report_state";
import sagViewer from "./sag_viewer";
import saliencyViewer from "./saliency_viewer";

export const MODULES: Readonly<Record<string, WidgetModule>> = {
  saliency_viewer: saliencyViewer,
  compare_grid: compareGrid,
  attention_flow_viewer: attentionFlowViewer,
  leaderboard,
  concept_explorer: conceptExplorer,
  explanation_gallery: explanationGallery,
  sag_viewer: sagViewer,
  aspect_report: aspectReport,
  dataset_explorer: datasetExplorer,
};

export interface Mounted {
  module: string;
  model: StaticModel;
  el: HTMLElement;
}

function fail(el: HTMLElement, message: string): void {
  const box = document.createElement("div");
  box.className = "xw-report-error";
  box.setAttribute("role", "alert");
  box.textContent = message;
  el.replaceChildren(box);
}

/** Render every widget of the report found in `root`. */
export async function mountReport(root: Document = document): Promise<Mounted[]> {
  const script = root.getElementById("xw-report-state");
  if (script === null) return [];
  const doc = readReportDocument(script.textContent ?? "");
  // Inflate every widget's buffers at once; each widget waits only for its own.
  const states = doc.widgets.map((w) =>
    reviveBinaryAsync(w.state).then(
      (state) => ({ state: state as Record<string, unknown>, error: null }),
      (error: unknown) => ({ state: null, error }),
    ),
  );
  const mounted: Mounted[] = [];
  for (const [i, widget] of doc.widgets.entries()) {
    const el = root.querySelector<HTMLElement>(`[data-xw-widget="${i}"]`);
    if (el === null) continue;
    const module = MODULES[widget.module];
    if (module === undefined) {
      fail(el, `This report needs the widget module "${widget.module}", which this runtime does not have.`);
      continue;
    }
    try {
      const { state, error } = await states[i];
      if (state === null) throw error;
      const model = new StaticModel(state);
      await module.initialize?.({ model });
      await module.render({ model, el });
      mounted.push({ module: widget.module, model, el });
    } catch (e) {
      console.error(e);
      fail(el, `Could not render this widget: ${(e as Error)?.message ?? String(e)}`);
    }
  }
  return mounted;
}

declare global {
  interface Window {
    xwidgets?: { modules: typeof MODULES; mounted: Promise<Mounted[]>; StaticModel: typeof StaticModel };
  }
}

function start(): void {
  const mounted = mountReport(document);
  window.xwidgets = { modules: MODULES, mounted, StaticModel };
  mounted.then(() => document.documentElement.setAttribute("data-xw-mounted", "true"));
}

if (typeof document !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
  else start();
}
