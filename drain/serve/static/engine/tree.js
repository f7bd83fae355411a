// Building the parts of a solution tree as drain/steps/tree.py builds them, in the solve JSON contract
// (schema_version 2): contradictions with their matrix cell, ideas from fix cards, questions for the
// principles no card applies, physical contradictions with their separations, and the hazards (rules, then
// similar situations, stop first). Only fields of drain/schema.py, so the server can validate a phone's tree.
import { roundTo } from "./knowledge.js";

/** An empty node (drain.schema.Node). */
export function node(problem, depth = 1, extra = {}) {
  return { problem, ideal_final_result: null, hazards: [], contradictions: [], physical_contradictions: [],
           subproblems: [], depth, partial: false, notes: [], check: null, ...extra };
}

/** Mark a node partial with a note saying what is missing (drain.steps.context.mark_partial). */
export function markPartial(target, note) {
  target.partial = true;
  if (!target.notes.includes(note)) target.notes.push(note);
}

/** A contradiction with its matrix cell; an empty cell halves the confidence and fails closed. */
export function contradiction(knowledge, improving, worsening, confidence, reason, source) {
  const found = knowledge.lookup(improving, worsening);
  const scaled = confidence * (found.principles.length ? 1.0 : 0.5);
  return {
    improving: knowledge.parameterRef(improving), worsening: knowledge.parameterRef(worsening),
    confidence: roundTo(Math.max(0.0, Math.min(1.0, scaled)), 2), reason, source,
    principles: found.principles.map((p) => knowledge.principleRef(p)), empty_cell_reason: found.reason,
    ideas: [], questions: [],
  };
}

function provenance(c, principle) {
  const cell = c.principles.map((p) => p.id);
  const i = c.improving.id;
  const w = c.worsening.id;
  return { improving: i, worsening: w, cell: `${i}x${w}`, principle,
           position: cell.includes(principle) ? cell.indexOf(principle) + 1 : 0 };
}

/** An idea from a fix card, traced to the card's principle that stands first in the cell. */
export function cardIdea(knowledge, card, c, family) {
  const cell = c.principles.map((p) => p.id);
  const inside = card.principles.filter((p) => cell.includes(p.id));
  let chosen = card.principles[0];
  if (inside.length) chosen = inside.reduce((best, p) => (cell.indexOf(p.id) < cell.indexOf(best.id) ? p : best));
  return {
    principle: knowledge.principleRef(chosen.id), idea: card.what, how: chosen.how, cost: card.band, diy: card.diy,
    hazards: [...card.hazards], source: "card", provenance: provenance(c, chosen.id), followup: null, card: card.id,
    family: family ?? null, steps: [...card.steps], materials: [...card.materials], tools: [...card.tools],
    cost_usd: card.cost_usd && card.cost_usd.length ? [...card.cost_usd] : null, time: card.time ?? null,
    permit: card.permit ?? null, renter_ok: card.renter_ok ?? null, reversible: card.reversible ?? null,
    call_pro: card.call_pro ?? null,
  };
}

/** A principle of the cell no card applies here, asked as a question (its first sub-principle). */
export function question(knowledge, c, principle) {
  const details = knowledge.principles.get(principle);
  const sub = details.sub_principles[0].replace(/[. ]+$/, "");
  return { principle: { id: principle, name: details.name },
           question: `Could you ${sub[0].toLowerCase()}${sub.slice(1)}?`, provenance: provenance(c, principle) };
}

function separations(knowledge, parameter) {
  return knowledge.separate(parameter).map((o) => ({
    name: o.name, question: o.question, principles: o.principles.slice(0, 4).map((p) => knowledge.principleRef(p)),
    how: null,
  }));
}

/** A family's physical contradiction, with its resolving separation first and the others after. */
export function physicalFromLibrary(knowledge, reading) {
  const found = separations(knowledge, reading.parameter);
  const ordered = [...found.filter((s) => s.name === reading.separation),
                   ...found.filter((s) => s.name !== reading.separation)];
  if (ordered.length && ordered[0].name === reading.separation) ordered[0] = { ...ordered[0], how: reading.how };
  return { parameter: knowledge.parameterRef(reading.parameter), high_because: reading.high,
           low_because: reading.low, separations: ordered, property: reading.property ?? null, source: "library" };
}

/** The rule hazards a text tells of as dealt with (drain.schema.SolutionTree.dealt_with). */
export function dealtWith(knowledge, text) {
  return knowledge.setAsideHazards(text).map((m) => ({
    category: m.category, severity: m.severity, message: m.message, do_now: m.do_now, professional: m.professional,
    matched: m.matched, source: "rule", similar_to: null, score: null,
  }));
}

/** The hazards of a text: every rule that fires, then every similar known situation; stop first.
 * `similar`: the semantic matches when already computed; else `grounder.hazards(text)` (async). */
export async function hazardsOf(knowledge, grounder, text, similar = null) {
  const found = knowledge.checkHazards(text).map((m) => ({
    category: m.category, severity: m.severity, message: m.message, do_now: m.do_now, professional: m.professional,
    matched: m.matched, source: "rule", similar_to: null, score: null,
  }));
  if (grounder) {
    const matches = similar === null ? await grounder.hazards(text) : similar;
    const have = new Set(found.map((h) => h.category));
    for (const match of matches) {
      if (have.has(match.category)) continue;
      const rule = knowledge.ruleBy.get(match.category);
      found.push({ category: match.category, severity: rule.severity, message: rule.message,
                   do_now: [...rule.do_now], professional: rule.professional, matched: [], source: "similar",
                   similar_to: match.similar_to, score: match.score });
      have.add(match.category);
    }
  }
  return knowledge.sortHazards(found);
}
