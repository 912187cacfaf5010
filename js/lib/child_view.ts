// A widget shown inside another one (the gallery's concept explorer, the dataset explorer's
// viewer): rendered on a static model of its own whose shared traits (opacity, colour map,
// selection...) mirror the parent's both ways, one parent save for each child save.

import { StaticModel, subscribe, type WidgetModel, type WidgetModule } from "./model";

/** A model for an embedded widget: a static model whose `save_changes` calls `onSave`. */
export class ChildModel extends StaticModel {
  constructor(state: Record<string, unknown>, private readonly onSave: (child: ChildModel) => void) {
    super(state);
  }

  save_changes(): void {
    super.save_changes();
    this.onSave(this);
  }
}

/** The embedded widget of `slot`: at most one, mounted from a state object, unmounted before the next. */
export class ChildView {
  /** the embedded widget's model, null when none is mounted */
  child: ChildModel | null = null;
  /** the state object the child was mounted from */
  private source: unknown = null;
  private cleanup: (() => void) | void = undefined;
  private token = 0;

  constructor(
    private readonly parent: WidgetModel,
    private readonly slot: HTMLElement,
    private readonly shared: readonly string[],
  ) {}

  /** Whether the mounted child was made from `source` (nothing to do). */
  shows(source: unknown): boolean {
    return this.child !== null && source === this.source;
  }

  /** Dispose of the child and empty the slot. */
  unmount(): void {
    this.token += 1;
    if (typeof this.cleanup === "function") this.cleanup();
    this.cleanup = undefined;
    this.child?.off();
    this.child = null;
    this.source = null;
    this.slot.replaceChildren();
  }

  /**
   * Render `module` into `host` (appended to the slot) on a child model of `state` plus the
   * parent's shared traits; `source` is what `shows` compares. `report(null)` after rendering,
   * `report(error)` when rendering throws (unless the child was unmounted meanwhile).
   */
  mount(
    module: WidgetModule,
    source: unknown,
    state: Record<string, unknown>,
    host: HTMLElement,
    report: (error: Error | null) => void,
  ): void {
    for (const name of this.shared) state[name] = this.parent.get(name);
    const c = new ChildModel(state, (m) => this.fromChild(m));
    this.child = c;
    this.source = source;
    this.slot.append(host);
    const token = this.token;
    try {
      this.cleanup = module.render({ model: c, el: host }) as (() => void) | void;
      report(null);
    } catch (e) {
      if (token === this.token) report(e as Error);
    }
  }

  /** The parent's shared traits changed (Python, or the parent widget): mirror them in the child. */
  toChild(): void {
    if (this.child === null) return;
    for (const name of this.shared) this.child.set(name, this.parent.get(name));
  }

  /** Call `toChild` whenever a shared trait of the parent changes; returns what stops listening. */
  followParent(): Array<() => void> {
    return subscribe(this.parent, this.shared.map((name) => [`change:${name}`, () => this.toChild()] as const));
  }

  /** The child saved: pass its shared traits to the parent (one save for all of them). */
  private fromChild(c: ChildModel): void {
    if (c !== this.child) return;
    let changed = false;
    for (const name of this.shared) {
      const v = c.get(name);
      if (!Object.is(v, this.parent.get(name))) {
        this.parent.set(name, v);
        changed = true;
      }
    }
    if (changed) this.parent.save_changes();
  }
}
