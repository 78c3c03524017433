/*
 * EVE records for tests: Suricata's real schema (checked against a JSON Schema subset),
 * alert lines in that schema, timestamps in its format, and tshark's TCP streams of a
 * capture as the connections alerts are written for.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT, tshark } from '../helpers/captures.js';

/** Suricata's EVE JSON schema (suricata/etc/schema.json), beside the corpus. */
export const SCHEMA = JSON.parse(readFileSync(resolve(REPO_ROOT, '..', 'shared', 'ids', 'suricata-eve-schema.json'), 'utf8'));

export type Schema = { type?: string | string[]; properties?: Record<string, Schema>; additionalProperties?: boolean | Schema; required?: string[]; pattern?: string; enum?: unknown[]; items?: Schema; minItems?: number; $ref?: string };

/** The JSON Schema subset the EVE schema's alert part uses, to check test records against the real schema. */
export function schemaErrors(v: unknown, s: Schema, path = ''): string[] {
  if (s.$ref) s = s.$ref.split('/').slice(1).reduce((o: Record<string, unknown>, k) => o[k] as Record<string, unknown>, SCHEMA) as Schema;
  const errs: string[] = [];
  const types = s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];
  const t = Number.isInteger(v) ? 'integer' : v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
  if (types.length && !types.includes(t) && !(t === 'integer' && types.includes('number'))) return [`${path}: ${t} is not ${types.join('|')}`];
  if (s.enum && !s.enum.includes(v)) errs.push(`${path}: not in enum`);
  if (s.pattern && typeof v === 'string' && !new RegExp(s.pattern).test(v)) errs.push(`${path}: does not match ${s.pattern}`);
  if (t === 'object' && v) {
    const o = v as Record<string, unknown>;
    for (const r of s.required ?? []) if (!(r in o)) errs.push(`${path}.${r}: required`);
    for (const [k, x] of Object.entries(o)) {
      const p = s.properties?.[k];
      if (p) errs.push(...schemaErrors(x, p, `${path}.${k}`));
      else if (s.additionalProperties === false) errs.push(`${path}.${k}: not allowed`);
    }
  }
  if (t === 'array' && s.items) (v as unknown[]).forEach((x, i) => errs.push(...schemaErrors(x, s.items!, `${path}[${i}]`)));
  return errs;
}

/** Suricata's timestamp format from tshark's epoch text: 2022-03-27T09:29:17.870123+0000. */
export function eveTs(epoch: string, shiftSeconds = 0): string {
  const [s, frac = ''] = epoch.split('.');
  const d = new Date((Number(s) + shiftSeconds) * 1000).toISOString().slice(0, 19);
  return `${d}.${(frac + '000000').slice(0, 6)}+0000`;
}

export interface Stream { client: [string, number]; server: [string, number]; toServerTs: string; toClientTs: string; cid: string }

/** tshark's TCP streams: endpoints (the SYN's sender is the client), a packet each way, its Community ID. */
export function tsharkStreams(file: string): Stream[] {
  const out = tshark(['-r', file, '-n', '--enable-protocol', 'communityid', '-Y', 'tcp', '-T', 'fields', '-E', 'occurrence=l', '-e', 'tcp.stream', '-e', 'frame.time_epoch',
    '-e', 'ip.src', '-e', 'tcp.srcport', '-e', 'ip.dst', '-e', 'tcp.dstport', '-e', 'tcp.flags.syn', '-e', 'tcp.flags.ack', '-e', 'communityid']);
  const m = new Map<string, Stream>();
  for (const l of out.split('\n').filter(Boolean)) {
    const [st, ts, src, sp, dst, dp, syn, ack, cid] = l.split('\t');
    let s = m.get(st);
    if (!s) {
      const fromClient = !(syn === '1' && ack === '1');
      s = { client: fromClient ? [src, +sp] : [dst, +dp], server: fromClient ? [dst, +dp] : [src, +sp], toServerTs: '', toClientTs: '', cid };
      m.set(st, s);
    }
    if (src === s.client[0] && +sp === s.client[1]) s.toServerTs ||= ts;
    else s.toClientTs ||= ts;
  }
  return [...m.values()];
}

export function alert(o: { ts: string; src: [string, number]; dst: [string, number]; sid: number; sig: string; sev?: number; cid?: string; direction?: string; tunnel?: Record<string, unknown> }): string {
  return JSON.stringify({
    timestamp: o.ts, flow_id: 1234567890123456, pcap_cnt: 3, event_type: 'alert', src_ip: o.src[0], src_port: o.src[1], dest_ip: o.dst[0], dest_port: o.dst[1], proto: 'TCP',
    ...(o.cid ? { community_id: o.cid } : {}), direction: o.direction ?? 'to_server', ...(o.tunnel ? { tunnel: o.tunnel } : {}),
    alert: { action: 'allowed', gid: 1, signature_id: o.sid, rev: 1, signature: o.sig, category: 'Potentially Bad Traffic', severity: o.sev ?? 2 },
  });
}

