// The TRIZ core on the phone: the matrix (fail closed), parameter and principle names, the hazard rules,
// the constraints and the separation principles, all read from the exported data.
import { SettledReading, sentences } from "./settled.js";
import { occursFrom, PhraseIndex, Stemmer } from "./text.js";

/** Python's round(x, digits) on the exact binary value: half to even only on an exact tie. */
export function roundTo(x, digits) {
  const exact = Math.abs(x).toFixed(100);
  const cut = exact.indexOf(".") + 1 + digits;
  const tail = exact.slice(cut);
  if (tail[0] === "5" && /^0*$/.test(tail.slice(1))) {
    const kept = exact.slice(0, cut);
    const even = Number(kept[kept.length - 1]) % 2 === 0;
    const magnitude = even ? Number(kept) : Number((Number(kept) + 10 ** -digits).toFixed(digits));
    return x < 0 ? -magnitude : magnitude;
  }
  return Number(x.toFixed(digits));
}

export class Knowledge {
  constructor(data) {
    this.data = data;
    this.stemmer = new Stemmer(data.text);
    this.parameterNames = new Map(Object.entries(data.parameters).map(([k, v]) => [Number(k), v]));
    this.principles = new Map(Object.entries(data.principles).map(([k, v]) => [Number(k), v]));
    this.cells = new Map(data.matrix.map(([i, w, p]) => [`${i}x${w}`, p]));
    this.rules = data.hazard_rules;
    this.ruleBy = new Map(this.rules.map((r) => [r.category, r]));
    this.ruleOrder = new Map(this.rules.map((r, n) => [r.category, n]));
    this.triggers = new PhraseIndex(this.stemmer, this.rules.flatMap((r) => r.triggers.map((t) => [r.category, t])));
    this.withActions = new PhraseIndex(this.stemmer,
      this.rules.flatMap((r) => [...r.triggers, ...r.actions].map((t) => [r.category, t])));
    // words that raise a hazard only together: every group's phrase within a few words of the others
    this.window = data.text.together_window;
    this.groups = new PhraseIndex(this.stemmer, this.rules.flatMap((r) => (r.together || []).flatMap((entry, e) =>
      entry.flatMap((group, g) => group.map((t) => [`${r.category}\u0000${e}\u0000${g}`, t])))));
    // a danger the message tells of as dealt with is set aside (absent from exports before it)
    this.settled = data.settled ? new SettledReading(data.settled, this.stemmer) : null;
    this.constraintList = data.constraints;
    this.constraintIndex = new PhraseIndex(this.stemmer,
      data.constraints.flatMap((c) => c.phrases.map((p) => [c.name, p])));
  }

  parameterRef(id) {
    return { id, name: this.parameterNames.get(id) };
  }

  principleRef(id) {
    return { id, name: this.principles.get(id).name };
  }

  /** The principle ids of a cell, [] when empty. */
  principlesOf(improving, worsening) {
    return this.cells.get(`${improving}x${worsening}`) || [];
  }

  /** {principles, reason}: the matrix lookup of triz.matrix, failing closed on the diagonal and empty cells. */
  lookup(improving, worsening) {
    if (improving === worsening) {
      return { principles: [], reason: `improving and worsening the same parameter (${improving}) is a physical `
        + "contradiction: use the separation principles" };
    }
    const principles = this.cells.get(`${improving}x${worsening}`);
    if (!principles) {
      return { principles: [], reason: `the matrix cell ${improving}x${worsening} is empty: the classical matrix `
        + "offers no principles for it" };
    }
    return { principles, reason: null };
  }

  /** The hazard rules that fire on `text`, stop first then in file order (triz.hazards.HazardChecker.check);
   * a match the text tells of as dealt with is left out (settled.js). */
  checkHazards(text, { actions = false } = {}) {
    return this.hazardMatches(this.foundHazards(text, actions, false));
  }

  /** The matches checkHazards leaves out because the text says they were dealt with (HazardChecker.set_aside). */
  setAsideHazards(text) {
    return this.hazardMatches(this.foundHazards(text, false, true));
  }

  foundHazards(text, actions, aside) {
    const found = this.rawHazards(text, actions);
    if (actions || !this.settled) return aside ? new Map() : found;
    const pieces = sentences(text);
    if (!pieces.length) pieces.push(text);
    const cache = new Map();
    const raises = (category) => (n) => {
      if (!cache.has(n)) cache.set(n, this.rawHazards(pieces[n], false));
      return cache.get(n).has(category);
    };
    const kept = new Map();
    for (const [category, seen] of found) {
      if (this.settled.setsAside(text, category, pieces, raises(category)) === aside) kept.set(category, seen);
    }
    return kept;
  }

  rawHazards(text, actions) {
    const found = (actions ? this.withActions : this.triggers).find(text);
    for (const [category, seen] of this.together(text)) {
      if (!found.has(category)) found.set(category, []);
      found.get(category).push(...seen);
    }
    return found;
  }

  hazardMatches(found) {
    const matches = this.rules.filter((r) => found.has(r.category)).map((r) => ({
      category: r.category, severity: r.severity, message: r.message, do_now: [...r.do_now],
      professional: r.professional, matched: [...found.get(r.category)],
    }));
    return this.sortHazards(matches);
  }

  /** The categories whose `together` groups all occur within the window (triz.hazards.HazardChecker._together). */
  together(text) {
    const words = this.stemmer.stems(text);
    const at = this.groups.positions(words);
    const found = new Map();
    for (const rule of this.rules) {
      (rule.together || []).forEach((entry, e) => {
        const spots = entry.map((_, g) => at.get(`${rule.category}\u0000${e}\u0000${g}`) || []);
        if (!spots.every((s) => s.length) || !this.close(spots)) return;
        const hit = entry.map((group, g) => this.phraseAt(group, words, spots[g][0])).join(" + ");
        if (!found.has(rule.category)) found.set(rule.category, []);
        found.get(rule.category).push(hit);
      });
    }
    return found;
  }

  close(spots) {
    return spots[0].some((first) => spots.slice(1).every((others) => others.some((p) => Math.abs(p - first)
      <= this.window)));
  }

  phraseAt(group, words, start) {
    const hit = group.find((t) => {
      const stems = this.stemmer.stems(t);
      return stems.length && stems[0] === words[start] && occursFrom(words, start, stems, 2);
    });
    return hit ?? group[0];
  }

  sortHazards(hazards) {
    return hazards.sort((a, b) => ((a.severity !== "stop") - (b.severity !== "stop"))
      || this.ruleOrder.get(a.category) - this.ruleOrder.get(b.category));
  }

  /** Constraints named in `text`, in the order of constraints.toml: [{name, parameters, matched}]. */
  constraints(text) {
    const found = this.constraintIndex.find(text);
    return this.constraintList.filter((c) => found.has(c.name))
      .map((c) => ({ name: c.name, parameters: [...c.parameters], matched: [...found.get(c.name)] }));
  }

  /** The separation options for a physical contradiction on `parameter`, principles ranked for it. */
  separate(parameter) {
    return this.data.separations[String(parameter)];
  }
}
