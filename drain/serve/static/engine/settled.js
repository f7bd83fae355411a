// A danger already dealt with, read as triz/settled.py reads it: the patterns of matrix/settled.toml (exported,
// with their word lists filled in) set a hazard match aside when the message says the danger was dealt with
// or ruled out, says nothing of it being back, and every piece that raises it on its own is covered.

const SENTENCE = /[.!?;]+(?:\s|$)|\n/;

/** Lower-case ASCII, apostrophes removed (triz.settled.normalise). */
export function normalise(text) {
  return String(text).replaceAll("'", "").replaceAll("\u2019", "").normalize("NFKD")
    .replace(/[^\x00-\x7f]/g, "").toLowerCase();
}

/** The sentences of a text, blanks dropped (triz.settled.sentences). */
export function sentences(text) {
  return String(text).split(SENTENCE).map((p) => p.trim()).filter(Boolean);
}

export class SettledReading {
  /** data: {done, live, negation, category_done: [{categories, pattern}], short_sentence, covers, pending};
   * stemmer: text.js. */
  constructor(data, stemmer) {
    this.donePatterns = data.done.map((p) => new RegExp(p, "g"));
    this.livePatterns = data.live.map((p) => new RegExp(p));
    this.negation = new RegExp(data.negation);
    this.categoryDone = data.category_done.map((e) => [new Set(e.categories), new RegExp(e.pattern)]);
    this.short = data.short_sentence;
    this.covers = (data.covers || []).map((p) => new RegExp(p));
    this.pending = (data.pending || []).map((p) => new RegExp(p, "g"));
    this.stemmer = stemmer;
  }

  done(text, category = null) {
    const plain = normalise(text);
    return this.categoryDoneIn(plain, category) || this.unnegated(this.donePatterns, plain);
  }

  /** Whether text leaves the risky work it names to a professional (its own piece only). */
  leftToPro(text) {
    return this.unnegated(this.pending, normalise(text));
  }

  categoryDoneIn(plain, category) {
    return this.categoryDone.some(([cats, p]) => cats.has(category) && p.test(plain));
  }

  unnegated(patterns, plain) {
    return patterns.some((p) => [...plain.matchAll(p)].some((m) =>
      !this.negation.test(plain.slice(0, m.index).trimEnd())));
  }

  live(text) {
    const plain = normalise(text);
    return this.livePatterns.some((p) => p.test(plain));
  }

  calm(text, category = null) {
    return (this.done(text, category) || this.leftToPro(text)) && !this.live(text);
  }

  /** Whether a match of `category` is set aside; raises(n): whether pieces[n] raises it on its own. */
  setsAside(text, category, pieces, raises) {
    if (!this.calm(text, category)) return false;
    if (this.categoryDoneIn(normalise(text), category)) return true;
    const done = pieces.map((p) => this.done(p, category));
    for (let n = 0; n < pieces.length; n++) {
      if (done[n] || !raises(n) || this.leftToPro(pieces[n])) continue;
      const words = this.stemmer.contentStems(pieces[n]);
      const beside = [n - 1, n + 1].filter((m) => m >= 0 && m < pieces.length && done[m]).map((m) => pieces[m]);
      const covers = (b) => {
        const theirs = this.stemmer.contentStems(b);
        if (theirs.size <= this.short || [...theirs].some((w) => words.has(w))) return true;
        const own = normalise(b);
        return this.covers.some((p) => p.test(own));
      };
      if (!beside.some(covers)) return false;
    }
    return true;
  }
}
