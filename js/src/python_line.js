// The Python line of each UI action (pure): what a user runs in a cell to do the same as a click.

/** Sorted indices as a compact numpy expression: runs of 3+ consecutive rows become slices, e.g.
 * np.r_[3:10, 15, 20:25]; a short list stays a list. */
export function indexExpr(indices) {
  const a = Array.from(indices);
  if (a.length === 0) return 'np.array([], dtype=np.uint32)';
  const parts = [];
  let slices = false;
  for (let i = 0; i < a.length;) {
    let j = i;
    while (j + 1 < a.length && a[j + 1] === a[j] + 1) j++;
    if (j - i >= 2) {
      parts.push(`${a[i]}:${a[j] + 1}`);
      slices = true;
    } else {
      for (let k = i; k <= j; k++) parts.push(String(a[k]));
    }
    i = j + 1;
  }
  return slices ? `np.r_[${parts.join(', ')}]` : `np.array([${parts.join(', ')}])`;
}

/** A Python string literal (double quotes, escapes). */
export function pyStr(s) {
  return JSON.stringify(String(s));
}

/** action: { kind, ... } -> the Python line that does the same to the widget named `w`. */
export function pythonLine(action, w = 'w') {
  switch (action.kind) {
    case 'select':
      return `${w}.selected = ${indexExpr(action.indices)}`;
    case 'clear':
      return `${w}.selected = []`;
    case 'save_set':
      return `${w}.sets[${pyStr(action.name)}] = ${indexExpr(action.indices)}`;
    case 'delete_set':
      return `del ${w}.sets[${pyStr(action.name)}]`;
    case 'pick_set':
      return `${w}.selected = ${w}.sets[${pyStr(action.name)}]`;
    case 'method':
      return `${w}.set_method(${pyStr(action.method)})`;
    case 'color_by':
      return `${w}.set_color_by(${pyStr(action.key)})`;
    case 'concept_axis':
      return `${w}.concept_axis(${pyStr(action.a)}, ${pyStr(action.b)})`;
    case 'undo':
      return `${w}.undo()`;
    case 'redo':
      return `${w}.redo()`;
    case 'strength':
      return `${w}.set_strength(${Number(action.alpha)})`;
    case 'goto':
      return `${w}.goto(${action.k})`;
    case 'search':
      return `${w}.search(${pyStr(action.query)})`;
    case 'style':
      return `${w}.${action.trait} = ${action.value}`;
    case 'export':
      return `${w}.to_png("chorus.png")`;
    default:
      return '';
  }
}

/** The line as shown (long index lists shortened with an ellipsis; the copy button copies all of it). */
export function shortLine(line, limit = 160) {
  return line.length <= limit ? line : `${line.slice(0, limit - 1)}\u2026`;
}
