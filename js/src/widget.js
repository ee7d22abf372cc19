// anywidget entry: render({ model, el }) for ScatterWidget and Chorus (and scale.ShardChorus).
//
// Structure: a controller (controller.js) holds the widget's state, views, protocol and events; panels mount into
// it. Which panels a widget has depends only on its view mode (PANELS below), never on `chorus ? ... : null`.
// Every custom message is declared once in Python (modalchorus_widget/widget/protocol.py) and reaches the
// browser as the `_protocol` trait; protocol.js checks and dispatches by it. The styles are widget.css, served
// by the Python side as anywidget's _css. Test hooks: test_hooks.js (only in the test bundle).
//
// How to add a panel
//   1. Write mountX(ctrl) (in its own ui/ module or in panels.js): build the element, ctrl.mount(el, slot) with
//      slot one of 'toolbar' | 'notice' | 'views' | 'panels' | 'footer'; follow model traits with
//      ctrl.watch(trait, fn), kernel messages with ctrl.on(kind, (msg, buffers) => ...), controller events with
//      ctrl.listen(event, fn) (panels.js lists them); send with ctrl.send(kind, fields, buffers); record a user
//      action for the Python line with ctrl.act({ kind, ... }); release anything else with ctrl.onDestroy(fn).
//   2. Add mountX to the view modes' lists in PANELS (order = order on screen within a slot).
// How to add a message kind
//   Declare it in modalchorus_widget/widget/protocol.py (MESSAGES, under its direction) and rebuild; then
//   ctrl.on('kind', ...) for kernel -> browser, ctrl.send('kind', {...}) for browser -> kernel (a kind or field
//   the declaration lacks throws here and is refused by the kernel).
import { applyPositionsDelta } from './buffers.js';
import { createController } from './controller.js';
import {
  mountAugment, mountAxis, mountCodeLine, mountDensity, mountExport, mountGallery, mountHistory, mountNotice,
  mountProjection, mountReport, mountRounds, mountSearch, mountSets, mountStatus, mountToolbar, mountTooltip,
} from './panels.js';
import { mountSuspects } from './ui/suspects_panel.js';

/** The panels of each view mode (the model's `view_mode`), mounted in this order. */
export const PANELS = {
  scatter: [mountToolbar, mountNotice, mountProjection, mountStatus, mountTooltip, mountExport],
  chorus: [
    mountToolbar, mountSearch, mountNotice, mountProjection, mountAxis, mountGallery, mountDensity, mountSets,
    mountSuspects, mountAugment, mountHistory, mountReport, mountCodeLine, mountStatus, mountTooltip, mountExport, mountRounds,
  ],
};

function render({ model, el }) {
  const ctrl = createController({ model, el });
  for (const mount of PANELS[model.get('view_mode')] ?? PANELS.scatter) mount(ctrl);
  ctrl.start();
  return () => ctrl.destroy();
}

/** Once per model, whether or not a view is on screen: the kernel's `positions_delta` (the few points a round
 * moved) updates the model's positions, so every view, and any view made later, draws them. */
function initialize({ model }) {
  const onCustom = (msg, buffers) => {
    if (msg?.type !== 'positions_delta') return;
    try {
      model.set('positions', applyPositionsDelta(model.get('positions'), buffers?.[0], buffers?.[1]));
    } catch (err) {
      console.warn(`modalchorus-widget: ignored a positions_delta from the kernel: ${err.message}`);
    }
  };
  model.on('msg:custom', onCustom);
  return () => model.off('msg:custom', onCustom);
}

export default { initialize, render };
