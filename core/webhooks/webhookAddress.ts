import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { CreditkeeperError } from '../errors.js';

/**
 * A webhook URL must not reach the operator's own network (SSRF): checked at registration and, after DNS,
 * before every attempt, which then connects to the very address checked.
 */
const forbidden = new BlockList();
for (const [network, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) forbidden.addSubnet(network, bits, 'ipv4');
for (const [network, bits] of [
  ['::', 96], // unspecified, loopback and the old IPv4-compatible form
  ['100::', 64], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) forbidden.addSubnet(network, bits, 'ipv6');

/** IPv4 carried in IPv6 (::ffff:a.b.c.d, NAT64's 64:ff9b::a.b.c.d) is judged as the IPv4 address it reaches. */
function embeddedIpv4(address: string): string | undefined {
  const groups = expandIpv6(address);
  const prefix = groups.slice(0, 6).map((group) => group.toString(16)).join(':');
  if (prefix !== '0:0:0:0:0:ffff' && prefix !== '64:ff9b:0:0:0:0') return undefined;
  const [high, low] = [groups[6]!, groups[7]!];
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

function expandIpv6(address: string): number[] {
  let text = address.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -dotted[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const middle = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...middle, ...right].map((group) => parseInt(group, 16));
}

/** Whether an IP address may be the target of a webhook. */
export function addressAllowed(address: string, allowedNetworks: BlockList): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const v4 = family === 6 ? embeddedIpv4(address) : address;
  if (v4 !== undefined) return allowedNetworks.check(v4, 'ipv4') || !forbidden.check(v4, 'ipv4');
  return allowedNetworks.check(address, 'ipv6') || !forbidden.check(address, 'ipv6');
}

/** A URL's host without the brackets of an IPv6 literal. */
export function hostOf(url: URL): string {
  return url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
}

/** The URL's shape: http(s), no credentials in it. */
export function parseWebhookUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CreditkeeperError('WEBHOOK_URL_REFUSED', 'The webhook URL is not a URL', { url: text });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new CreditkeeperError('WEBHOOK_URL_REFUSED', 'A webhook URL is http or https', { url: text });
  if (url.username || url.password) throw new CreditkeeperError('WEBHOOK_URL_REFUSED', 'A webhook URL carries no credentials', { url: text });
  return url;
}

/**
 * The address an attempt connects to: the host's own if it is an IP literal, else what DNS says;
 * refused if any address the name resolves to is forbidden (so which one is picked cannot matter).
 */
export async function resolveWebhookAddress(url: URL, allowedNetworks: BlockList): Promise<{ address: string; family: 4 | 6 }> {
  const host = hostOf(url);
  const literal = isIP(host);
  let addresses: { address: string; family: number }[];
  if (literal) addresses = [{ address: host, family: literal }];
  else {
    try {
      addresses = await lookup(host, { all: true, verbatim: true });
    } catch (error) {
      throw new CreditkeeperError('WEBHOOK_URL_REFUSED', `${host} does not resolve`, { url: url.href, reason: (error as NodeJS.ErrnoException).code ?? 'lookup failed' });
    }
  }
  const refused = addresses.find((a) => !addressAllowed(a.address, allowedNetworks));
  if (refused || addresses.length === 0) {
    throw new CreditkeeperError('WEBHOOK_URL_REFUSED', `${host} is a private, loopback, link-local or reserved address`, { url: url.href, address: refused?.address ?? null });
  }
  return { address: addresses[0]!.address, family: addresses[0]!.family as 4 | 6 };
}
