// Checking what a homeowner typed before any model sees it (drain/problem.py): the same cleaning, limits,
// warnings and control-marker neutralising. The patterns and word lists come from the export.

export class InputError extends Error {
  constructor(message) {
    super(message);
    this.name = "InputError";
  }
}

const CONTROL = /\p{C}/u;
const LETTER = /\p{L}/u;

export class ProblemChecks {
  /** checks: {max_chars, english (the words that count as English evidence), instruction, marker} from the export. */
  constructor(checks) {
    this.maxChars = checks.max_chars;
    this.english = new Set(checks.english);
    this.instruction = new RegExp(checks.instruction, "is");
    this.marker = new RegExp(checks.marker, "g");
  }

  /** Break up chat-template control markers (<|im_start|> -> < |im_start| >). */
  neutralise(text) {
    return String(text).replace(this.marker, (m, slash, bar, name, bar2, slash2, tag) =>
      tag ? `[ ${slash2}${tag} ]` : `< ${slash}${bar}${name}${bar2} >`);
  }

  /** {text, warnings}, or an InputError with the same one-line message as Python's. */
  read(text) {
    if (typeof text !== "string") throw new InputError("the problem must be text");
    let cleaned = "";
    for (const ch of text) if (ch === "\n" || ch === "\t" || !CONTROL.test(ch)) cleaned += ch;
    cleaned = cleaned.replace(/[ \t]+/g, " ").trim();
    if (!cleaned) {
      throw new InputError('the problem is empty: describe what is wrong, for example "leaking basement on budget"');
    }
    const length = [...cleaned].length;
    if (length > this.maxChars) {
      throw new InputError(`the problem is ${length.toLocaleString("en-US")} characters; keep it under `
        + `${this.maxChars.toLocaleString("en-US")} (summarise it, or split it into several problems)`);
    }
    let latin = 0;
    let other = 0;
    for (const ch of cleaned) {
      if (!LETTER.test(ch)) continue;
      if (ch.normalize("NFKD")[0].charCodeAt(0) < 128) latin += 1;
      else other += 1;
    }
    if (latin + other === 0) throw new InputError("the problem has no words: describe what is wrong in a few words");
    if (other > latin) {
      throw new InputError("DRAIN understands English only for now: please describe the problem in English");
    }
    const warnings = [];
    const words = new Set(cleaned.toLowerCase().replace(/'/g, "").match(/[\p{L}]+/gu) || []);
    if (words.size >= 4 && ![...words].some((w) => this.english.has(w))) {
      warnings.push("this does not look like English; DRAIN understands English only, so the answer may be poor");
    }
    this.instruction.lastIndex = 0;
    if (this.instruction.test(cleaned)) {
      warnings.push("the text contains instructions addressed to the model; DRAIN treats it only as a description "
        + "of a house problem");
    }
    return { text: cleaned, warnings };
  }
}
