import { describe, expect, it } from 'vitest';
import {
  MAX_BUFFER_BYTES, chunkBytes, decodeCodes, decodeFloat32, decodeUint32, encodeIndices, joinChunks, toWire,
} from '../src/buffers.js';

// what ipywidgets does with a buffer it sends: the view's whole underlying ArrayBuffer goes on the wire
const onWire = (dv) => new Uint8Array(dv.buffer);

describe('chunked buffers', () => {
  it('uses the same 8 MiB limit as the Python side', () => {
    expect(MAX_BUFFER_BYTES).toBe(8 * 1024 * 1024);
  });

  it('splits bytes into chunks of at most the limit, each owning its buffer', () => {
    const src = Uint8Array.from({ length: 100 }, (_, i) => i);
    const chunks = chunkBytes(src, 32);
    expect(chunks.map((c) => c.byteLength)).toEqual([32, 32, 32, 4]);
    for (const c of chunks) {
      expect(c).toBeInstanceOf(DataView);
      expect(c.buffer.byteLength).toBe(c.byteLength); // no neighbour bytes ride along
    }
    expect(Array.from(joinChunks(chunks))).toEqual(Array.from(src));
    expect(chunkBytes(new Uint8Array(0), 32).length).toBe(1);
    expect(() => chunkBytes(src, 12)).toThrow(/multiple of 8/);
  });

  it('round-trips float32 and uint32 arrays through chunks into one typed array', () => {
    const xy = Float32Array.from({ length: 1001 * 2 }, (_, i) => i * 0.5 - 3);
    const wire = toWire(xy, 1024);
    expect(Array.isArray(wire)).toBe(true);
    expect(Math.max(...wire.map((c) => onWire(c).byteLength))).toBeLessThanOrEqual(1024);
    const back = decodeFloat32(wire);
    expect(back).toBeInstanceOf(Float32Array);
    expect(Array.from(back)).toEqual(Array.from(xy));
    const idx = Uint32Array.from({ length: 700 }, (_, i) => 3 * i);
    expect(Array.from(decodeUint32(toWire(idx, 256)))).toEqual(Array.from(idx));
  });

  it('chunk boundaries need not fall on element boundaries of the whole', () => {
    // a Python chunk list may split a value across two chunks; joining first makes that harmless
    const v = new Float32Array([1.25, -7, 3e9]);
    const bytes = new Uint8Array(v.buffer);
    const parts = [bytes.slice(0, 5), bytes.slice(5, 7), bytes.slice(7)].map((b) => new DataView(b.buffer));
    expect(Array.from(decodeFloat32(parts))).toEqual([1.25, -7, 3e9]);
  });

  it('keeps one DataView (no copy) when the data fits', () => {
    const idx = new Uint32Array([1, 2, 3]);
    const wire = toWire(idx);
    expect(wire).toBeInstanceOf(DataView);
    expect(wire.buffer).toBe(idx.buffer);
    // a view into a bigger buffer is copied, so the wire carries only its own bytes
    const big = new Uint32Array(10);
    const sub = toWire(big.subarray(2, 4));
    expect(sub.byteLength).toBe(8);
    expect(onWire(sub).byteLength).toBe(8);
  });

  it('encodes large selections as chunks under the limit and decodes codes from chunks', () => {
    const sel = Uint32Array.from({ length: 5000 }, (_, i) => 4999 - i);
    const wire = encodeIndices(sel, 4096);
    expect(wire.length).toBe(5);
    for (const c of wire) expect(onWire(c).byteLength).toBeLessThanOrEqual(4096);
    const back = decodeUint32(wire);
    expect(back.length).toBe(5000);
    expect(back[0]).toBe(0);
    expect(back[4999]).toBe(4999);
    const codes = Uint16Array.from({ length: 300 }, (_, i) => i);
    const c = decodeCodes(chunkBytes(codes, 64), 300);
    expect(c).toBeInstanceOf(Uint16Array);
    expect(c[299]).toBe(299);
    expect(decodeCodes([new Uint8Array([1, 2]), new Uint8Array([3])], 3)).toEqual(new Uint8Array([1, 2, 3]));
  });
});
