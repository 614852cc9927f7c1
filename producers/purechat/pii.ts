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

/** Which PII kind an argument or state key holds (`email`, `visitor.email`, `phoneNumber`, …), if any. */
export function piiKindOf(key: string): PiiKind | undefined {
  const name = key.slice(key.lastIndexOf('.') + 1).toLowerCase();
  if (name === 'email' || name === 'emailaddress') return 'email';
  if (name === 'phone' || name === 'phonenumber') return 'phone';
  return undefined;
}

/** A shallow copy of an args / state object with every PII key handled by the policy. */
export function applyPiiToObject(
  policy: PiiPolicy,
  object: Record<string, unknown>,
): Record<string, unknown> {
  if (policy.email === 'keep' && policy.phone === 'keep') return object;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) {
    const kind = piiKindOf(key);
    out[key] = kind ? applyPii(policy, kind, value) : value;
  }
  return out;
}
