// Build the front end with esbuild's JS API:
//   js/saliency_viewer.ts -> xwidgets/static/saliency_viewer.js  (ESM, an anywidget module)
//   js/compare_grid.ts    -> xwidgets/static/compare_grid.js     (ESM, an anywidget module)
//   js/mask_optimization_viewer.ts -> xwidgets/static/mask_optimization_viewer.js (ESM, an anywidget module)
//   js/leaderboard.ts     -> xwidgets/static/leaderboard.js      (ESM, an anywidget module)
//   js/concept_explorer.ts -> xwidgets/static/concept_explorer.js (ESM, an anywidget module)
//   js/concept_bank_viewer.ts -> xwidgets/static/concept_bank_viewer.js (ESM, an anywidget module)
//   js/attention_flow_viewer.ts -> xwidgets/static/attention_flow_viewer.js (ESM, an anywidget module)
//   js/explanation_gallery.ts -> xwidgets/static/explanation_gallery.js (ESM, an anywidget module)
//   js/aspect_report.ts   -> xwidgets/static/aspect_report.js    (ESM, an anywidget module)
//   js/sag_viewer.ts      -> xwidgets/static/sag_viewer.js       (ESM, an anywidget module)
//   js/dataset_explorer.ts -> xwidgets/static/dataset_explorer.js (ESM, an anywidget module)
//   js/report_runtime.ts  -> xwidgets/static/report_runtime.js   (IIFE, inlined in reports)
// Usage: node js/build.mjs [--dev]   (--dev: no minification, inline source maps)

import { build } from "esbuild";
import { mkdir, stat } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "xwidgets", "static");
const dev = process.argv.includes("--dev");

const common = {
  bundle: true,
  target: "es2022",
  minify: !dev,
  sourcemap: dev ? "inline" : false,
  legalComments: "none",
  logLevel: "warning",
  // Pages that load require.js would otherwise capture UMD dependencies.
  define: { "define.amd": "false" },
  // Everything is bundled: no CDN imports, no runtime fetches.
  platform: "browser",
};

const targets = [
  { entryPoints: [join(root, "js", "saliency_viewer.ts")], outfile: join(outdir, "saliency_viewer.js"), format: "esm" },
  { entryPoints: [join(root, "js", "compare_grid.ts")], outfile: join(outdir, "compare_grid.js"), format: "esm" },
  { entryPoints: [join(root, "js", "mask_optimization_viewer.ts")], outfile: join(outdir, "mask_optimization_viewer.js"), format: "esm" },
  { entryPoints: [join(root, "js", "attention_flow_viewer.ts")], outfile: join(outdir, "attention_flow_viewer.js"), format: "esm" },
  { entryPoints: [join(root, "js", "leaderboard.ts")], outfile: join(outdir, "leaderboard.js"), format: "esm" },
  { entryPoints: [join(root, "js", "concept_explorer.ts")], outfile: join(outdir, "concept_explorer.js"), format: "esm" },
  { entryPoints: [join(root, "js", "concept_bank_viewer.ts")], outfile: join(outdir, "concept_bank_viewer.js"), format: "esm" },
  { entryPoints: [join(root, "js", "explanation_gallery.ts")], outfile: join(outdir, "explanation_gallery.js"), format: "esm" },
  { entryPoints: [join(root, "js", "aspect_report.ts")], outfile: join(outdir, "aspect_report.js"), format: "esm" },
  { entryPoints: [join(root, "js", "sag_viewer.ts")], outfile: join(outdir, "sag_viewer.js"), format: "esm" },
  { entryPoints: [join(root, "js", "dataset_explorer.ts")], outfile: join(outdir, "dataset_explorer.js"), format: "esm" },
  {
    entryPoints: [join(root, "js", "report_runtime.ts")],
    outfile: join(outdir, "report_runtime.js"),
    format: "iife",
  },
];

await mkdir(outdir, { recursive: true });
for (const target of targets) {
  await build({ ...common, ...target });
  const { size } = await stat(target.outfile);
  console.log(`${relative(root, target.outfile)}  ${(size / 1024).toFixed(1)} KiB`);
}
