import { describe, expect, it } from 'vitest';
import { startProgress, type CliIo } from '@swan/cli';

function capture(isTTY: boolean) {
  let err = '';
  const io: CliIo = { stdout: () => undefined, stderr: (t) => (err += t), env: {}, isTTY, columns: 80 };
  return { io, err: () => err };
}

describe('progress', () => {
  it('writes one JSON line per step when stderr is not a terminal, never a carriage return', () => {
    const c = capture(false);
    const p = startProgress(c.io, 'keys rotate', 'data keys');
    for (const done of [0, 120, 250, 500]) p.update({ done, total: 500 });
    p.end();
    expect(c.err()).not.toContain('\r');
    expect(c.err().trimEnd().split('\n').map((l) => JSON.parse(l))).toEqual([
      { event: 'progress', command: 'keys rotate', done: 0, total: 500 },
      { event: 'progress', command: 'keys rotate', done: 120, total: 500 },
      { event: 'progress', command: 'keys rotate', done: 250, total: 500 },
      { event: 'progress', command: 'keys rotate', done: 500, total: 500 },
    ]);
  });

  it('writes at most one line per whole percent, and the last step once', () => {
    const c = capture(false);
    const p = startProgress(c.io, 'legacy split', 'rows');
    for (let done = 0; done <= 100_000; done++) p.update({ done, total: 100_000 });
    p.update({ done: 100_000, total: 100_000 });
    const lines = c.err().trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(101);
    expect(lines.at(-1)).toEqual({ event: 'progress', command: 'legacy split', done: 100_000, total: 100_000 });
  });

  it('reports an empty job as done', () => {
    const c = capture(false);
    const p = startProgress(c.io, 'audit verify', 'entries');
    p.update({ done: 0, total: 0 });
    expect(JSON.parse(c.err())).toEqual({ event: 'progress', command: 'audit verify', done: 0, total: 0 });
  });

  it('draws a bar redrawn in place on a terminal and ends its line', () => {
    const c = capture(true);
    const p = startProgress(c.io, 'keys rotate', 'data keys');
    p.update({ done: 0, total: 4 });
    p.update({ done: 2, total: 4 });
    p.update({ done: 4, total: 4 });
    p.end();
    const frames = c.err().split('\r').filter(Boolean);
    expect(frames).toHaveLength(3);
    expect(frames[1]).toMatch(/^keys rotate \[#+\.+\] 2\/4 data keys$/);
    expect(frames[2]).toMatch(/^keys rotate \[#+\] 4\/4 data keys\n$/);
    expect(c.err()).not.toContain('{');
    // the bar fits the terminal
    for (const f of frames) expect(f.trimEnd().length).toBeLessThanOrEqual(80);
  });
});
