// The selection shared by every view of one widget and Python's `selected` trait (sorted uint32 indices).
import { decodeUint32, encodeIndices, sameIndices } from './buffers.js';
import { TEST_HOOKS } from './test_hooks.js';

/**
 * views() -> the widget's ScatterViews; onChange() after the selection changed (may return a promise that
 * large widgets wait for before repainting the highlight); probe: debug hooks
 * (timing stamps).
 */
export function createSelection(model, { views, onChange, probe }) {
  let current = decodeUint32(model.get('selected'));
  const ackWaiters = [];
  let pending = null; // the acknowledgement a selection made in a view waits for

  // At large n a software-rendered repaint holds the page for about a second: paint the highlight after what
  // onChange() waits for (the gallery's first page), or after 1.5 s, so the gallery is not kept waiting.
  const paintAll = () => {
    const ready = onChange();
    const paint = () => {
      for (const v of views()) v.select(current);
    };
    if (!ready || !current.length || (views()[0]?.n ?? 0) <= 200000) {
      paint();
      return;
    }
    let done = false;
    const once = () => {
      if (!done) {
        done = true;
        paint();
      }
    };
    ready.then(once);
    setTimeout(once, 1500);
  };

  const publish = (indices) => {
    model.set('selected', encodeIndices(indices));
    model.save_changes();
  };

  return {
    get current() {
      return current;
    },
    /** A lasso or click in view `source` (null: the toolbar) selected `indices`. Resolves with the count
     * once the kernel acknowledges it (see ScatterWidget._ack_selected); undefined when nothing changed. */
    fromView(source, indices) {
      if (sameIndices(indices, current)) return undefined;
      current = indices;
      const acked = new Promise((resolve) => ackWaiters.push(resolve));
      pending = acked;
      publish(indices);
      probe.stamp('selectSentMs');
      if (TEST_HOOKS && source?.lastMouseUpMs) probe.stamp('mouseUpMs', source.lastMouseUpMs);
      // onChange (status, gallery request once acknowledged) before the other views repaint: at a million
      // points a repaint holds the page for a second
      onChange();
      for (const v of views()) if (v !== source) v.select(indices);
      return acked;
    },
    /** A promise of the kernel's acknowledgement of a selection made here and not yet acknowledged, else null.
     * Requests about the selection wait for it: marimo handles a widget's custom messages before its state
     * updates, so a request sent with the update would be answered about the selection before it. */
    get unacknowledged() {
      return pending;
    },
    /** Select `indices` everywhere and tell Python (picking a named set). */
    set(indices) {
      current = Uint32Array.from(indices);
      pending = new Promise((resolve) => ackWaiters.push(resolve));
      publish(current);
      paintAll();
    },
    /** Python changed `selected`: highlight it in every view. */
    fromModel() {
      const s = decodeUint32(model.get('selected'));
      if (sameIndices(s, current)) return;
      current = Uint32Array.from(s);
      paintAll();
    },
    /** The kernel's 'ack_selected' message. */
    acknowledged(count) {
      pending = null;
      for (const resolve of ackWaiters.splice(0)) resolve(count);
      probe.stamp('ackMs');
    },
  };
}
