/**
 * The browser files the collector serves: the snippet (producers/purechat/browser/snippet.js,
 * minified with terser once, on first use) and the demo page with its fake Pure Chat widget.
 */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { minify } from 'terser';

export const BROWSER_DIR = join(dirname(fileURLToPath(import.meta.url)), 'browser');

const JS = 'application/javascript; charset=utf-8';
const HTML = 'text/html; charset=utf-8';

export interface Asset {
  body: Buffer;
  contentType: string;
}

let snippet: Promise<Asset> | undefined;

/** The snippet, minified (cached for the life of the process). */
export function snippetAsset(): Promise<Asset> {
  snippet ??= (async () => {
    const source = await readFile(join(BROWSER_DIR, 'snippet.js'), 'utf8');
    const { code } = await minify(source, { compress: true, mangle: true, format: { comments: /^!/ } });
    if (!code) throw new Error('terser returned no code for snippet.js');
    return { body: Buffer.from(code), contentType: JS };
  })();
  snippet.catch(() => {
    snippet = undefined; // a failed read is retried on the next request
  });
  return snippet;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The demo page with its widget id and the collector's URL filled in. */
export async function demoPage(values: { widgetId: string; collector: string }): Promise<Asset> {
  const template = await readFile(join(BROWSER_DIR, 'demo', 'index.html'), 'utf8');
  const body = template
    .replaceAll('{{WIDGET_ID}}', escapeHtml(values.widgetId))
    .replaceAll('{{COLLECTOR}}', escapeHtml(values.collector));
  return { body: Buffer.from(body), contentType: HTML };
}

export async function demoWidget(): Promise<Asset> {
  return { body: await readFile(join(BROWSER_DIR, 'demo', 'widget.js')), contentType: JS };
}
