import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allCaptures } from '../helpers/captures';
import { inProcess, type Transport } from './harness';
import { tapscopeRows, tsharkColumns, type TsharkRow } from './packet-columns-oracle';
import type { PacketRow } from '../../preload/api';

/*
 * The Info column of the DNS (mDNS, LLMNR), HTTP, HTTP/2 and TLS packets of the corpus against
 * tshark's _ws.col.Info, text for text, after the documented normalisation
 * (docs/packet-columns.md): tshark's TCP analysis notes ("[TCP Retransmission] ") and
 * "[Packet size limited during capture]" are left out (Tapscope has a Flags column), and
 * Tapscope's " (SNI=name)" after a Client Hello must name tshark's server_name.
 * Packets whose Protocol differs are the Protocol test's (packet-columns-protocol.test.ts).
 */

const APP = /^(DNS|MDNS|LLMNR|HTTP(\/\w+)?|HTTP2|TLSv1(\.[0-3])?|SSLv3)$/;
const names = allCaptures().filter((n) => n !== 'many-conns-loopback-echo.pcap');

function tsharkInfo(r: TsharkRow): string {
  return r.info.replace(/\[TCP [^\]]*\] ?/g, '').replace(/^, /, '').replace('[Packet size limited during capture]', '').replace(/ \[TCP segment of a reassembled PDU\]$/, '');
}

/*
 * Documented Info differences (docs/packet-columns.md), each a specific rule:
 * - tshark decodes NTLMSSP in Authorization headers: ", NTLMSSP_NEGOTIATE" (and ", User: ...");
 * - with the capture's own keys (DSB) tshark names decrypted TLS 1.3 handshake messages
 *   where Tapscope's list says "Application Data", "Encrypted Handshake Message" or "Encrypted Alert".
 */
const ENCRYPTED = new Set(['Application Data', 'Encrypted Handshake Message', 'Encrypted Alert']);
function documented(name: string, tsInfo: string, tpInfo: string): string | null {
  if (tsInfo.startsWith(tpInfo) && /^, NTLMSSP_\w+(, User: .*)?$/.test(tsInfo.slice(tpInfo.length))) return 'ntlmssp';
  const a = tsInfo.split(', ');
  const b = tpInfo.split(', ');
  // A decrypted record may list several messages (or an alert with commas) where Tapscope has one name.
  if (name.includes('keys-in-pcapng-dsb') && b.some((x) => ENCRYPTED.has(x)) && b.every((x) => ENCRYPTED.has(x) || a.includes(x))) return 'decrypted-handshake';
  return null;
}

function tapscopeInfo(p: PacketRow, r: TsharkRow): string {
  // Wireshark 4.2 and later put the server name after "Client Hello"; tshark 4.0 does not.
  return r.sni ? p.info.replace(` (SNI=${r.sni})`, '') : p.info;
}

let t: Transport;
beforeAll(async () => { t = await inProcess(); });
afterAll(async () => { await t.close(); });

describe('Info column of DNS, HTTP and TLS packets vs tshark', () => {
  let equal = 0;
  let total = 0;
  let sni = 0;
  const rules = new Map<string, number>();
  for (const name of names) {
    it(name, async () => {
      const ts = tsharkColumns(name).filter((r) => r.protocol !== 'PCAPNG');
      const { rows } = await tapscopeRows(t, name);
      const diffs: string[] = [];
      let n = 0;
      ts.forEach((r, i) => {
        const p = rows[i];
        if (!APP.test(r.protocol) || !p || p.protocol !== r.protocol) return;
        n++;
        if (r.sni && p.info.includes(` (SNI=${r.sni})`)) sni++;
        const rule = documented(name, tsharkInfo(r), tapscopeInfo(p, r));
        if (tapscopeInfo(p, r) === tsharkInfo(r)) equal++;
        else if (rule) rules.set(rule, (rules.get(rule) ?? 0) + 1);
        else diffs.push(`#${r.number} ${r.protocol}\n  tshark:   ${tsharkInfo(r)}\n  tapscope: ${p.info}`);
      });
      total += n;
      if (n) console.log(`info ${name}: ${n - diffs.length}/${n} equal`);
      expect(diffs).toEqual([]);
    });
  }
  it('covers the corpus', () => {
    console.log(`info corpus: ${equal}/${total} DNS/HTTP/TLS packets equal, ${sni} Client Hellos with SNI; documented: ${JSON.stringify(Object.fromEntries(rules))}`);
    expect(rules.get('ntlmssp') ?? 0).toBeGreaterThan(0);
    expect(rules.get('decrypted-handshake') ?? 0).toBeGreaterThan(0);
    expect(total).toBeGreaterThan(250);
    expect(sni).toBeGreaterThan(5);
  });
});
