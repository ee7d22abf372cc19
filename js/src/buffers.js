// Binary buffers <-> typed arrays. ipywidgets hands bytes traits to the front-end as DataView
// (or ArrayBuffer / typed array); these helpers give typed-array views without JSON and copy only
// when the bytes are not aligned for the element type.

/** Uint8Array view of any binary value (DataView, ArrayBuffer, typed array); empty for null. */
export function asBytes(value) {
  if (value == null) return new Uint8Array(0);
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  throw new TypeError(`expected binary data (DataView/ArrayBuffer/typed array), got ${typeof value}`);
}

function typed(value, Ctor) {
  const bytes = asBytes(value);
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
  const bytes = asBytes(value);
  if (n === 0 || bytes.byteLength === 0) return new Uint8Array(n);
  if (bytes.byteLength === n) return decodeUint8(bytes);
  if (bytes.byteLength === 2 * n) return decodeUint16(bytes);
  throw new RangeError(`codes buffer of ${bytes.byteLength} bytes does not fit ${n} points (1 or 2 bytes each)`);
}

/** Interleaved float32 (x0, y0, x1, y1, ...) -> separate columns. */
export function splitXY(xy) {
  const n = xy.length >> 1;
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = xy[2 * i];
    y[i] = xy[2 * i + 1];
  }
  return { x, y };
}

/** Indices (array-like of ints) -> DataView over sorted unique uint32 bytes, ready for model.set. */
export function encodeIndices(indices) {
  const sorted = sortedUnique(indices);
  return new DataView(sorted.buffer, sorted.byteOffset, sorted.byteLength);
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
