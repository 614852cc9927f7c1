/**
 * Makers for the objects that do not move much: the account, agent statuses, groups, agents,
 * channels, users and outbound WhatsApp messages. Each takes the world's stream and returns one
 * object in the documented shape.
 */
import { FIRST_NAMES, LAST_NAMES } from './content.ts';
import type { Rng } from './random.ts';
import { iso } from './time.ts';
import type {
  AccountConfiguration,
  Agent,
  AgentStatus,
  Channel,
  Group,
  OutboundMessage,
  User,
} from './types.ts';

const STATUS_NAMES = ['Tea break', 'In a meeting', 'Lunch', 'Training', 'Offline for the day'];
const GROUP_NAMES = ['Support', 'Billing', 'Sales', 'Escalations', 'VIP', '한국 지원'];
const CHANNEL_NAMES = ['Inbox', 'Billing questions', 'Mobile app', 'WhatsApp', 'Website'];

const ascii = (name: string, fallback: string): string =>
  name
    .normalize('NFKD')
    .replace(/[^A-Za-z]/g, '')
    .toLowerCase() || fallback;

export function makeAccount(rng: Rng, createdMs: number): AccountConfiguration {
  return {
    app_id: rng.uuid(),
    account_id: rng.digits(16),
    account_name: 'Simulated Shop',
    domain: 'simulated-shop.freshchat.example',
    timezone: 'Europe/Berlin',
    locale: 'en-us',
    created_time: iso(createdMs),
  };
}

export function makeAgentStatus(rng: Rng, index: number): AgentStatus {
  return { id: rng.uuid(), name: STATUS_NAMES[index % STATUS_NAMES.length] as string };
}

export function makeGroup(rng: Rng, index: number): Group {
  const base = GROUP_NAMES[index % GROUP_NAMES.length] as string;
  const name = index < GROUP_NAMES.length ? base : `${base} ${Math.floor(index / GROUP_NAMES.length) + 1}`;
  return {
    id: rng.uuid(),
    name,
    description: `${name} team`,
    routing_type: rng.pick(['OCR', 'OCR,DISABLED']),
  };
}

export function makeAgent(
  rng: Rng,
  index: number,
  total: number,
  groups: Group[],
  statuses: AgentStatus[],
): Agent {
  const firstName = rng.pick(FIRST_NAMES);
  const lastName = rng.pick(LAST_NAMES);
  const id = rng.uuid();
  const memberOf = [groups[index % groups.length] as Group];
  if (groups.length > 1 && rng.chance(0.4)) memberOf.push(groups[(index + 1) % groups.length] as Group);
  return {
    id,
    first_name: firstName,
    last_name: lastName,
    email: `${ascii(firstName, 'agent')}.${index}@simulated-shop.example`,
    phone: rng.digits(10),
    avatar: { url: `https://web.freshchat.example/img/${rng.hex(12)}.png` },
    biography: rng.pick(['Friendly support person', 'Billing specialist', '고객 지원 담당']),
    groups: memberOf.map((g) => g.id),
    role_id: rng.pick(['ACCOUNT_ADMIN', 'AGENT', 'SUPERVISOR']),
    // The last of four or more agents has left, so `is_deactivated` filters have something to find.
    is_deactivated: total >= 4 && index === total - 1,
    availability_status: rng.chance(0.7) ? 'AVAILABLE' : 'UNAVAILABLE',
    agent_status: { ...rng.pick(statuses) },
    routing_type: rng.pick(['OCR', 'OCR', 'INTELLIASSIGN', 'DISABLED'] as const),
    skill_id: rng.uuid(),
    freshid_uuid: rng.uuid(),
    locale: rng.pick(['en-us', 'ko-kr', 'de-de']),
    timezone: rng.pick(['Asia/Kolkata', 'Asia/Seoul', 'Europe/Berlin', 'America/New_York']),
    social_profiles: [],
    get_ocr_available: rng.int(0, 1),
  };
}

export function makeChannel(rng: Rng, index: number, groups: Group[], updatedMs: number): Channel {
  const group = groups[index % groups.length] as Group;
  return {
    id: rng.uuid(),
    name: CHANNEL_NAMES[index % CHANNEL_NAMES.length] as string,
    icon: { url: `https://web.freshchat.example/icons/${rng.hex(8)}.png` },
    enabled: true,
    public: index !== 3,
    locale: 'en-Us',
    tags: rng.pick([['support'], ['sales', 'support'], ['billing']]),
    updated_time: iso(updatedMs),
    welcome_message: { message_parts: [{ text: { content: 'Hi! 👋 How can we help?' } }] },
    assign_to_group: { id: group.id, name: group.name, agents: [] },
  };
}

/** Users with index % 10 === 7 get a legacy alias id (`Denise_alias<hex>`) instead of a UUID. */
export function makeUser(rng: Rng, index: number, createdMs: number): User {
  const firstName = rng.pick(FIRST_NAMES);
  const lastName = rng.pick(LAST_NAMES);
  const uuid = rng.uuid();
  const id =
    index % 10 === 7
      ? `${ascii(firstName, 'user').replace(/^./, (c) => c.toUpperCase())}_alias${rng.hex(32)}`
      : uuid;
  const properties = [{ name: 'orderId', value: `#${rng.int(1000, 9999)}` }];
  if (rng.chance(0.5)) properties.push({ name: 'cf_plan', value: rng.pick(['Basic', 'Pro', 'Enterprise']) });
  if (rng.chance(0.3)) properties.push({ name: 'job_title', value: rng.pick(['CTO', 'Designer', '개발자']) });
  return {
    id,
    created_time: iso(createdMs),
    email: `${ascii(firstName, 'user')}.${ascii(lastName, 'x')}${index}@example.com`,
    first_name: firstName,
    last_name: lastName,
    phone: rng.digits(9),
    avatar: { url: `https://web.freshchat.example/img/${rng.hex(12)}.png` },
    reference_id: rng.uuid(),
    properties,
    social_profiles: rng.chance(0.3)
      ? [{ type: rng.pick(['facebook', 'twitter', 'skype', 'linkedin']), id: ascii(firstName, 'user') }]
      : [],
  };
}

const FAILURES = [
  ['OBM001', 'Template not approved'],
  ['OBM014', 'Recipient is not a WhatsApp user'],
] as const;

export function makeOutbound(rng: Rng, createdMs: number): OutboundMessage {
  const status = rng.weighted([
    ['Accepted', 1],
    ['Sent', 2],
    ['Delivered', 5],
    ['Failed', 1],
  ] as const);
  const failure = status === 'Failed' ? rng.pick(FAILURES) : undefined;
  return {
    message_id: rng.uuid(),
    request_id: rng.uuid(),
    from: { phone_number: '+15550001111' },
    to: [{ phone_number: `+${rng.digits(12)}` }],
    data: {
      message_template: {
        storage: 'none',
        namespace: `${rng.hex(8)}_${rng.hex(4)}_${rng.hex(4)}_${rng.hex(4)}_${rng.hex(12)}`,
        template_name: rng.pick(['hello_world', 'order_update', 'appointment_reminder']),
        language: { policy: 'deterministic', code: rng.pick(['en_US', 'ko']) },
        template_data: [{ data: rng.pick(FIRST_NAMES) }],
      },
    },
    provider: 'whatsapp',
    status,
    ...(failure ? { failure_code: failure[0], failure_reason: failure[1] } : {}),
    created_on: Math.floor(createdMs / 1000),
  };
}
