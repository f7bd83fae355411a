// The house library read by meaning, as drain/grounding/ does it: the same vectors (float16, exported),
// the same evidence, weights and rounding for families, causes, candidate pairs, fix cards and the
// similar-situation hazard check. Scores are cosine similarities of unit vectors, rounded to float32
// like numpy's, so the rankings match Python's; the weights are data.tuning, never constants here.
import { roundTo } from "./knowledge.js";
import { clauses } from "./clauses.js";
import { wordVector } from "./words.js";

/** Float16 (little-endian) to Float32Array. */
export function halfToFloat(bytes) {
  const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  const out = new Float32Array(halves.length);
  for (let n = 0; n < halves.length; n += 1) {
    const h = halves[n];
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    if (exponent === 0) out[n] = sign * 2 ** -14 * (fraction / 1024);
    else if (exponent === 31) out[n] = fraction ? NaN : sign * Infinity;
    else out[n] = sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
  }
  return out;
}

/** A stable argsort, highest first (numpy's argsort(-scores, kind="stable")). */
function rankDescending(scores) {
  return Array.from(scores.keys()).sort((a, b) => scores[b] - scores[a] || a - b);
}

export class LibraryIndex {
  /** meta: data.index; vectors: the float16 file's bytes (Uint8Array). */
  constructor(meta, vectors) {
    this.dimension = meta.dimension;
    this.matrix = halfToFloat(vectors);
    this.keys = {};
    this.texts = {};
    this.slices = {};
    let start = 0;
    for (const kind of meta.kinds) {
      const info = meta.by_kind[kind];
      this.keys[kind] = info.keys;
      this.texts[kind] = info.texts || [];
      this.slices[kind] = [start, start + info.count];
      start += info.count;
    }
    this.last = null;
  }

  /** Cosine similarity of a unit query with every row of `kind` (the last query's scores are kept). */
  scores(kind, query) {
    if (!this.last || this.last.query !== query) {
      const rows = this.matrix.length / this.dimension;
      const all = new Float64Array(rows);
      for (let r = 0; r < rows; r += 1) {
        let sum = 0;
        const base = r * this.dimension;
        for (let d = 0; d < this.dimension; d += 1) sum += this.matrix[base + d] * query[d];
        all[r] = Math.fround(sum);
      }
      this.last = { query, all };
    }
    const [from, to] = this.slices[kind];
    return this.last.all.subarray(from, to);
  }

  /** For each key of `kind`, the similarity of its closest row (in order of first appearance). */
  bestByKey(kind, query) {
    const best = new Map();
    const scores = this.scores(kind, query);
    this.keys[kind].forEach((key, n) => {
      if (scores[n] > (best.has(key) ? best.get(key) : -2)) best.set(key, scores[n]);
    });
    return best;
  }
}

export class Grounder {
  constructor(knowledge, data, index, embed) {
    this.knowledge = knowledge;
    this.tuning = data.tuning;
    this.index = index;
    this.embed = embed; // async (text) -> unit Float32Array
    this.families = new Map(data.house.families.map((f) => [f.id, f]));
    this.cards = new Map(data.house.cards.map((c) => [c.id, c]));
    this.cases = new Map(data.house.cases.map((c) => [c.id, c]));
    this.cardsByFamily = new Map([...this.families.keys()].map((id) => [id, []]));
    for (const card of this.cards.values()) for (const f of card.families) this.cardsByFamily.get(f).push(card);
    this.hazardRows = new Map();
    index.keys.hazard.forEach((category, n) => {
      if (!this.hazardRows.has(category)) this.hazardRows.set(category, []);
      this.hazardRows.get(category).push(n);
    });
  }

  cardsOf(family) {
    return this.cardsByFamily.get(family) || [];
  }

  // ------------------------------------------------------------------------------------ families, causes
  caseVotes(query) {
    const scores = this.index.scores("case", query);
    const votes = new Map();
    let total = 0;
    for (const row of rankDescending(scores).slice(0, this.tuning.families.nearest_cases)) {
      const weight = Math.max(0, scores[row]) ** 2;
      const family = this.cases.get(this.index.keys.case[row]).family;
      votes.set(family, (votes.get(family) || 0) + weight);
      total += weight;
    }
    if (!total) return new Map();
    return new Map([...votes].map(([family, vote]) => [family, vote / total]));
  }

