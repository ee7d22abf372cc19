// The Suspects panel's pure part (ui/suspects_panel.js): the Python line of each action. The panel's DOM is
// tested in a real browser (tests/e2e/test_suspects.py).
import { describe, expect, it } from 'vitest';
import { suspectLine } from '../src/ui/suspects_panel.js';

describe('suspectLine', () => {
  it('writes the cell that does what the panel did', () => {
    expect(suspectLine('select', 2)).toBe('w.selected = w.suspects.rows[2]');
    expect(suspectLine('save', 0, 'odd "one"')).toBe('w.sets["odd \\"one\\""] = w.suspects.rows[0]');
    expect(suspectLine('fix', 1)).toBe('w.align(w.suspects.suggestion[1])');
    expect(suspectLine('fix', 1, 'a red square', 'a red square')).toBe('w.align(w.suspects.suggestion[1])');
    // an edited anchor: the line is what the kernel runs for it
    expect(suspectLine('fix', 1, 'a red circle', 'a red square')).toBe('w.align(w.suspect_constraint(1, "a red circle"))');
    expect(suspectLine('axis', 3)).toBe('w.concept_axis(*([c] for c in w.suspects.evidence[3]["concepts"]))');
    expect(suspectLine('probe', 0)).toBe('w.probe()');
  });
});
