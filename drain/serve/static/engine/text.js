// Tolerant phrase matching, as triz/text.py does it: the same words, stems and phrase index, so that a
// hazard rule or a constraint fires on the phone exactly when it fires in Python. The word lists come
// from the exported data (data.text), never from this file.

const WORD = /[a-z0-9]+/g;
const SUFFIXES = [["ies", "y", 5], ["ied", "y", 5], ["ing", "", 6], ["ed", "", 5], ["es", "", 5], ["s", "", 4]];

export class Stemmer {
  /** tables: {skip, spelling, keep, filler} from the export. */
  constructor(tables) {
    this.skip = new Set(tables.skip);
    this.spelling = new Map(Object.entries(tables.spelling));
    this.keep = new Set(tables.keep);
    this.filler = new Set(tables.filler);
    this.cache = new Map();
  }

  /** Strip common English endings so that forms of one word meet (triz.text.stem). */
  stem(word) {
    const known = this.cache.get(word);
    if (known !== undefined) return known;
    let w = this.spelling.get(word) ?? word;
    if (w.length <= 3 || this.keep.has(w)) {
      this.cache.set(word, w);
      return w;
    }
    for (const [suffix, replacement, minimum] of SUFFIXES) {
      if (w.endsWith(suffix) && w.length >= minimum && !w.endsWith("ss")) {
        w = w.slice(0, w.length - suffix.length) + replacement;
        break;
      }
    }
    if (w.length > 4 && w[w.length - 1] === w[w.length - 2] && !"lsz".includes(w[w.length - 1])) w = w.slice(0, -1);
    if (w.length > 4 && w.endsWith("y")) w = w.slice(0, -1);
    if (w.length > 3 && w.endsWith("e")) w = w.slice(0, -1);
    this.cache.set(word, w);
    return w;
  }

  /** Lower-case ASCII words, apostrophes dropped, filler words skipped (triz.text.words). */
  words(text) {
    const ascii = String(text).replaceAll("'", "").replaceAll("\u2019", "").normalize("NFKD")
      .replace(/[^\x00-\x7f]/g, "").toLowerCase();
    return (ascii.match(WORD) || []).filter((w) => !this.skip.has(w));
  }

  stems(text) {
    return this.words(text).map((w) => this.stem(w));
  }

  /** The stems that carry meaning (filler words dropped), as a Set. */
  contentStems(text) {
    return new Set(this.stems(text).filter((w) => !this.filler.has(w)));
  }
}

export function occursFrom(words, start, phrase, gap) {
  let position = start;
  for (const wanted of phrase.slice(1)) {
    const window = words.slice(position + 1, position + 2 + gap);
    const at = window.indexOf(wanted);
    if (at < 0) return false;
    position += 1 + at;
  }
  return true;
}

/** Which keys' phrases occur in a text (triz.text.PhraseIndex). */
export class PhraseIndex {
  constructor(stemmer, entries) {
    this.stemmer = stemmer;
    this.byFirst = new Map();
    const keysOf = new Map();
    for (const [key, phrase] of entries) {
      const stems = stemmer.stems(phrase);
      const id = stems.join(" ");
      if (!stems.length) continue;
      if (!keysOf.has(id)) keysOf.set(id, new Set());
      if (keysOf.get(id).has(key)) continue;
      keysOf.get(id).add(key);
      if (!this.byFirst.has(stems[0])) this.byFirst.set(stems[0], []);
      this.byFirst.get(stems[0]).push([stems, key, phrase]);
    }
  }

  /** Where each key's phrases start in `words` (stems), in order (triz.text.PhraseIndex.positions). */
  positions(words, gap = 2) {
    const found = new Map();
    words.forEach((word, start) => {
      for (const [stems, key] of this.byFirst.get(word) || []) {
        if (occursFrom(words, start, stems, gap)) {
          if (!found.has(key)) found.set(key, []);
          if (!found.get(key).includes(start)) found.get(key).push(start);
        }
      }
    });
    return found;
  }

  /** Map of each key whose phrases occur in `text` to those phrases, in order of appearance. */
  find(text, gap = 2) {
    const words = this.stemmer.stems(text);
    const found = new Map();
    words.forEach((word, start) => {
      for (const [stems, key, phrase] of this.byFirst.get(word) || []) {
        if (occursFrom(words, start, stems, gap)) {
          if (!found.has(key)) found.set(key, []);
          const matched = found.get(key);
          if (!matched.includes(phrase)) matched.push(phrase);
        }
      }
    });
    return found;
  }
}
