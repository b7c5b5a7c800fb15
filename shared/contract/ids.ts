/**
 * Resource ids in the SDK's shape: `<prefix>_01<22 base58 chars>`. The first 9 characters after `01`
 * encode the creation time in milliseconds, so ids sort by creation (base58's alphabet is in ASCII
 * order) and list pagination can use them as cursors.
 */
import { randomFillSync } from "node:crypto";

export interface IdGenerator {
  /** A new id with the given prefix, e.g. `sesn` → `sesn_011C…`; sortable by creation time. */
  next(prefix: string): string;
}

const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
/** The largest multiple of 58 a byte can hold: bytes from here up are skipped, so every digit is uniform. */
const UNBIASED_BYTES = 256 - (256 % 58);

/** `value` (an integer below 2^53) as `width` base58 digits, most significant first. */
function base58(value: number, width: number): string {
  let out = "";
  let rest = value;
  for (let i = 0; i < width; i++) {
    out = ALPHABET[rest % 58] + out;
    rest = Math.floor(rest / 58);
  }
  return out;
}

/**
 * Time-sortable ids from the wall clock and crypto randomness (13 uniform base58 digits, ~76 bits).
 * The random bytes are drawn from the CSPRNG in blocks: a step makes a dozen ids, and one
 * `randomBytes` call per id was a visible share of its CPU.
 */
export class TimeSortableIds implements IdGenerator {
  private readonly pool = Buffer.alloc(512);
  private used = this.pool.length;

  constructor(private readonly now: () => number = Date.now) {}

  next(prefix: string): string {
    let random = "";
    while (random.length < 13) {
      if (this.used === this.pool.length) {
        randomFillSync(this.pool);
        this.used = 0;
      }
      const byte = this.pool[this.used++] as number;
      if (byte < UNBIASED_BYTES) random += ALPHABET[byte % 58];
    }
    return `${prefix}_01${base58(this.now(), 9)}${random}`;
  }
}

/** Known id prefixes, as the SDK uses them. */
export const idPrefix = {
  agent: "agent",
  environment: "env",
  session: "sesn",
  event: "sevt",
  thread: "sthr",
  workspace: "wrkspc",
  apiKey: "apikey",
  work: "work",
  environmentKey: "envkey",
} as const;
