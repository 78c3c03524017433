import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KeyLog } from '../../main/decrypt/key-log.js';
import { KeyLogFollower } from '../../main/decrypt/key-log-follower.js';
import { AnalysisSession } from '../../main/engine/session.js';
import { openCapture } from '../../main/pcap/reader.js';
import { capture } from '../helpers/captures.js';

const KEYS = readFileSync(capture('tls13-rfc8446-early-data.keys'), 'utf8');
const dir = () => mkdtempSync(join(tmpdir(), 'tapscope-follow-'));

describe('KeyLogFollower', () => {
  it('adds appended complete lines, waits for a line being written, re-reads a truncated file', () => {
    const path = join(dir(), 'keys.log');
    writeFileSync(path, '');
    const k = new KeyLog();
    const f = new KeyLogFollower(path, k);
    expect(k.growing).toBe(true);
    const lines = KEYS.split('\n').filter(Boolean);
    appendFileSync(path, lines[0] + '\n' + lines[1].slice(0, 40));
    f.poll();
    expect(k.stats.secrets).toBe(1);
    appendFileSync(path, lines[1].slice(40) + '\n');
    f.poll();
    expect(k.stats.secrets).toBe(2);
    expect(f.poll()).toBe(0);
    writeFileSync(path, lines[2] + '\n'); // replaced by a shorter file
    f.poll();
    expect(k.stats.secrets).toBe(3);
    expect(k.stats.badLines).toBe(0);
  });

  it('a missing file is one problem, and is read once it appears', () => {
    const path = join(dir(), 'later.log');
    const k = new KeyLog();
    const f = new KeyLogFollower(path, k);
    expect(f.poll()).toBe(0);
    expect(f.problem).toMatch(/cannot read key log .*later\.log/);
    writeFileSync(path, KEYS);
    expect(f.poll()).toBeGreaterThan(0);
    expect(f.problem).toBeNull();
    expect(k.size).toBe(2);
  });
});

describe('keys that arrive after the ClientHello (live capture with a growing key log)', () => {
  /** Feeds the TLS 1.3 corpus capture packet by packet; `when` says after which packet the key log is written. */
  function live(when: (s: AnalysisSession) => boolean): AnalysisSession {
    const path = join(dir(), 'keys.log');
    writeFileSync(path, '');
    const s = new AnalysisSession();
    const f = new KeyLogFollower(path, s.app.keys);
    const r = openCapture(capture('tls13-rfc8446-early-data-keylog.pcap'));
    let written = false;
    for (let rec = r.next(); rec; rec = r.next()) {
      s.feed(rec);
      if (!written && when(s)) {
        writeFileSync(path, KEYS);
        written = true;
      }
      f.poll();
    }
    r.close();
    s.finish();
    return s;
  }

  it('written after the first ClientHello, before the ServerHello: every exchange is decrypted', () => {
    const s = live((x) => x.app.tls.handshakes.length === 1 && x.app.tls.handshakes[0].serverHelloTs === null);
    expect(s.app.http.exchanges.map((x) => x.uri)).toEqual(['/first', '/early', '/second']);
    expect(s.app.tls.handshakes.every((h) => h.decrypted)).toBe(true);
  });

  it('written after the first connection\'s ServerHello: that session is caught at its next records', () => {
    const s = live((x) => x.app.tls.handshakes.length === 1 && x.app.tls.handshakes[0].serverHelloTs !== null);
    expect(s.app.http.exchanges.map((x) => x.uri)).toEqual(['/first', '/early', '/second']);
  });

  it('written after the capture: nothing decrypted, nothing thrown', () => {
    const s = live(() => false);
    expect(s.app.http.exchanges).toEqual([]);
    expect(s.warnings.filter((w) => /parsing failed/.test(w.message))).toEqual([]);
  });
});
