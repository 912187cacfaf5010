// Runtime of the offline HTML report (built as an IIFE and inlined by xwidgets/report).
//
// It carries every widget module and a StaticModel implementing anywidget's model API, so
// the very same render() code that runs in Jupyter runs here, interactive and client-side,
// with no kernel, no require.js and no network request. The state comes from
// <script type="application/json" id="xw-report-state">; bytes are {"$binary": base64}.

import { StaticModel, type WidgetModule } from "./lib/model";
import { parseReportDocument } from "./lib/report_state";
import saliencyViewer from "./saliency_viewer";

export const MODULES: Readonly<Record<string, WidgetModule>> = {
  saliency_viewer: saliencyViewer,
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
  const doc = parseReportDocument(script.textContent ?? "");
  const mounted: Mounted[] = [];
  for (const [i, widget] of doc.widgets.entries()) {
    const el = root.querySelector<HTMLElement>(`[data-xw-widget="${i}"]`);
    if (el === null) continue;
    const module = MODULES[widget.module];
    if (module === undefined) {
      fail(el, `This report needs the widget module "${widget.module}", which this runtime does not have.`);
      continue;
    }
    const model = new StaticModel(widget.state);
    try {
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