  /** The k most likely families for a query vector, best first: [{family, score, said, evidence}];
   * `clauses`: the vectors of the text's clauses, if it has several (drain.grounding.families.CLAUSE_WEIGHT). */
  matchFamilies(query, k = 3, clauses = []) {
    let found = this.scoredFamilies(query);
    if (clauses.length) {
      const best = new Map();
      for (const vector of clauses) {
        for (const m of this.scoredFamilies(vector)) {
          best.set(m.family.id, Math.max(best.get(m.family.id) ?? 0, m.score));
        }
      }
      const w = this.tuning.families.clause_weight ?? 0; // absent from exports before it
      const mixed = (m) => (1 - w) * m.score + w * Math.max(m.score, best.get(m.family.id) ?? 0);
      found = found.map((m) => ({ ...m, score: roundTo(mixed(m), 4) }));
    }
    found.sort((a, b) => b.score - a.score || (a.family.id < b.family.id ? -1 : a.family.id > b.family.id ? 1 : 0));
    return found.slice(0, k);
  }

  /** Every family scored for one vector, unordered. */
  scoredFamilies(query) {
    const weights = this.tuning.families.weights;
    const says = this.index.bestByKey("family", query);
    const votes = this.caseVotes(query);
    const cardBest = this.index.bestByKey("card", query);
    const nearestSaid = new Map();
    const familyScores = this.index.scores("family", query);
    this.index.keys.family.forEach((key, n) => {
      if (familyScores[n] > (nearestSaid.has(key) ? nearestSaid.get(key)[0] : -2)) {
        nearestSaid.set(key, [familyScores[n], this.index.texts.family[n]]);
      }
    });
    const found = [];
    for (const [id, family] of this.families) {
      const closest = this.cardsOf(id).map((card) => cardBest.get(card.id) ?? 0);
      const evidence = { says: roundTo(says.get(id) ?? 0, 4), cases: roundTo(votes.get(id) ?? 0, 4),
                         cards: roundTo(closest.length ? Math.max(...closest) : 0, 4) };
      let score = 0;
      for (const [name, value] of Object.entries(evidence)) score += weights[name] * value;
      found.push({ family, score: roundTo(score, 4), said: (nearestSaid.get(id) || [0, ""])[1], evidence });
    }
    return found;
  }

  /** The family's causes, most likely first: [{family, cause, score}]; a cause's score adds tuning
   * families.cause_cards times the closeness of the nearest of the family's cards made for it
   * (drain.grounding.families.match_causes). */
  matchCauses(query, family) {
    const scores = new Map();
    const all = this.index.scores("cause", query);
    this.index.keys.cause.forEach((key, n) => scores.set(key, all[n]));
    const similar = new Map();
    const cardScores = this.index.scores("card", query);
    this.index.keys.card.forEach((key, n) => similar.set(key, cardScores[n]));
    const nearest = new Map();
    for (const card of this.cardsOf(family.id)) {
      for (const cause of card.causes) nearest.set(cause, Math.max(nearest.get(cause) ?? 0, similar.get(card.id) ?? 0));
    }
    const weight = this.tuning.families.cause_cards;
    const ranked = family.causes.map((cause) => ({ family, cause,
      score: roundTo((scores.get(`${family.id}/${cause.id}`) ?? 0) + weight * Math.max(0, nearest.get(cause.id) ?? 0), 4) }));
    return ranked.sort((a, b) => b.score - a.score);
  }

  /** The hazard probe's weights, decoded once: one Float32Array per class (sentence dimensions, then words). */
  probeRows() {
    if (!this._probeRows) {
      const { weights_f16: encoded, shape } = this.tuning.hazards;
      const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
      const all = halfToFloat(bytes);
      this._probeRows = Array.from({ length: shape[0] }, (_, c) => all.subarray(c * shape[1], (c + 1) * shape[1]));
    }
    return this._probeRows;
  }

  /** The hazard probe's class probabilities for one text (its vector ``query``): the categories, then
   * "nothing dangerous" (drain.grounding.probe.Softmax.probabilities on drain.grounding.hazards.features). */
  hazardProbabilities(query, text) {
    const { bias, words } = this.tuning.hazards;
    const { indices, value } = wordVector(text, this.knowledge.stemmer, words.dimensions);
    const scaled = Math.fround(value * Math.fround(words.weight));
    const logits = this.probeRows().map((row, c) => {
      let sum = bias[c];
      for (let d = 0; d < query.length; d++) sum += row[d] * query[d];
      for (const i of indices) sum += row[query.length + i] * scaled;
      return sum;
    });
    const top = Math.max(...logits);
    const exps = logits.map((v) => Math.exp(v - top));
    const total = exps.reduce((a, b) => a + b, 0);
    return exps.map((v) => v / total);
  }

