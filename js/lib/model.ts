// The subset of anywidget's model API that xwidgets' modules use, and a static model
// implementing it for pages without a kernel (reports, the browser-test harness).

export type Callback = (...args: unknown[]) => void;

export interface WidgetModel {
  get(name: string): unknown;
  set(name: string, value: unknown): void;
  on(event: string, callback: Callback): void;
  off(event?: string | null, callback?: Callback | null): void;
  save_changes(): void;
  send(content: unknown, callbacks?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): void;
}

export interface RenderProps {
  model: WidgetModel;
  el: HTMLElement;
}

export interface WidgetModule {
  initialize?: (props: { model: WidgetModel }) => void | (() => void) | Promise<void | (() => void)>;
  render: (props: RenderProps) => void | (() => void) | Promise<void | (() => void)>;
}

/**
 * A model whose state lives in the page. `set` fires `change:<name>` then `change`, as
 * Backbone does (only when the value differs, compared with Object.is); `save_changes`
 * and `send` have no kernel to talk to, so they only count and record.
 */
export class StaticModel implements WidgetModel {
  private readonly state: Map<string, unknown>;
  private readonly listeners = new Map<string, Set<Callback>>();
  saves = 0;
  readonly sent: unknown[] = [];

  constructor(state: Record<string, unknown>) {
    this.state = new Map(Object.entries(state));
  }

  get(name: string): unknown {
    return this.state.get(name);
  }

  set(name: string, value: unknown): void {
    const old = this.state.get(name);
    if (Object.is(old, value) && this.state.has(name)) return;
    this.state.set(name, value);
    this.emit(`change:${name}`, this, value);
    this.emit("change", this);
  }

  on(event: string, callback: Callback): void {
    let set = this.listeners.get(event);
    if (set === undefined) this.listeners.set(event, (set = new Set()));
    set.add(callback);
  }

  off(event?: string | null, callback?: Callback | null): void {
    if (event == null) {
      if (callback == null) this.listeners.clear();
      else for (const set of this.listeners.values()) set.delete(callback);
      return;
    }
    if (callback == null) this.listeners.delete(event);
    else this.listeners.get(event)?.delete(callback);
  }

  save_changes(): void {
    this.saves += 1;
  }

  send(content: unknown): void {
    this.sent.push(content);
  }

  /** Number of listeners still attached (tests check that cleanup removes them). */
  listenerCount(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }

  private emit(event: string, ...args: unknown[]): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    for (const callback of [...set]) callback(...args);
  }
}

/** Call each handler on its event (`change:<trait>`); returns what stops listening. */
export function subscribe(model: WidgetModel, handlers: ReadonlyArray<readonly [string, () => void]>): Array<() => void> {
  return handlers.map(([event, handler]) => {
    model.on(event, handler);
    return () => model.off(event, handler);
  });
}
