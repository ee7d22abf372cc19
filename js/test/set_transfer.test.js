import { describe, expect, it } from 'vitest';
import { encodeIndices, joinChunks } from '../src/buffers.js';
import { SET_CHUNK_BYTES, createSetEditor, packSets, sendSets, transferId } from '../src/set_transfer.js';

const WS_LIMIT = 10 * 1024 * 1024; // tornado's default websocket_max_message_size
// the bytes one custom message puts on the websocket: its JSON plus its buffer (the buffer's whole ArrayBuffer)
const messageBytes = ({ content, buffer }) => JSON.stringify(content).length + buffer.buffer.byteLength;

// element-wise equality of two index arrays (toEqual on millions of elements is slow)
const plain = (sets) => Object.fromEntries(Object.entries(sets).map(([k, v]) => [k, Array.from(v)]));
const same = (x, y) => x.length === y.length && x.every((v, i) => v === y[i]);

// what the kernel does (modalchorus_widget/widget/set_transfer.py), for checking the round trip
function reassemble(messages) {
  const head = messages[0].content;
  const flat = joinChunks(messages.map((m) => m.buffer));
  expect(flat.byteLength).toBe(head.nbytes);
  const all = new Uint32Array(flat.buffer, flat.byteOffset, flat.byteLength / 4);
  const out = {};
  let at = 0;
  for (const [name, count] of head.sets) {
    out[name] = all.subarray(at, at + count);
    at += count;
  }
  return out;
}

describe('named-sets transfer', () => {
  it('uses the same 4 MiB chunk as the Python side', () => {
    expect(SET_CHUNK_BYTES).toBe(4 * 1024 * 1024);
  });

  it('cuts sets over the websocket limit into ordered chunks under it that reassemble exactly', () => {
    const a = Uint32Array.from({ length: 2_000_000 }, (_, i) => i);
    const b = Uint32Array.from({ length: 1_500_000 }, (_, i) => 3 * i + 1);
    const sets = { all: encodeIndices(a), thirds: encodeIndices(b), empty: encodeIndices([]) };
    const msgs = packSets(sets, 'x1');
    const nbytes = 4 * (a.length + b.length);
    expect(nbytes).toBeGreaterThan(WS_LIMIT);
    expect(msgs.length).toBe(Math.ceil(nbytes / SET_CHUNK_BYTES));
    msgs.forEach((m, seq) => {
      expect(m.content).toMatchObject({ type: 'sets_chunk', id: 'x1', seq, total: msgs.length });
      expect(m.buffer.byteLength).toBeLessThanOrEqual(SET_CHUNK_BYTES);
      expect(m.buffer.buffer.byteLength).toBe(m.buffer.byteLength); // no neighbour bytes ride along
      expect(messageBytes(m)).toBeLessThan(WS_LIMIT / 2);
    });
    expect(msgs[0].content.sets).toEqual([['all', a.length], ['thirds', b.length], ['empty', 0]]);
    expect(msgs[0].content.nbytes).toBe(nbytes);
    expect(msgs[1].content.sets).toBeUndefined();
    const back = reassemble(msgs);
    expect(same(back.all, a)).toBe(true);
    expect(same(back.thirds, b)).toBe(true);
    expect(back.empty.length).toBe(0);
  });

  it('sends no sets as one empty chunk, and refuses bytes that are not uint32', () => {
    const msgs = packSets({}, 'e');
    expect(msgs.length).toBe(1);
    expect(msgs[0].content).toEqual({ type: 'sets_chunk', id: 'e', seq: 0, total: 1, nbytes: 0, sets: [] });
    expect(msgs[0].buffer.byteLength).toBe(0);
    expect(() => packSets({ bad: new Uint8Array(6) }, 'b')).toThrow(/not uint32/);
  });

  it('gives every transfer its own id and sends each chunk with its one buffer', () => {
    expect(transferId()).not.toBe(transferId());
    const sent = [];
    const model = { send: (content, callbacks, buffers) => sent.push({ content, buffers }) };
    const id = sendSets(model, { s: encodeIndices([5, 1, 3]) }, 8);
    expect(sent.map((m) => m.content.seq)).toEqual([0, 1]);
    expect(sent.every((m) => m.content.id === id && m.buffers.length === 1)).toBe(true);
    expect(plain(reassemble(sent.map((m) => ({ content: m.content, buffer: m.buffers[0] }))))).toEqual({ s: [1, 3, 5] });
  });
});

describe('set editor', () => {
  it('builds a second edit on the first one the kernel has not answered yet, and says why one was refused', () => {
    const sent = [];
    const model = { get: () => ({ old: encodeIndices([9]) }), send: (content, _cb, buffers) => sent.push({ content, buffer: buffers[0] }) };
    const editor = createSetEditor(model);
    const first = editor.edit((next) => { next.first = encodeIndices([2, 1]); });
    const second = editor.edit((next) => { next.second = encodeIndices([7]); });
    expect(first).not.toBe(second);
    expect(plain(reassemble(sent.filter((m) => m.content.id === first)))).toEqual({ old: [9], first: [1, 2] });
    expect(plain(reassemble(sent.filter((m) => m.content.id === second)))).toEqual({ old: [9], first: [1, 2], second: [7] });
    expect(editor.answer({ type: 'sets_applied', id: first })).toBe('');
    expect(editor.pending).toBe(true); // the second is still on its way
    expect(editor.answer({ type: 'sets_refused', id: second, reason: 'index 7 out of range' })).toBe(
      'Sets not saved: index 7 out of range',
    );
    expect(editor.pending).toBe(false);
    // answered: the next edit builds on the model's value again
    editor.edit((next) => { delete next.old; });
    expect(plain(reassemble(sent.slice(-1)))).toEqual({});
  });
});