  /** The similar-situation hazard check: [{category, score, similar_to, probability}], most probable first.
   * The hazard probe (drain.grounding.probe: softmax over the categories and "nothing dangerous") reads the
   * text's vector and its words (words.js); it raises a category at or above its threshold, and the closest
   * known situation of that category explains it. */
  similarHazards(query, text, parts = []) {
    // parts: [vector, text] of each clause (clauses.js), read on its own as well, where a category needs its
    // threshold plus the clause margin; a category is raised by the reading that gives it the highest
    // probability among those that reach their bar (the first of equals: the whole text)
    const { categories, thresholds } = this.tuning.hazards;
    const margin = this.tuning.hazards.clause_margin || 0;
    const readings = [[query, text], ...parts];
    const probabilities = readings.map(([vector, piece]) => this.hazardProbabilities(vector, piece));
    const found = [];
    categories.forEach((category, c) => {
      const bar = (r) => thresholds[category] + (r ? margin : 0);
      let reading = -1;
      for (let r = 0; r < readings.length; r++) {
        const p = probabilities[r][c];
        if (p >= bar(r) && (reading < 0 || p > probabilities[reading][c])) reading = r;
      }
      const rows = this.hazardRows.get(category) || [];
      if (reading < 0 || !rows.length) return;
      const p = probabilities[reading][c];
      if (this.settledAside(text, category, readings, probabilities.map((row) => row[c]))) return;
      const scores = this.index.scores("hazard", readings[reading][0]);
      let best = rows[0];
      for (const row of rows) if (scores[row] > scores[best]) best = row;
      found.push({ category, score: roundTo(scores[best], 3), similar_to: this.index.texts.hazard[best],
                   probability: roundTo(p, 3) });
    });
    return found.sort((a, b) => b.probability - a.probability);
  }

  /** Whether the text tells of `category` as dealt with (SemanticHazards._settled): the clauses are the pieces. */
  settledAside(text, category, readings, p) {
    const settled = this.knowledge.settled;
    if (!settled || !settled.calm(text, category)) return false;
    const bar = this.tuning.hazards.thresholds[category]
      + (readings.length > 1 ? this.tuning.hazards.clause_margin || 0 : 0);
    const pieces = readings.length > 1 ? readings.slice(1).map(([, piece]) => piece) : [text];
    const offset = readings.length > 1 ? 1 : 0;
    return settled.setsAside(text, category, pieces, (n) => p[n + offset] >= bar);
  }

  /** The vectors and texts of a text's clauses, for the hazard check (drain.grounding.grounder.Grounder.hazards). */
  async clauseParts(text) {
    const parts = [];
    for (const piece of clauses(text)) parts.push([await this.embed(piece), piece]);
    return parts;
  }

  /** What the library says about one text (drain.grounding.grounder.Grounder.ground). */
  async ground(text, { family = null, k = 3, query = null } = {}) {
    const vector = query || await this.embed(text);
    const parts = await this.clauseParts(text);
    let families = this.matchFamilies(vector, k, parts.map(([v]) => v));
    let close = families.length >= 2 && families[0].score - families[1].score < this.tuning.families.close_call;
    if (family !== null) {
      const chosen = this.families.get(family);
      if (!chosen) throw new Error(`no family '${family}' in the house library`);
      families = families.filter((m) => m.family.id !== chosen.id);
      const top = families.length ? families[0].score : 1.0;
      families.unshift({ family: chosen, score: Math.max(top, 1.0), said: chosen.says[0], evidence: { chosen: 1.0 } });
      close = false;
    }
    const causes = families.length ? this.matchCauses(vector, families[0].family) : [];
    const confident = families.length && families[0].score >= this.tuning.confident ? families[0] : null;
    const hazards = this.similarHazards(vector, text, parts);
    return { text, query: vector, families, causes, hazards, close_call: close,
             family: confident };
  }

  /** The hazard categories raised by similarity for one text (a part, a follow-up). */
  async hazards(text) {
    return this.similarHazards(await this.embed(text), text, await this.clauseParts(text));
  }

