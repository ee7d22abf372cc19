// The browser's side of the one protocol (src/protocol.js) against the real declaration: protocol.json is
// widget/protocol.py's schema() (tests/test_protocol.py keeps the two equal).
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkMessage, createProtocol } from '../src/protocol.js';
import schema from './protocol.json';

const fakeModel = () => {
  const sent = [];
  return { sent, get: (k) => (k === '_protocol' ? schema : undefined), send: (msg, cb, buffers) => sent.push({ msg, buffers }) };
};

describe('checkMessage', () => {
  it('accepts what the declaration allows, each way', () => {
    expect(checkMessage(schema, { type: 'hover', index: 3 }, [], 'kernel')).toBeNull();
    expect(checkMessage(schema, { type: 'sets_chunk', id: 't', seq: 0, total: 1, nbytes: 4, sets: [['a', 1]] }, [new Uint8Array(4)], 'kernel')).toBeNull();
    expect(checkMessage(schema, { type: 'round_trails', round: 1, count: 2, shift: [0, 0], spread: 0.5 }, [1, 2, 3], 'browser')).toBeNull();
    // optional fields may be absent or null; an open kind takes extra fields
    expect(checkMessage(schema, { type: 'search', query: 'x', error: 'no encoder' }, [], 'browser')).toBeNull();
    expect(checkMessage(schema, { type: 'tooltip', index: 1, has_image: false, text: null, extra: 'x' }, [], 'browser')).toBeNull();
  });

  it('says why a message is refused', () => {
    expect(checkMessage(schema, { type: 'rm -rf' }, [], 'kernel')).toMatch(/unknown message kind/);
    expect(checkMessage(schema, { type: 'ack_selected', count: 1 }, [], 'kernel')).toMatch(/unknown message kind/); // wrong way
    expect(checkMessage(schema, { type: 'toString' }, [], 'kernel')).toMatch(/unknown message kind/);
    expect(checkMessage(schema, ['hover'], [], 'kernel')).toMatch(/not a mapping/);
    expect(checkMessage(schema, { type: 'hover', index: '3' }, [], 'kernel')).toMatch(/'index' is not int/);
    expect(checkMessage(schema, { type: 'hover', index: 1.5 }, [], 'kernel')).toMatch(/'index' is not int/);
    expect(checkMessage(schema, { type: 'hover' }, [], 'kernel')).toMatch(/without its field 'index'/);
    expect(checkMessage(schema, { type: 'hover', index: 1, extra: 2 }, [], 'kernel')).toMatch(/does not declare: extra/);
    expect(checkMessage(schema, { type: 'round_trails', round: 1, count: 2, shift: [0, 0], spread: 0.5 }, [1], 'browser')).toMatch(/1 binary buffers; it carries 3 to 3/);
    expect(checkMessage(schema, { type: 'round_trails', round: 1, count: 2, shift: [0, 0], spread: NaN }, [1, 2, 3], 'browser')).toMatch(/'spread' is not number/);
  });
});

describe('createProtocol', () => {
  it('dispatches checked kernel messages to the handlers of their kind, and refuses the rest with a warning', () => {
    const warnings = [];
    const p = createProtocol(fakeModel(), { warn: (t) => warnings.push(t) });
    const got = [];
    const off = p.on('tooltip_reset', (msg) => got.push(['a', msg.type]));
    p.on('tooltip_reset', (msg) => got.push(['b', msg.type]));
    expect(p.dispatch({ type: 'tooltip_reset' }, [])).toBe(true);
    expect(got).toEqual([['a', 'tooltip_reset'], ['b', 'tooltip_reset']]);
    off();
    p.dispatch({ type: 'tooltip_reset' }, []);
    expect(got.length).toBe(3);
    // declared but nobody listens (a ScatterWidget has no gallery): not an error, nothing happens
    expect(p.dispatch({ type: 'round_drawn', round: 1 }, [])).toBe(false);
    expect(warnings).toEqual([]);
    expect(p.dispatch({ type: 'tooltip_reset', junk: 1 }, [])).toBe(false);
    expect(p.dispatch({ type: 'nope' }, [])).toBe(false);
    expect(p.dispatch(null, [])).toBe(false);
    expect(warnings.length).toBe(3);
    expect(got.length).toBe(3);
  });

  it('refuses to listen to a kind the kernel never sends', () => {
    const p = createProtocol(fakeModel());
    expect(() => p.on('hover', () => {})).toThrow(/not a kernel -> browser message/);
    expect(() => p.on('constructor', () => {})).toThrow(/not a kernel -> browser message/);
  });

  it('sends only declared messages, with their buffers', () => {
    const model = fakeModel();
    const p = createProtocol(model);
    const buf = new Uint8Array(8);
    p.send('sets_chunk', { id: 'x', seq: 0, total: 1, nbytes: 8, sets: [['a', 2]] }, [buf]);
    p.send('undo');
    expect(model.sent).toEqual([
      { msg: { type: 'sets_chunk', id: 'x', seq: 0, total: 1, nbytes: 8, sets: [['a', 2]] }, buffers: [buf] },
      { msg: { type: 'undo' }, buffers: undefined },
    ]);
    expect(() => p.send('goto', { k: 'one' })).toThrow(/'k' is not int/);
    expect(() => p.send('tooltip', { index: 1, has_image: false })).toThrow(/unknown message kind/);
    expect(model.sent.length).toBe(2);
  });
});

describe('the front end uses only declared kinds', () => {
  const src = join(dirname(fileURLToPath(import.meta.url)), '../src');
  const files = [...readdirSync(src).filter((f) => f.endsWith('.js')).map((f) => join(src, f)),
    ...readdirSync(join(src, 'ui')).filter((f) => f.endsWith('.js')).map((f) => join(src, 'ui', f))];
  // the code, without its comments (which show the calls with placeholder kinds)
  const text = files.map((f) => readFileSync(f, 'utf8')).join('\n').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const found = (re) => [...text.matchAll(re)].map((m) => m[1]);

  it('listens only to kernel -> browser kinds', () => {
    const kinds = found(/ctrl\.on\('(\w+)'/g);
    expect(kinds.length).toBeGreaterThan(10);
    for (const k of kinds) expect(Object.keys(schema.messages.browser), k).toContain(k);
  });

  it('sends only browser -> kernel kinds', () => {
    const kinds = [...found(/ctrl\.send\('(\w+)'/g), ...found(/send\(\{ type: '(\w+)'/g), ...found(/type: '(sets_chunk)'/g)];
    expect(kinds.length).toBeGreaterThan(5);
    for (const k of kinds) expect(Object.keys(schema.messages.kernel), k).toContain(k);
  });
});
