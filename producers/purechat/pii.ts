/**
 * Visitor e-mail and phone handling, one rule for every Pure Chat record (events, visitor
 * state, transcripts): keep, hash with a secret key (HMAC-SHA256, hex, of a normalized value,
 * so equal addresses stay equal and can still be joined), or drop (null).
 */
import { createHmac } from 'node:crypto';
import type { PiiMode } from './config.ts';

export interface PiiPolicy {
  email: PiiMode;
  phone: PiiMode;
  /** Required when either mode is `hash`. */
  hashKey?: string;
}

export type PiiKind = 'email' | 'phone';

function normalize(kind: PiiKind, value: string): string {
  return kind === 'email' ? value.trim().toLowerCase() : value.replace(/\D+/g, '');
}

/** The value as the policy keeps it: itself, its keyed hash, or null. Non-strings pass through. */
export function applyPii<T>(policy: PiiPolicy, kind: PiiKind, value: T): T | string | null {
  const mode = policy[kind];
  if (mode === 'keep' || value === null || value === undefined) return value;
  if (mode === 'drop') return null;
  if (typeof value !== 'string') return null;
  if (!policy.hashKey) throw new Error('PII hashing needs a key');
  return createHmac('sha256', policy.hashKey).update(normalize(kind, value)).digest('hex');
}

/**
 * Which PII kind a key names, if any: any key whose letters contain "email" / "mail" or
 * "phone" / "mobile" (`email`, `visitor.email`, `visitorEmail`, `e-mail`, `phoneNumber`, …).
 */
export function piiKindOf(key: string): PiiKind | undefined {
  const name = key.toLowerCase().replace(/[^a-z]/g, '');
  if (name.includes('mail')) return 'email';
  if (name.includes('phone') || name.includes('mobile')) return 'phone';
  return undefined;
}

/**
 * A copy of an args / state object (nested objects and arrays too) with every PII key handled
 * by the policy; a value under a PII key that is not text (an object) is dropped unless kept.
 */
export function applyPiiToObject(
  policy: PiiPolicy,
  object: Record<string, unknown>,
): Record<string, unknown> {
  if (policy.email === 'keep' && policy.phone === 'keep') return object;
  return walk(policy, object, 0) as Record<string, unknown>;
}

const MAX_DEPTH = 64;

function walk(policy: PiiPolicy, value: unknown, depth: number): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return '[nested too deep]'; // cannot be checked: not kept
  if (Array.isArray(value)) return value.map((item) => walk(policy, item, depth + 1));
  // No prototype: a "__proto__" key (possible in a refused body) stays a plain key.
  const out: Record<string, unknown> = Object.create(null);
  for (const [key, item] of Object.entries(value)) {
    const kind = piiKindOf(key);
    if (!kind) out[key] = walk(policy, item, depth + 1);
    else if (typeof item === 'object' && item !== null) out[key] = policy[kind] === 'keep' ? item : null;
    else out[key] = applyPii(policy, kind, item);
  }
  return out;
}

/** A refused body's JSON with the policy applied, as text; undefined when it is not JSON. */
export function scrubJsonText(policy: PiiPolicy, raw: Buffer): string | undefined {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(raw));
    return JSON.stringify(walk(policy, parsed, 0));
  } catch {
    return undefined; // not text, not JSON, or nested too deep to write back: size and hash only
  }
}
