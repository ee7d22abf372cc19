// Named sets to the kernel in chunks: a named_sets update is one message holding every set, and the Jupyter
// server closes the websocket of any browser message over its limit (tornado's default: 10 MiB). The sets
// panel sends the whole new dict as a transfer instead: custom messages
//   { type: 'sets_chunk', id, seq, total, nbytes, sets: [[name, count], ...] }  (sets/nbytes on seq 0)
// each with one buffer: the sets' uint32 indices concatenated in the order of `sets`, cut into pieces of at most
// SET_CHUNK_BYTES. The kernel (modalchorus_widget/widget/set_transfer.py) reassembles them and answers
// sets_applied or sets_refused with the same id.
import { chunkBytes, joinChunks } from './buffers.js';

/** Bytes of indices per chunk message; the same as set_transfer.CHUNK_BYTES in Python. */
export const SET_CHUNK_BYTES = 4 * 1024 * 1024;

let counter = 0;
/** A transfer id unique within this page. */
export function transferId() {
  counter += 1;
  return `${Date.now().toString(36)}-${counter}`;
}

/** { name: uint32 bytes (DataView / typed array / chunk list) } -> the transfer's messages [{ content, buffer }]. */
export function packSets(sets, id, chunk = SET_CHUNK_BYTES) {
  const entries = Object.entries(sets || {}).map(([name, value]) => [name, joinChunks(value)]);
  for (const [name, bytes] of entries) {
    if (bytes.byteLength % 4 !== 0) throw new RangeError(`set "${name}": ${bytes.byteLength} bytes are not uint32 indices`);
  }
  const nbytes = entries.reduce((s, [, b]) => s + b.byteLength, 0);
  const flat = new Uint8Array(nbytes);
  let at = 0;
  for (const [, b] of entries) {
    flat.set(b, at);
    at += b.byteLength;
  }
  const parts = chunkBytes(flat, chunk);
  const total = parts.length;
  return parts.map((buffer, seq) => ({
    content: seq === 0
      ? { type: 'sets_chunk', id, seq, total, nbytes, sets: entries.map(([name, b]) => [name, b.byteLength / 4]) }
      : { type: 'sets_chunk', id, seq, total },
    buffer,
  }));
}

/** Send `sets` to the kernel as one transfer on `model`; returns its id. */
export function sendSets(model, sets, chunk = SET_CHUNK_BYTES) {
  const id = transferId();
  for (const { content, buffer } of packSets(sets, id, chunk)) model.send(content, undefined, [buffer]);
  return id;
}

/** The sets panel's edits on `model`: each edit builds on the last transfer the kernel has not answered yet
 * (not on the older trait value), so two quick edits both land. */
export function createSetEditor(model, chunk = SET_CHUNK_BYTES) {
  let pending = null;
  return {
    get pending() {
      return pending !== null;
    },
    /** edit(next) changes a copy of the sets; the copy is sent as one transfer, whose id is returned. */
    edit(edit) {
      const next = { ...(pending ? pending.sets : model.get('named_sets')) };
      edit(next);
      pending = { id: sendSets(model, next, chunk), sets: next };
      return pending.id;
    },
    /** The kernel's sets_applied / sets_refused answer -> the text to show ('' unless refused). */
    answer(msg) {
      if (pending && msg.id === pending.id) pending = null;
      return msg.type === 'sets_refused' ? `Sets not saved: ${msg.reason}` : '';
    },
  };
}
