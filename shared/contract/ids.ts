/**
 * Resource ids in the SDK's shape: `<prefix>_01<22 base58 chars>`. The first 9 characters after `01`
 * encode the creation time in milliseconds, so ids sort by creation (base58's alphabet is in ASCII
 * order) and list pagination can use them as cursors.
 */
import { randomBytes } from "node:crypto";

export interface IdGenerator {
  /** A new id with the given prefix, e.g. `sesn` → `sesn_011C…`; sortable by creation time. */
  next(prefix: string): string;
}

const ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

function base58(value: bigint, width: number): string {
  let out = "";
  let rest = value;
  for (let i = 0; i < width; i++) {
    out = ALPHABET[Number(rest % 58n)] + out;
    rest /= 58n;
  }
  return out;
}

/** Time-sortable ids from the wall clock and crypto randomness. */
export class TimeSortableIds implements IdGenerator {
  constructor(private readonly now: () => number = Date.now) {}

  next(prefix: string): string {
    const time = base58(BigInt(this.now()), 9);
    const random = base58(BigInt(`0x${randomBytes(10).toString("hex")}`), 13);
    return `${prefix}_01${time}${random}`;
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
