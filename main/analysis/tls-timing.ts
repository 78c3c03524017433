/*
 * TLS TIMING WITHOUT KEYS: request/response turns from record boundaries (docs/protocols.md
 * "TLS timing without keys"). After the handshake, a turn is the client's application-data
 * records up to the server's first one, then the server's records up to the client's next:
 *   client  [rec][rec]                    [rec]
 *   server              [rec][rec][rec]          [rec]...
 *           |<- request ->|<-- answer -->|
 * The answer time of a turn runs from the start of the client's last record to the start of
 * the server's last record before the client speaks again: the time the server took to
 * answer, up to its answer's last record. It is measured to the answer's end, not its first
 * byte, because a TLS 1.3 server sends its session tickets (encrypted, indistinguishable
 * from data) right after the handshake, ahead of the first answer. Bytes per turn are record
 * lengths (protection overhead included).
 * Per connection a fixed summary is kept: turns, bytes, and the answer times of the first
 * MAX_SAMPLES turns (enough for a median; nothing grows with a long connection).
 */

/** Answer times kept per connection. */
export const MAX_TURN_SAMPLES = 32;

export interface TlsTurns {
  /** Turns with an answer (a client request without one is not counted). */
  count: number;
  requestBytes: number;
  responseBytes: number;
  /** Answer times in seconds of the first MAX_TURN_SAMPLES turns. */
  answerTimes: number[];
}

export function newTurns(): TlsTurns {
  return { count: 0, requestBytes: 0, responseBytes: 0, answerTimes: [] };
}

const IDLE = 0;
const CLIENT = 1;
const SERVER = 2;

/** Follows one connection's application-data records (both directions, in capture order). */
export class TurnTracker {
  private state = IDLE;
  private lastClientTs = 0;
  private lastServerTs = 0;
  private reqBytes = 0;
  private respBytes = 0;

  constructor(readonly turns: TlsTurns) {}

  /** One application-data record of `len` bytes starting at `ts`. */
  record(fromClient: boolean, ts: number, len: number): void {
    if (fromClient) {
      if (this.state === SERVER) this.closeTurn();
      this.state = CLIENT;
      this.lastClientTs = ts;
      this.reqBytes += len;
    } else if (this.state !== IDLE) {
      // Server records before any client request (a TLS 1.3 ticket after the handshake) start no turn.
      this.state = SERVER;
      this.lastServerTs = ts;
      this.respBytes += len;
    }
  }

  /** The connection ended: an answered turn in progress is complete. */
  end(): void {
    if (this.state === SERVER) this.closeTurn();
    this.state = IDLE;
  }

  private closeTurn(): void {
    const t = this.turns;
    t.count++;
    t.requestBytes += this.reqBytes;
    t.responseBytes += this.respBytes;
    if (t.answerTimes.length < MAX_TURN_SAMPLES) t.answerTimes.push(Math.round((this.lastServerTs - this.lastClientTs) * 1e9) / 1e9);
    this.reqBytes = 0;
    this.respBytes = 0;
  }
}
