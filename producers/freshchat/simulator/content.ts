/**
 * What people write: names, message texts (some Korean, some emoji, one with a comma, quotes
 * and a line break), and `message_parts` drawn from the part kinds of SOURCES.md's table.
 */
import type { Rng } from './random.ts';
import type { ActorType, MessagePart } from './types.ts';

export const FIRST_NAMES = [
  'Jane',
  'Denise',
  'Govind',
  'Amara',
  'Lukas',
  'Sofia',
  'Mateo',
  'Yuki',
  'Olivia',
  'Noah',
  '민준',
  '서연',
  'Chloé',
  'Søren',
  'Aisha',
  'Diego',
  'Priya',
  'Kwame',
  'Ingrid',
  'Tomás',
] as const;

export const LAST_NAMES = [
  'Doe',
  'Patel',
  'Okafor',
  'Schmidt',
  'García',
  'Tanaka',
  'Smith',
  'Kim',
  'Rossi',
  'Nguyen',
  '김',
  '이',
  "O'Brien",
  'Dubois',
  'Andersen',
  'Haddad',
  'Silva',
  'Mensah',
] as const;

/** The first message of the first conversation: a CSV field that needs quoting. */
export const TRICKY_TEXT = 'Hi, I ordered the "Pro" plan,\nbut I was charged twice 😕';

const USER_TEXTS = [
  "Hi, I can't log in to my account",
  'Where is my order #1242?',
  '안녕하세요, 주문 상태를 확인하고 싶어요',
  'Thanks! 🙏',
  'The app crashes when I upload a photo 📷',
  'Can I change my plan to annual billing?',
  '환불 요청합니다 💸',
  'Is there a discount for students?',
  'ok',
  'That worked, thank you so much 😊',
  '배송이 언제 도착하나요? 🚚',
  'I still see the old invoice, any idea why?',
];

const AGENT_TEXTS = [
  'Hi there! How can I help?',
  'Let me check that for you.',
  "I've reset your password, please try again.",
  '감사합니다! 좋은 하루 되세요 😊',
  'Could you share a screenshot of the error?',
  'Your refund of $49.00 has been issued, it takes 3–5 business days.',
  'I have escalated this to our billing team 🧾',
  'Is there anything else I can help you with?',
];

const PRIVATE_NOTES = ['Customer is on the legacy plan, check with billing', 'VIP: answer within 1h ⚡'];

const SYSTEM_TEXTS = ['Hi! 👋 Our team typically replies in a few minutes.', 'Choose a topic to get started'];

export function userText(rng: Rng): string {
  return rng.pick(USER_TEXTS);
}

export function systemText(rng: Rng): string {
  return rng.pick(SYSTEM_TEXTS);
}

export function agentText(rng: Rng, isPrivate = false): string {
  return rng.pick(isPrivate ? PRIVATE_NOTES : AGENT_TEXTS);
}

const text = (content: string): MessagePart => ({ text: { content } });

const quickReply = (rng: Rng, label: string): MessagePart => ({
  quick_reply_button: { label, custom_reply_text: label, payload: `qr_${rng.hex(8)}` },
});

/** One part of a kind other than text; `imageHost` makes the URLs look like the account's CDN. */
function richPart(rng: Rng, kind: string): MessagePart {
  switch (kind) {
    case 'image':
      return { image: { url: `https://cdn.freshchat.example/img/${rng.hex(24)}.png` } };
    case 'url_button':
      return {
        url_button: {
          url: `https://help.example.com/articles/${rng.int(100, 999)}`,
          label: 'Read the article',
          target: rng.pick(['_self', '_blank']),
        },
      };
    case 'quick_reply_button':
      return quickReply(rng, rng.pick(['Billing', 'Technical issue', '배송 문의']));
    case 'collection':
      return { collection: { sub_parts: [quickReply(rng, 'Yes 👍'), quickReply(rng, 'No')] } };
    case 'callback':
      return {
        callback: { label: '👍 upvote', payload: JSON.stringify({ id: rng.uuid(), vote: '1' }) },
      };
    case 'reference':
      return { reference: { label: 'Order #1242', reference_id: rng.uuid() } };
    default:
      return {
        template_content: {
          type: rng.pick(['carousel', 'carousel_card_default', 'quick_reply_dropdown']),
          sections: [
            { name: 'title', parts: [text('Pick a plan')] },
            { name: 'buttons', parts: [quickReply(rng, 'Basic'), quickReply(rng, 'Pro')] },
          ],
        },
      };
  }
}

const AGENT_KINDS: [string, number][] = [
  ['text', 70],
  ['image', 5],
  ['url_button', 5],
  ['quick_reply_button', 4],
  ['collection', 4],
  ['callback', 3],
  ['reference', 4],
  ['template_content', 5],
];

const USER_KINDS: [string, number][] = [
  ['text', 86],
  ['image', 10],
  ['callback', 4],
];

/**
 * The parts of one message: mostly a single text, sometimes a rich part, and sometimes a text
 * followed by a rich part.
 */
export function messageParts(rng: Rng, actor: ActorType, content: string): MessagePart[] {
  if (actor === 'system')
    return rng.chance(0.5) ? [text(content)] : [text(content), richPart(rng, 'collection')];
  const kind = rng.weighted(actor === 'user' ? USER_KINDS : AGENT_KINDS);
  if (kind === 'text') return [text(content)];
  return rng.chance(0.5) ? [richPart(rng, kind)] : [text(content), richPart(rng, kind)];
}

/** Quick replies offered with a message (`reply_parts`), usually none. */
export function replyParts(rng: Rng, actor: ActorType): MessagePart[] {
  if (actor === 'user' || !rng.chance(0.1)) return [];
  return [{ collection: { sub_parts: [quickReply(rng, 'Talk to a human'), quickReply(rng, 'Done ✅')] } }];
}

/** `message_source` values in the mixed case seen in the wild (schema upper, webhooks lower). */
export function messageSource(rng: Rng, actor: ActorType): string {
  if (actor === 'system') return rng.pick(['SYSTEM', 'system']);
  if (actor === 'agent') return rng.pick(['WEB', 'web', 'API']);
  return rng.weighted([
    ['WEB', 5],
    ['web', 4],
    ['MOBILE', 3],
    ['mobile', 1],
    ['FB_MESSENGER', 1],
    ['API', 1],
  ]);
}

export const RESOLUTION_LABELS: [string, string, string][] = [
  ['Billing', 'Refund', 'Duplicate charge'],
  ['Billing', 'Plan change', 'Annual, "Pro"'],
  ['Technical', 'Login', 'Password reset'],
  ['Technical', 'Mobile app', 'Crash, upload'],
  ['배송', '지연', '택배사 문의'],
];

export const CSAT_COMMENTS = [
  '',
  'Quick and friendly, thanks!',
  'Solved, but it took a while',
  '매우 만족합니다 👍',
  'Agent said "it\'s fixed", it wasn\'t',
];
