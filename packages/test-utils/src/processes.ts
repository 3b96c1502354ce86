import type { ChildProcess } from 'node:child_process';

/** Kills a child process with SIGKILL (a crash, not a shutdown) and resolves once it has exited. */
export async function killProcess(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
