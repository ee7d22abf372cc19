// Pure parts of the augmentation panel: texts from the box, file checks before anything is read, the Python line.
import { describe, expect, it } from 'vitest';
import { augmentLine, checkFiles, MAX_FILE_BYTES, parseTexts } from '../src/ui/augment_panel.js';

describe('parseTexts', () => {
  it('gives one trimmed text per non-empty line', () => {
    expect(parseTexts('  a red square \n\n\r\na photo of the digit 7\r\n   ')).toEqual(['a red square', 'a photo of the digit 7']);
    expect(parseTexts('')).toEqual([]);
    expect(parseTexts(undefined)).toEqual([]);
  });
});

describe('checkFiles', () => {
  const png = (name, size = 100, type = 'image/png') => ({ name, size, type });
  it('keeps PNG and JPEG files, by type or (without one) by name', () => {
    const { ok, errors } = checkFiles([png('a.png'), png('b.jpg', 5, 'image/jpeg'), png('c.JPEG', 5, '')]);
    expect(ok.map((f) => f.name)).toEqual(['a.png', 'b.jpg', 'c.JPEG']);
    expect(errors).toEqual([]);
  });
  it('refuses other types, files over the size cap and files over the count cap, naming each', () => {
    const { ok, errors } = checkFiles(
      [png('notes.txt', 10, 'text/plain'), png('huge.png', MAX_FILE_BYTES + 1), png('1.png'), png('2.png'), png('3.png')],
      { maxFiles: 2 },
    );
    expect(ok.map((f) => f.name)).toEqual(['1.png', '2.png']);
    expect(errors).toHaveLength(3);
    expect(errors[0]).toMatch(/^notes\.txt: not a PNG or JPEG/);
    expect(errors[1]).toMatch(/^huge\.png: 8\.0 MiB is over the 8 MiB limit/);
    expect(errors[2]).toMatch(/^3\.png: at most 2 files/);
  });
});

describe('augmentLine', () => {
  it('writes the cell that does the same add', () => {
    expect(augmentLine({ names: ['cat.png', 'a "b".jpg'], texts: ['a red square'], setName: 'extras' }))
      .toBe('w.augment(images=["cat.png", "a \\"b\\".jpg"], texts=["a red square"], set_name="extras")');
    expect(augmentLine({ texts: ['x'] })).toBe('w.augment(texts=["x"], set_name="augmented")');
  });
});