  // ------------------------------------------------------------------------------------ candidate pairs
  /** Candidate contradictions for a grounded text, best first (drain.grounding.pairs.candidate_pairs). */
  pairs(grounding, k = 6) {
    const t = this.tuning.pairs;
    const knowledge = this.knowledge;
    const evidence = Object.fromEntries(t.order.map((name) => [name, new Map()]));
    const why = new Map();
    const add = (name, pair, value) => evidence[name].set(pair, (evidence[name].get(pair) || 0) + value);
    for (const match of grounding.families) {
      match.family.contradictions.forEach((c, position) => {
        const pair = `${c.improving}x${c.worsening}`;
        const value = match.score * (1.0 - 0.15 * position);
        evidence.family.set(pair, Math.max(evidence.family.get(pair) ?? 0, value));
        if (!why.has(pair)) why.set(pair, c.why);
      });
    }
    const caseScores = this.index.scores("case", grounding.query);
    let taken = 0;
    for (const row of rankDescending(caseScores)) {
      const weight = Math.max(0, caseScores[row]) ** 2;
      this.cases.get(this.index.keys.case[row]).pairs.forEach(([i, w], position) => {
        add("case", `${i}x${w}`, weight * (1.0 - 0.2 * position));
      });
      taken += 1;
      if (taken >= t.nearest_cases) break;
    }
    const fams = new Map(grounding.families.map((m) => [m.family.id, m.score]));
    const topFamily = Math.max(...fams.values(), -Infinity);
    const top = fams.size ? topFamily || 1.0 : 1.0;
    const cardScores = new Map();
    const all = this.index.scores("card", grounding.query);
    this.index.keys.card.forEach((key, n) => cardScores.set(key, all[n]));
    const pool = new Map();
    for (const id of fams.keys()) for (const card of this.cardsOf(id)) if (!pool.has(card.id)) pool.set(card.id, card);
    const relevance = new Map();
    for (const [id, card] of pool) {
      relevance.set(id, 0.4 * Math.max(0, cardScores.get(id) ?? 0)
        + 0.5 * Math.max(...card.families.map((f) => fams.get(f) ?? 0)) / top);
    }
    const bestCards = [...relevance.keys()].sort((a, b) => relevance.get(b) - relevance.get(a))
      .slice(0, t.nearest_cards);
    const constrained = [];
    for (const c of knowledge.constraints(grounding.text)) {
      for (const p of c.parameters) if (!constrained.includes(p)) constrained.push(p);
    }
    const worsening = constrained.length ? constrained : [32, 36, 25];
    const glosses = [...this.index.bestByKey("parameter", grounding.query)].sort((a, b) => b[1] - a[1]);
    const improving = glosses.map(([key]) => Number(key)).filter((p) => !constrained.includes(p)).slice(0, 3);
    improving.forEach((i, rank) => {
      worsening.slice(0, 3).forEach((w, position) => {
        add("gloss", `${i}x${w}`, (1.0 - 0.2 * rank) * (1.0 - 0.2 * position));
      });
    });
    const soFar = new Set();
    for (const name of t.order) {
      if (name !== "card" && t.sources.includes(name)) for (const pair of evidence[name].keys()) soFar.add(pair);
    }
    const admits = new Map();  // the best fixes each pair's cell lets through
    for (const pair of soFar) {
      const [i, w] = pair.split("x").map(Number);
      const cell = new Set(knowledge.principlesOf(i, w));
      admits.set(pair, new Set(bestCards.filter((id) => pool.get(id).principles.some((p) => cell.has(p.id)))));
      const admitted = [...admits.get(pair)].map((id) => relevance.get(id));
      if (admitted.length) evidence.card.set(pair, Math.max(...admitted));
    }
    const combined = new Map();
    const origin = new Map();
    for (const name of t.order) {
      if (!t.sources.includes(name)) continue;
      const values = evidence[name];
      const highest = Math.max(0, ...values.values());
      if (!(highest > 0)) continue;
      for (const [pair, value] of values) {
        combined.set(pair, (combined.get(pair) || 0) + t.weights[name] * (value / highest));
        if (!origin.has(pair)) origin.set(pair, []);
        origin.get(pair).push(name);
      }
    }
    const found = [];
    for (const [pair, score] of combined) {
      const [i, w] = pair.split("x").map(Number);
      if (i === w || !knowledge.principlesOf(i, w).length) continue;
      const reason = why.get(pair) || `improving ${knowledge.parameterNames.get(i).toLowerCase()} tends to cost `
        + knowledge.parameterNames.get(w).toLowerCase();
      found.push({ improving: i, worsening: w, score: roundTo(score, 4), why: reason, sources: origin.get(pair),
                   key: pair });
    }
    found.sort((a, b) => b.score - a.score || a.improving - b.improving || a.worsening - b.worsening);
    // each next pair also counts the relevant fixes its cell admits that the pairs before it did not
    // (drain.grounding.pairs._covering); sums run over sorted card ids, as in Python
    if (!t.sources.includes("card")) return found.slice(0, k);
    const sumOf = (ids) => [...ids].sort().reduce((sum, id) => sum + relevance.get(id), 0);
    const union = new Set();
    for (const ids of admits.values()) for (const id of ids) union.add(id);
    const total = sumOf(union) || 1.0;
    const chosen = [];
    const covered = new Set();
    const rest = [...found];
    while (rest.length && chosen.length < k) {
      let best = 0;
      let bestValue = -Infinity;
      rest.forEach((c, n) => {
        const value = c.score + t.cover * sumOf([...admits.get(c.key)].filter((id) => !covered.has(id))) / total;
        if (value > bestValue) { best = n; bestValue = value; }
      });
      const [pick] = rest.splice(best, 1);
      chosen.push(pick);
      for (const id of admits.get(pick.key)) covered.add(id);
    }
    return chosen;
  }

