import { defineConfig } from "vitest/config";

// Pure front-end logic only: decoding, colour maps, normalisation, pointer and
// selection maths. Drawing is tested in a real browser (tests/browser, Playwright).
export default defineConfig({
  test: {
    include: ["js/tests/**/*.test.ts"],
    environment: "node",
  },
});
