// Binary buffers <-> typed arrays. ipywidgets hands bytes traits to the front-end as DataView
// (or ArrayBuffer / typed array); these helpers give typed-array views without JSON and copy only
// when the bytes are not aligned for the element type. An array bigger than MAX_BUFFER_BYTES crosses
// as a list of chunks (both ways); joinChunks makes one typed array of them again.

/** Largest single binary buffer of a comm message; the same limit as buffers.MAX_BUFFER_BYTES in Python
 * (8 MiB: under the Jupyter server's default 10 MiB websocket message limit, see there). */
export const MAX_BUFFER_BYTES = 8 * 1024 * 1024;

/** Uint8Array view of any binary value (DataView, ArrayBuffer, typed array); empty for null. */
export function asBytes(value) {
  if (value == null) return new Uint8Array(0);
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`expected binary data (DataView/ArrayBuffer/typed array), got ${typeof value}`);
}

/** One Uint8Array from a binary value or an array of binary chunks (copies only when there are several). */
export function joinChunks(value) {
  if (!Array.isArray(value)) return asBytes(value);
  if (value.length === 1) return asBytes(value[0]);
  const parts = value.map(asBytes);
  let total = 0;
  for (const p of parts) total += p.byteLength;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/**
 * Bytes (any binary value) -> array of DataViews of at most `limit` bytes. Each chunk owns its own
 * ArrayBuffer: ipywidgets sends a view's whole underlying buffer, not just the viewed bytes.
 */
export function chunkBytes(value, limit = MAX_BUFFER_BYTES) {
  if (!(limit > 0) || limit % 8 !== 0) throw new RangeError(`chunk limit must be a positive multiple of 8 bytes, got ${limit}`);
  const bytes = joinChunks(value);
  const out = [];
  for (let at = 0; at < bytes.byteLength || out.length === 0; at += limit) {
    const part = bytes.slice(at, Math.min(at + limit, bytes.byteLength));
    out.push(new DataView(part.buffer));
  }
  return out;
}

/** What to hand model.set for a typed array: one DataView when it fits the limit, else a list of chunks. */
export function toWire(typedArray, limit = MAX_BUFFER_BYTES) {
  const bytes = asBytes(typedArray);
  if (bytes.byteLength <= limit) {
    const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    return new DataView(own.buffer);
  }
  return chunkBytes(bytes, limit);
}

function typed(value, Ctor) {
  const bytes = joinChunks(value);
  const size = Ctor.BYTES_PER_ELEMENT;
  if (bytes.byteLength % size !== 0) {
    throw new RangeError(`buffer of ${bytes.byteLength} bytes is not a whole number of ${Ctor.name} values`);
  }
  if (bytes.byteOffset % size === 0) return new Ctor(bytes.buffer, bytes.byteOffset, bytes.byteLength / size);
  return new Ctor(bytes.slice().buffer); // misaligned: copy once
}

export const decodeFloat32 = (v) => typed(v, Float32Array);
export const decodeUint8 = (v) => typed(v, Uint8Array);
export const decodeUint16 = (v) => typed(v, Uint16Array);
export const decodeUint32 = (v) => typed(v, Uint32Array);

/** Per-point category codes: 1 byte each (uint8) or 2 bytes (uint16), told apart by length vs n. */
export function decodeCodes(value, n) {
  const bytes = joinChunks(value);
  if (n === 0 || bytes.byteLength === 0) return new Uint8Array(n);
  if (bytes.byteLength === n) return decodeUint8(bytes);
  if (bytes.byteLength === 2 * n) return decodeUint16(bytes);
  throw new RangeError(`codes buffer of ${bytes.byteLength} bytes does not fit ${n} points (1 or 2 bytes each)`);
}

/** Indices (array-like of ints) -> sorted unique uint32 bytes ready for model.set: one DataView, or a list of
 * chunks of at most `limit` bytes. */
export function encodeIndices(indices, limit = MAX_BUFFER_BYTES) {
  return toWire(sortedUnique(indices), limit);
}

/** Sorted unique Uint32Array copy of an array-like of non-negative integers. */
export function sortedUnique(indices) {
  const a = Uint32Array.from(indices);
  a.sort();
  let k = 0;
  for (let i = 0; i < a.length; i++) {
    if (i === 0 || a[i] !== a[i - 1]) a[k++] = a[i];
  }
  return a.slice(0, k);
}

/** Element-wise equality of two array-likes. */
export function sameIndices(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The positions after a kernel's `positions_delta`: a copy of `current` (x, y float32 per point, any wire form)
 * with the points at `index` (uint32 bytes) moved to `xy` (float32 bytes), in the wire form model.set takes. The
 * model's value is replaced, never written in place. Throws RangeError on buffers that do not fit. */
export function applyPositionsDelta(current, index, xy) {
  const next = Float32Array.from(decodeFloat32(current));
  const idx = decodeUint32(index);
  const v = decodeFloat32(xy);
  if (v.length !== 2 * idx.length) throw new RangeError(`positions_delta: ${idx.length} indices but ${v.length / 2} places`);
  const n = next.length >> 1;
  for (let i = 0; i < idx.length; i++) {
    const j = idx[i];
    if (j >= n) throw new RangeError(`positions_delta: point ${j} of ${n}`);
    next[2 * j] = v[2 * i];
    next[2 * j + 1] = v[2 * i + 1];
  }
  return toWire(next);
}
