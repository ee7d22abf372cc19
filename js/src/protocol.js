// The custom messages between kernel and browser, as declared once in Python (modalchorus_widget/widget/
// protocol.py) and synced as the widget's read-only `_protocol` trait:
//   { version, messages: { kernel: { kind: spec }, browser: { kind: spec } }, trails: {...} }
// spec: { fields: { name: 'int' | 'number' | 'str' | 'bool' | 'list' | 'dict' | 'any', with a trailing '?' when
// optional }, buffers: [min, max], open: bool (fields beyond `fields` allowed) }. 'kernel' holds what the
// browser sends, 'browser' what it gets. Nothing here names a message kind: the dispatch table is the schema's.

const TYPES = {
  any: () => true,
  int: (v) => Number.isInteger(v),
  number: (v) => typeof v === 'number' && Number.isFinite(v),
  str: (v) => typeof v === 'string',
  bool: (v) => typeof v === 'boolean',
  list: (v) => Array.isArray(v),
  dict: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
};

/** Why `msg` (with `buffers`) is not a message the schema allows towards `to` ('kernel' | 'browser'); null when it is. */
export function checkMessage(schema, msg, buffers, to) {
  if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) return 'a message that is not a mapping';
  const kind = msg.type;
  const spec = typeof kind === 'string' ? schema?.messages?.[to]?.[kind] : undefined;
  if (!spec || !Object.hasOwn(schema.messages[to], kind)) return `unknown message kind ${JSON.stringify(String(kind).slice(0, 40))}`;
  for (const [name, declared] of Object.entries(spec.fields || {})) {
    const optional = declared.endsWith('?');
    const type = optional ? declared.slice(0, -1) : declared;
    const value = msg[name];
    if (value === undefined || value === null) {
      if (optional) continue;
      return `a '${kind}' message without its field '${name}'`;
    }
    if (!(TYPES[type] ?? (() => false))(value)) return `a '${kind}' message: field '${name}' is not ${type}`;
  }
  if (!spec.open) {
    const extra = Object.keys(msg).filter((k) => k !== 'type' && !Object.hasOwn(spec.fields || {}, k));
    if (extra.length) return `a '${kind}' message with fields the protocol does not declare: ${extra.slice(0, 5).join(', ')}`;
  }
  const n = buffers?.length ?? 0;
  const [lo, hi] = spec.buffers || [0, 0];
  if (n < lo || n > hi) return `a '${kind}' message with ${n} binary buffers; it carries ${lo} to ${hi}`;
  return null;
}

/**
 * The browser's side of the protocol on `model` (whose `_protocol` trait holds the schema).
 *   on(kind, fn): fn(msg, buffers) for every checked kernel message of `kind`; returns its removal. A kind the
 *     schema does not declare towards the browser throws (a bug in the panel).
 *   dispatch(msg, buffers): check a kernel message and call its handlers; false when refused or unhandled.
 *   send(kind, fields, buffers): a checked message to the kernel; a wrong one throws (a bug in the panel).
 * warn(text): where refusals are reported (console.warn by default).
 */
export function createProtocol(model, { warn = (text) => console.warn(`modalchorus-widget: ${text}`) } = {}) {
  const schema = model.get('_protocol') || { messages: { kernel: {}, browser: {} } };
  const handlers = new Map(Object.keys(schema.messages?.browser || {}).map((kind) => [kind, []]));
  return {
    schema,
    on(kind, fn) {
      const list = handlers.get(kind);
      if (!list) throw new Error(`protocol: '${kind}' is not a kernel -> browser message; declare it in widget/protocol.py`);
      list.push(fn);
      return () => {
        const i = list.indexOf(fn);
        if (i >= 0) list.splice(i, 1);
      };
    },
    dispatch(msg, buffers) {
      const why = checkMessage(schema, msg, buffers, 'browser');
      if (why) {
        warn(`ignored a message from the kernel: ${why}`);
        return false;
      }
      const list = handlers.get(msg.type);
      for (const fn of list) fn(msg, buffers);
      return list.length > 0;
    },
    send(kind, fields = {}, buffers = undefined) {
      const msg = { type: kind, ...fields };
      const why = checkMessage(schema, msg, buffers, 'kernel');
      if (why) throw new Error(`protocol: the browser built ${why}`);
      model.send(msg, undefined, buffers);
    },
  };
}
