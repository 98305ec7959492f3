import { main } from '../cli';
import { capture } from './fixtures';

const io = () => {
  const out = capture();
  const err = capture();
  return { out, err, io: { out: out.print, err: err.print } };
};

describe('cli', () => {
  it('prints usage without a command (exit 1) and with --help (exit 0)', () => {
    const a = io();
    expect(main([], a.io)).toBe(1);
    expect(a.out.lines.join('\n')).toMatch(/usage:\n {2}new-adapter NAME/);
    const b = io();
    expect(main(['check-boundaries', '--help'], b.io)).toBe(0);
  });

  it('rejects unknown commands, unknown options and missing values with usage', () => {
    for (const argv of [['frobnicate'], ['check-boundaries', '--fast'], ['api-report', '--out'], ['new-adapter'], ['new-adapter', 'a', 'b'], ['check-boundaries', 'extra']]) {
      const x = io();
      expect(main(argv, x.io)).toBe(1);
      expect(x.err.lines[0]).toMatch(/unknown|needs a value|takes/);
      expect(x.err.lines.join('\n')).toContain('usage:');
    }
  });

  it('reports a failing command without usage', () => {
    const x = io();
    expect(main(['new-adapter', 'x', '--root=/nonexistent-adapters-root'], x.io)).toBe(1);
    expect(x.err.lines).toEqual([`new-adapter: /nonexistent-adapters-root does not look like the adapters workspace (no packages/core-graph/package.json)`]);
  });
});
