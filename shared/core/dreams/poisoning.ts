/**
 * What the poisoning gate needs to know about text: whether it reads like an instruction aimed at an
 * agent (OWASP ASI06, memory poisoning). Behind an interface so the memory context's own heuristic
 * can replace this one when it lands; this default errs towards flagging, since a flag only sends a
 * note to review.
 */
export interface InstructionDetector {
  /** True when `text` reads like an instruction to an agent rather than a fact or a note. */
  isInstructionLike(text: string): boolean;
}

import { instructionLike } from "../memory/content-safety.js";

// Zero-width and bidi control characters hide text from a human reviewer (DESIGN.md §7).
const HIDDEN = /[\u200B-\u200F\u202A-\u202E\u2060-\u2064\uFEFF]/;

const PATTERNS: RegExp[] = [
  // Overriding the agent's instructions or role.
  /\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(previous|prior|above|earlier|all|any|your|the)\b.{0,30}\b(instructions?|rules?|guidelines?|prompts?|polic(y|ies)|guardrails?)\b/i,
  /\b(new|updated|real|actual|hidden|secret) (system )?(instructions?|directives?|prompt)\b/i,
  // A line that opens with a role name. Only horizontal whitespace before it: with `\s*` every line
  // start re-scanned all the blank lines after it (quadratic on a text of newlines).
  /^[^\S\n\r\u2028\u2029]*(system|assistant|developer)\s*[:>]/im,
  /<\/?\s*(system|instructions?|im_start|im_end)\b/i,
  /\byou (are now|must now|will now|should now|have been)\b/i,
  /\b(as an ai|dear (ai|assistant|agent|model)|note to (the )?(ai|assistant|agent|model))\b/i,
  /\b(from now on|henceforth|in (all|every) future (sessions?|tasks?|conversations?))\b/i,
  // Exfiltration and privilege: sending data out, credentials, disabling checks.
  // The address starts after a space or an opening mark and its parts are bounded (an address is at
  // most 64@63.…): `\S+@\S+\.\w+` nested three unbounded scans in the windows before it, and a page
  // of "send:to:" took minutes.
  /\b(send|post|upload|forward|exfiltrate|leak|email|transmit)\b.{0,60}\b(to|at)\b.{0,20}(https?:\/\/|[ \t<(:"'][^\s@<(:"']{1,64}@[^\s@.]{1,63}\.\w|webhook|server|endpoint)/i,
  /\b(api[_ -]?keys?|secrets?|passwords?|credentials?|tokens?|private keys?|\.env|ssh keys?)\b.{0,60}\b(send|post|print|reveal|share|include|paste|upload|output|exfiltrate)\b/i,
  /\b(send|post|print|reveal|share|include|paste|upload|output|exfiltrate)\b.{0,60}\b(api[_ -]?keys?|secrets?|passwords?|credentials?|tokens?|private keys?|\.env|ssh keys?)\b/i,
  /\b(curl|wget|nc|netcat)\b[^\n]{0,80}https?:\/\//i,
  /\b(disable|turn off|skip|remove)\b.{0,30}\b(safety|security|guard|auth(entication)?|verification|tests?|checks?|review|logging)\b/i,
  /\b(do not|don't|never)\b.{0,20}\b(tell|inform|mention|report|alert|notify)\b.{0,30}\b(user|human|anyone|reviewer|operator)\b/i,
  /\brm\s+-rf\s+[~/]/i,
];

/**
 * The default heuristic: hidden characters, one of the injection patterns above, or the memory
 * context's own `instructionLike` (the one that flags memory writes). Either flag sends a tainted
 * note to review; a note resting only on what users wrote is not tainted, so a stated preference
 * ("always run the linter") lands although it reads like an instruction.
 */
export const defaultInstructionDetector: InstructionDetector = {
  isInstructionLike(text: string): boolean {
    if (HIDDEN.test(text)) return true;
    return PATTERNS.some((pattern) => pattern.test(text)) || instructionLike(text);
  },
};
