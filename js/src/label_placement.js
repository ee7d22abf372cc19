// Point labels placed without overlap (pure): each label tries a few spots around its point, in order, and
// takes the first that overlaps no label placed before it and stays inside the view; the rest are hidden
// (the hovered point's label is always shown, first).

const SPOTS = [
  [1, 0], // right of the point
  [-1, 0], // left
  [0, -1], // above
  [0, 1], // below
  [1, -1],
  [1, 1],
  [-1, -1],
  [-1, 1],
];

const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/**
 * labels: [{ index, x, y, w, h }] (screen px: point centre, label text size); width/height: the view;
 * gap: px between point and label; priority: index shown first (hovered), or -1.
 * Returns [{ index, x, y, w, h }] of the placed label boxes (top-left corners), in placement order.
 */
export function placeLabels(labels, { width, height, gap = 6, priority = -1, obstacles = [] } = {}) {
  const order = [...labels].sort((a, b) => (b.index === priority) - (a.index === priority));
  const placed = [];
  const taken = obstacles.slice();
  for (const l of order) {
    if (!(l.x >= 0 && l.y >= 0 && l.x <= width && l.y <= height)) continue;
    for (const [dx, dy] of SPOTS) {
      const x = dx > 0 ? l.x + gap : dx < 0 ? l.x - gap - l.w : l.x - l.w / 2;
      const y = dy > 0 ? l.y + gap : dy < 0 ? l.y - gap - l.h : l.y - l.h / 2;
      const box = { index: l.index, x, y, w: l.w, h: l.h };
      if (x < 0 || y < 0 || x + l.w > width || y + l.h > height) continue;
      if (taken.some((t) => overlaps(t, box))) continue;
      placed.push(box);
      taken.push(box);
      break;
    }
  }
  return placed;
}