  // ------------------------------------------------------------------------------------ fix cards
  /** The constraint factor of a card (drain.grounding.cards.fit), from the exported factors. */
  fit(card, constraints) {
    const f = this.tuning.cards.fit;
    let factor = 1.0;
    if (constraints.budget === "tight") factor *= f.budget_tight[card.band];
    if (constraints.tenure === "rent" && !card.renter_ok) factor *= f.renting_not_renter_ok.factor;
    if (constraints.skill === "diy") factor *= f.skill_diy[card.diy];
    return factor;
  }

  /** Candidate fix cards for one contradiction of a grounded text, best first: [{card, family, principle,
   * position, score}] (drain.grounding.grounder.Grounder.cards and drain.grounding.cards.rank_cards). */
  rankCards(grounding, improving, worsening, constraints, { cause = null, k = 6, exclude = [], stop = [] } = {}) {
    const chosen = grounding.family !== null ? grounding.families : grounding.families.slice(0, 1);
    // only families close to the best one (drain.grounding.grounder.FAMILY_WITHIN)
    const families = chosen.filter((m) => m.score >= this.tuning.family_within * chosen[0].score);
    const cell = this.knowledge.principlesOf(improving, worsening);
    if (!cell.length) return [];
    const w = this.tuning.cards.weights;
    const matched = new Map(families.map((m) => [m.family.id, m.score]));
    const topFamily = matched.size ? Math.max(...matched.values()) || 1.0 : 1.0;
    const pool = new Map();
    for (const id of matched.keys()) for (const card of this.cardsOf(id)) if (!pool.has(card.id)) pool.set(card.id, card);
    const similar = new Map();
    const all = this.index.scores("card", grounding.query);
    this.index.keys.card.forEach((key, n) => similar.set(key, all[n]));
    const skip = new Set(exclude);
    const stopping = new Set(stop);
    // a card about the likely cause, or one answering a raised stop hazard, is lifted (cards.BOOSTS)
    const boosts = this.tuning.cards.boosts;
    const found = [];
    for (const [id, card] of pool) {
      if (skip.has(id)) continue;
      const places = card.principles.map((p) => cell.indexOf(p.id) + 1).filter((place) => place > 0);
      if (!places.length) continue;
      const position = Math.min(...places);
      let family = card.families[0];
      for (const f of card.families) if ((matched.get(f) ?? 0) > (matched.get(family) ?? 0)) family = f;
      let score = (w.similar * Math.max(0, similar.get(id) ?? 0) + w.family * (matched.get(family) ?? 0) / topFamily
        + w.position * (1.0 - 0.25 * (position - 1)));
      // safety first: a card answering a raised stop hazard gets no budget or do-it-yourself discount
      if (card.hazards.some((h) => stopping.has(h))) score *= boosts.stop_hazard;
      else score *= this.fit(card, constraints);
      if (cause !== null && card.causes.includes(cause)) score *= boosts.cause;
      found.push({ card, family, principle: cell[position - 1], position, score: roundTo(score, 4) });
    }
    found.sort((a, b) => b.score - a.score || (a.card.id < b.card.id ? -1 : a.card.id > b.card.id ? 1 : 0));
    return found.slice(0, k);
  }
}
