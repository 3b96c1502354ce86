/**
 * What the pages' browser tests share: one headless Chromium per test file (playwright-core, the
 * machine's Chromium from `chromiumPath()`), pages at the two widths the docs show, an axe-core
 * accessibility scan, the page's own problems (script errors, console errors, CSP violations), and
 * screenshots written to `docs/img/<name>-<width>.png`.
 *
 * The tests are compiled without the DOM library: expressions run in the page are strings.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { chromiumPath } from '@swan/test-utils';

/** The Chromium to run, or undefined when the machine has none (the browser tests are skipped). */
export const browserPath = chromiumPath();

/** The widths every page is tested and pictured at: a phone and a laptop. */
export const WIDTHS = [390, 1280] as const;

const IMAGES = fileURLToPath(new URL('../../../docs/img/', import.meta.url));
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Launches headless Chromium with the flags every browser test uses. */
export function launchBrowser(): Promise<Browser> {
  if (!browserPath) throw new Error('no Chromium on this machine');
  return chromium.launch({
    executablePath: browserPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** A page and what went wrong in it that the test did not provoke. */
export interface WatchedPage {
  page: Page;
  /** Uncaught script errors and console errors or warnings, in order. */
  problems: string[];
  /** The Content-Security-Policy violations reported in the current document. */
  cspViolations(): Promise<string[]>;
  close(): Promise<void>;
}

/**
 * A new page (its own context: own storage) `width` pixels wide, recording script errors, console
 * errors and CSP violations. The CSP listener is injected through the DevTools protocol, so the
 * page's own policy does not apply to it.
 */
export async function openPage(browser: Browser, width: number): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
  await page.addInitScript(`window.__csp = [];
    document.addEventListener('securitypolicyviolation', function (e) { window.__csp.push(e.violatedDirective + ' ' + e.blockedURI); });`);
  return {
    page,
    problems,
    cspViolations: () => page.evaluate('window.__csp || []') as Promise<string[]>,
    close: () => context.close(),
  };
}

/** Problems other than Chromium's "Failed to load resource" line for an HTTP status the test provokes on purpose. */
export function unexpectedProblems(problems: readonly string[], statuses: RegExp): string[] {
  return problems.filter((p) => !new RegExp(`^console error: Failed to load resource: the server responded with a status of ${statuses.source} `).test(p));
}

/** One axe-core rule broken on the page, with the elements that break it (CSS selectors). */
export interface A11yViolation {
  id: string;
  impact: string;
  help: string;
  nodes: string[];
}

/**
 * Runs axe-core on the page as it is now and returns the violations of impact `serious` or
 * `critical`. axe is evaluated through the DevTools protocol, so the page's CSP does not block it.
 */
export async function scanA11y(page: Page): Promise<A11yViolation[]> {
  if (!(await page.evaluate("typeof window.axe === 'object'"))) await page.evaluate(AXE_SOURCE);
  return (await page.evaluate(`axe.run(document, { resultTypes: ['violations'] }).then(function (r) {
    return r.violations
      .filter(function (v) { return v.impact === 'serious' || v.impact === 'critical'; })
      .map(function (v) { return { id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(function (n) { return n.target.join(' '); }) }; });
  })`)) as A11yViolation[];
}

/**
 * Sets the page to `width` pixels and writes a full-page screenshot to
 * `docs/img/<name>-<width>.png`; returns the file's path.
 */
export async function screenshot(page: Page, name: string, width: number): Promise<string> {
  await page.setViewportSize({ width, height: page.viewportSize()?.height ?? 900 });
  mkdirSync(IMAGES, { recursive: true });
  const path = `${IMAGES}${name}-${width}.png`;
  await page.screenshot({ path, fullPage: true, animations: 'disabled', caret: 'hide' });
  return path;
}
