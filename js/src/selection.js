// The selection shared by every view of one widget and Python's `selected` trait (sorted uint32 indices).
import { decodeUint32, encodeIndices, sameIndices } from './buffers.js';

/**
 * views() -> the widget's ScatterViews; onChange() after the selection changed; probe: debug hooks
 * (timing stamps).
 */
export function createSelection(model, { views, onChange, probe }) {
  let current = decodeUint32(model.get('selected'));
  const ackWaiters = [];

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
      publish(indices);
      probe.stamp('selectSentMs');
      if (source?.lastMouseUpMs) probe.stamp('mouseUpMs', source.lastMouseUpMs);
      // onChange (status, gallery request) before the other views repaint: at a million points a repaint
      // holds the page for a second, and the gallery's request should already be on its way
      onChange();
      for (const v of views()) if (v !== source) v.select(indices);
      return new Promise((resolve) => ackWaiters.push(resolve));
    },
    /** Select `indices` everywhere and tell Python (picking a named set). */
    set(indices) {
      current = Uint32Array.from(indices);
      publish(current);
      onChange();
      for (const v of views()) v.select(current);
    },
    /** Python changed `selected`: highlight it in every view. */
    fromModel() {
      const s = decodeUint32(model.get('selected'));
      if (sameIndices(s, current)) return;
      current = Uint32Array.from(s);
      onChange();
      for (const v of views()) v.select(current);
    },
    /** The kernel's 'ack_selected' message. */
    acknowledged(count) {
      for (const resolve of ackWaiters.splice(0)) resolve(count);
      probe.stamp('ackMs');
    },
  };
}
