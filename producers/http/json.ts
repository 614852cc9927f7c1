/**
 * Parsing a request body as JSON, defensively: strict UTF-8, a nesting limit checked before
 * parsing (so a deep body cannot blow the stack), and no `__proto__` / `constructor` /
 * `prototype` keys anywhere. Each refusal is an HttpError 400 with its own code.
 */
import { HttpError } from './errors.ts';

export interface ParseJsonOptions {
  /** Deepest nesting of objects and arrays allowed; `{}` is depth 1. Default 64. */
  maxDepth?: number;
}

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b; // [
const OPEN_OBJECT = 0x7b; // {
const CLOSE_ARRAY = 0x5d; // ]
const CLOSE_OBJECT = 0x7d; // }
/** One decoder for every request: decoding without `stream` keeps no state between calls. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(raw: Buffer): string {
  try {
    return UTF8.decode(raw);
  } catch {
    throw new HttpError(400, 'INVALID_UTF8', 'The request body is not valid UTF-8');
  }
}

/** Whether the text holds more than `limit` opening brackets (native scans; usually it does not). */
function moreBracketsThan(text: string, limit: number): boolean {
  let n = 0;
  for (const bracket of ['{', '[']) {
    for (let i = text.indexOf(bracket); i >= 0; i = text.indexOf(bracket, i + 1))
      if (++n > limit) return true;
  }
  return false;
}

/**
 * Scans bracket depth outside strings; no recursion, whatever the input. A text with no more
 * opening brackets than the limit (in strings or not) cannot nest deeper: no scan.
 */
function checkDepth(text: string, maxDepth: number): void {
  if (!moreBracketsThan(text, maxDepth)) return;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > maxDepth)
        throw new HttpError(400, 'TOO_DEEP', `JSON nesting is deeper than ${maxDepth} levels`, {
          maxDepth,
          position: i,
        });
    } else if (c === CLOSE_ARRAY || c === CLOSE_OBJECT) depth--;
  }
}

function mayHoldForbiddenKey(text: string): boolean {
  return (
    text.includes('\\u') ||
    text.includes('__proto__') ||
    text.includes('constructor') ||
    text.includes('prototype')
  );
}

function refuseForbiddenKeys(key: string, value: unknown): unknown {
  if (FORBIDDEN_KEYS.has(key))
    throw new HttpError(400, 'FORBIDDEN_KEY', `The key "${key}" is not allowed`, { key });
  return value;
}

/** Where the parser stopped, from its message ("... at position 12 (line 1 column 13)"). */
function syntaxDetails(message: string): Record<string, number> | undefined {
  const position = /position (\d+)/.exec(message);
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (!position) return undefined;
  const details: Record<string, number> = { position: Number(position[1]) };
  if (lineColumn) [details.line, details.column] = [Number(lineColumn[1]), Number(lineColumn[2])];
  return details;
}

export function parseJsonBody(raw: Buffer, { maxDepth = 64 }: ParseJsonOptions = {}): unknown {
  const text = decodeUtf8(raw);
  if (text.trim() === '') throw new HttpError(400, 'EMPTY_BODY', 'The request body is empty');
  checkDepth(text, maxDepth);
  try {
    // JSON.parse defines keys as own properties, so even `__proto__` could not touch a
    // prototype; the reviver refuses such keys outright. It costs several times the parse, so
    // it runs only when one of the words occurs in the text, or any \u escape (which could
    // spell one, like "__pr\u006fto__").
    return mayHoldForbiddenKey(text) ? JSON.parse(text, refuseForbiddenKeys) : JSON.parse(text);
  } catch (error) {
    if (error instanceof HttpError) throw error;
    const message = (error as Error).message;
    throw new HttpError(
      400,
      'MALFORMED_JSON',
      `The request body is not valid JSON: ${message}`,
      syntaxDetails(message),
    );
  }
}
