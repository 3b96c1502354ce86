import { describe, expect, it } from 'vitest';
import { isSwanError } from '@swan/core';
import { EXPORT_HTML_HEADERS, exportFormatOf, renderExportHtml } from '@swan/pii';

const hostile = `"><script>alert(1)</script><img src=x onerror=alert(2)>'&`;

const doc = {
  exportedAt: '2026-01-02T03:04:05.000Z',
  clientId: '6f1c9a52-3e0b-4d7a-9c61-2b8e5d4f7a10',
  alias: 'Nebula Swan',
  createdAt: '2025-11-04T09:00:00.000Z',
  deletedAt: null,
  pii: { full_name: hostile, emergency_contact: { name: 'Kin', phone: '+12025550123' }, address: null },
  training: null,
  accessLog: [{ id: 1, action: 'PII_READ', actor_role: 'admin', reason: hostile }],
  restrictions: [],
  consents: [{ consentType: 'ai_processing', fullText: 'Text\nwith lines', active: true }],
  masterPrompts: [{ version: 1, document: { client_profile: { basic_info: { age: 41, notes: hostile } } } }],
  subscriptions: [{ tier: 'tier_2', monthly_price_usd: '125.00' }],
  checkins: { schedules: [], contact: null, messages: [], responses: [{ body: hostile }] },
  [`<b>${hostile}`]: [hostile, 42],
};

describe('the HTML data-subject export', () => {
  it('renders every section with a heading, escapes every key and value, and has no script or external resource', () => {
    const html = renderExportHtml(doc);
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    for (const [section, heading] of [
      ['pii', 'Personal data'], ['training', 'Training data'], ['consents', 'Consents'], ['masterPrompts', 'Master prompts'],
      ['subscriptions', 'Subscriptions'], ['checkins', 'Check-ins'], ['accessLog', 'Access log'], ['restrictions', 'Restrictions of processing'],
    ]) {
      expect(html).toContain(`data-section="${section}"`);
      expect(html).toContain(`<h2>${heading} <small>(${section})</small></h2>`);
    }
    // the top-level facts in the summary, not as sections
    expect(html).toContain('<th scope="row">clientId</th><td>6f1c9a52-3e0b-4d7a-9c61-2b8e5d4f7a10</td>');
    expect(html).not.toContain('data-section="deletedAt"');
    expect(html).toContain('<title>Data-subject export Nebula Swan</title>');
    // nothing of the hostile text survives unescaped, in values or keys
    expect(html).not.toMatch(/<script|<img|onerror=alert\(2\)>|<b>/i);
    expect(html).toContain('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;&#39;&amp;');
    // four values, the odd key in its heading (title and key), its data-section attribute, and its list's item
    expect(html.split('&lt;script&gt;alert(1)').length - 1).toBe(8);
    expect(html.replace(/="[^"]*"/g, "=\"\"")).not.toMatch(/<[a-z][^>]*\s(src|href|on[a-z]+)=/i);
    // an empty list and an absent part say so; a deep structure is indented JSON
    expect(html).toMatch(/data-section="restrictions"><h2>[^]*?<\/h2><p class="empty">none<\/p>/);
    expect(html).toMatch(/data-section="training"><h2>[^]*?<\/h2><p class="empty">no data<\/p>/);
    expect(html).toContain('<pre>{\n  &quot;basic_info&quot;: {');
    // a part made of lists gets a subheading per list
    expect(html).toContain('<h3>responses</h3>');
    expect(html).toContain('@media print');
  });

  it('is served under a CSP that allows its inline style and nothing else', () => {
    expect(EXPORT_HTML_HEADERS['Content-Security-Policy']).toMatch(/^default-src 'none'; style-src 'unsafe-inline'/);
    expect(EXPORT_HTML_HEADERS['Content-Security-Policy']).not.toMatch(/script-src/);
  });

  it('accepts json (the default) and html as the format; anything else is VALIDATION_FAILED', () => {
    expect(exportFormatOf(undefined)).toBe('json');
    expect(exportFormatOf('json')).toBe('json');
    expect(exportFormatOf('html')).toBe('html');
    for (const bad of ['xml', 'HTML', '', ['html'], 1]) {
      let caught: unknown;
      try {
        exportFormatOf(bad);
      } catch (e) {
        caught = e;
      }
      expect(isSwanError(caught) && caught.code, String(bad)).toBe('VALIDATION_FAILED');
    }
  });
});
