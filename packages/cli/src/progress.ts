import type { CliIo } from './command.js';

/** A progress step as the library functions report it. */
export interface ProgressStep {
  done: number;
  total: number;
}

/** Shows the progress of one long command; {@link startProgress} makes one. */
export interface Progress {
  /** Reports a step; the bar or the JSON lines are only written when the shown value changes. */
  update(step: ProgressStep): void;
  /** Ends the bar's line (a no-op for JSON lines and when nothing was drawn). */
  end(): void;
}

/**
 * Progress of a long command on stderr. On a terminal (`io.isTTY`): one bar redrawn in place with
 * `\r`, e.g. `keys rotate [########......] 120/500 data keys`. Otherwise one JSON object a line,
 * `{"event":"progress","command":"keys rotate","done":120,"total":500}`, and never a `\r`.
 * At most one line per whole percent (plus the first and last step), so a million rows do not
 * flood a log.
 *
 * Hand-written rather than cli-progress: one bar, no terminal control beyond the carriage
 * return, and the same code must write JSON lines into the injected `io` of tests and logs.
 *
 * @example
 * ```ts
 * const progress = startProgress(io, 'keys rotate', 'data keys');
 * await rotateKeys(db, keys, { onProgress: (p) => progress.update(p) });
 * progress.end();
 * ```
 */
export function startProgress(io: CliIo, command: string, unit: string): Progress {
  let lastPercent = -1;
  let ended = false;
  let drawn = false;
  return {
    update({ done, total }) {
      const last = done >= total;
      const percent = last ? 100 : Math.floor((done / total) * 100);
      // the first step, each new whole percent, and the last step once
      if (last ? ended : percent === lastPercent) return;
      lastPercent = percent;
      ended = last;
      if (!io.isTTY) {
        io.stderr(`${JSON.stringify({ event: 'progress', command, done, total })}\n`);
        return;
      }
      const label = `${command} `;
      const counts = ` ${done}/${total} ${unit}`;
      const width = Math.max(10, Math.min(40, (io.columns ?? 80) - label.length - counts.length - 3));
      const filled = Math.round((percent / 100) * width);
      io.stderr(`\r${label}[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]${counts}`);
      drawn = true;
    },
    end() {
      if (drawn) io.stderr('\n');
      drawn = false;
    },
  };
}
