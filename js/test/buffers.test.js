import { describe, expect, it } from 'vitest';
import {
  applyPositionsDelta, asBytes, decodeCodes, decodeFloat32, decodeUint32, encodeIndices, sameIndices, sortedUnique,
} from '../src/buffers.js';

describe('buffers', () => {
  it('decodes float32 from a DataView without copying when aligned', () => {
    const src = new Float32Array([1.5, -2, 3.25, 4]);
    const dv = new DataView(src.buffer);
    const out = decodeFloat32(dv);
    expect(Array.from(out)).toEqual([1.5, -2, 3.25, 4]);
    expect(out.buffer).toBe(src.buffer);
  });

  it('copies once when the bytes are misaligned', () => {
    const raw = new Uint8Array(9);
    new DataView(raw.buffer).setFloat32(1, 7.5, true);
    const out = decodeFloat32(new DataView(raw.buffer, 1, 4));
    expect(Array.from(out)).toEqual([7.5]);
  });

  it('rejects partial values', () => {
    expect(() => decodeUint32(new Uint8Array(5))).toThrow(/whole number/);
  });

  it('tells uint8 from uint16 codes by length', () => {
    expect(decodeCodes(new Uint8Array([0, 1, 2]), 3)).toBeInstanceOf(Uint8Array);
    const c16 = decodeCodes(new Uint16Array([300, 2]).buffer, 2);
    expect(Array.from(c16)).toEqual([300, 2]);
    expect(() => decodeCodes(new Uint8Array(5), 3)).toThrow(/does not fit/);
    expect(decodeCodes(null, 4).length).toBe(4);
  });

  it('encodes sorted unique uint32 indices as a DataView', () => {
    const dv = encodeIndices([5, 1, 5, 3]);
    expect(dv).toBeInstanceOf(DataView);
    expect(Array.from(decodeUint32(dv))).toEqual([1, 3, 5]);
    expect(Array.from(sortedUnique([]))).toEqual([]);
    expect(sameIndices([1, 2], new Uint32Array([1, 2]))).toBe(true);
    expect(sameIndices([1, 2], [1])).toBe(false);
    expect(asBytes(new ArrayBuffer(3)).length).toBe(3);
  });

  it('applies a positions_delta to a copy, from chunks too', () => {
    const cur = new Float32Array([0, 0, 1, 1, 2, 2, 3, 3]);
    const next = decodeFloat32(applyPositionsDelta([new DataView(cur.buffer, 0, 16), new DataView(cur.buffer, 16, 16)],
      new Uint32Array([1, 3]).buffer, new Float32Array([9, 8, 7, 6]).buffer));
    expect(Array.from(next)).toEqual([0, 0, 9, 8, 2, 2, 7, 6]);
    expect(Array.from(cur)).toEqual([0, 0, 1, 1, 2, 2, 3, 3]); // the model's old value is left as it was
    expect(() => applyPositionsDelta(cur, new Uint32Array([4]).buffer, new Float32Array([1, 1]).buffer)).toThrow(/point 4 of 4/);
    expect(() => applyPositionsDelta(cur, new Uint32Array([1]).buffer, new Float32Array([1]).buffer)).toThrow(/1 indices/);
  });
});
