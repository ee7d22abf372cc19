import { describe, expect, it } from 'vitest';
import { formatValue, reportRows, statusText } from '../src/format.js';

describe('report values', () => {
  it('formats numbers, lists and dicts briefly', () => {
    expect(formatValue(60)).toBe('60');
    expect(formatValue(0.12345)).toBe('0.123');
    expect(formatValue(-9.99951)).toBe('-10.000');
    expect(formatValue(123.456)).toBe('123.5');
    expect(formatValue([1, 0.5])).toBe('1, 0.500');
    expect(formatValue([1, 2, 3, 4, 5, 6, 7])).toBe('(7 values)');
    expect(formatValue({ a: 1 })).toBe('{"a":1}');
    expect(formatValue({ a: 1, b: 2, c: 3, d: 4, e: 5 })).toBe('(5 entries)');
    expect(formatValue(null)).toBe('');
    expect(formatValue(undefined)).toBe('');
    expect(formatValue('satisfied')).toBe('satisfied');
    expect(formatValue(true)).toBe('true');
  });
});

describe('alignment report rows', () => {
  it('pairs _before/_after keys and summarises long arrays', () => {
    const rows = reportRows({ zero_shot_acc_before: 0.5, zero_shot_acc_after: 0.75, steps: 60, curve: [1, 2, 3, 4, 5, 6, 7],
      recall: { before: 0.1, after: 0.2 } });
    expect(rows).toEqual([
      { name: 'zero_shot_acc', before: '0.500', after: '0.750' },
      { name: 'steps', single: '60' },
      { name: 'curve', single: '(7 values)' },
      { name: 'recall', before: '0.100', after: '0.200' },
    ]);
  });

  it('keeps the order of first appearance and tolerates a missing half', () => {
    const rows = reportRows({ loss_after: 0.25, stop: 'validation', loss_before: 1 });
    expect(rows).toEqual([{ name: 'loss', before: '1', after: '0.250' }, { name: 'stop', single: 'validation' }]);
    expect(reportRows({ acc_before: 0.5 })).toEqual([{ name: 'acc', before: '0.500', after: '' }]);
    expect(reportRows({})).toEqual([]);
  });
});

describe('status line', () => {
  it('counts the selection per modality with plurals', () => {
    const text = statusText({ n: 1200, names: ['image', 'text'], counts: [1, 3], selected: 4, method: 'MFM', extra: 'alignment rounds: 1' });
    expect(text).toBe(`${(1200).toLocaleString()} points \u00b7 MFM \u00b7 selected: 1 image, 3 texts \u00b7 alignment rounds: 1`);
  });

  it('says when the points are a sample and falls back to a plain count', () => {
    expect(statusText({ n: 300, sampled: true, selected: 7 })).toBe('300 points shown (sampled) \u00b7 selected: 7');
    expect(statusText({ n: 0, names: ['image'], counts: [0] })).toBe('0 points \u00b7 selected: 0 images');
  });
});
