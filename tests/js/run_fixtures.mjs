// The JavaScript half of the parity check (tests/test_device_parity.py runs it with node):
//   node tests/js/run_fixtures.mjs DEVICE_DIR FIXTURES.json
// reads the exported data and vectors, and for each fixture case computes with the phone's engine what
// Python recorded (fed the vectors Python got, through a lookup "embedder"), solving with the same scripted
// model as tests/device_fixtures.py. Prints one JSON object: what JavaScript found, case by case.
import { readFileSync } from "node:fs";
import { Grounder, LibraryIndex } from "../../drain/serve/static/engine/grounding.js";
import { Knowledge, roundTo } from "../../drain/serve/static/engine/knowledge.js";
import { DevicePlanner } from "../../drain/serve/static/engine/planner.js";
import { ProblemChecks } from "../../drain/serve/static/engine/problem.js";
import { schemaFor, validateReply } from "../../drain/serve/static/engine/replies.js";
import { clauses } from "../../drain/serve/static/engine/clauses.js";
import { wordVector } from "../../drain/serve/static/engine/words.js";

const [folder, fixturesPath] = process.argv.slice(2);
const data = JSON.parse(readFileSync(`${folder}/drain-device.json`, "utf-8"));
const vectors = new Uint8Array(readFileSync(`${folder}/drain-vectors.f16`));
const fixtures = JSON.parse(readFileSync(fixturesPath, "utf-8"));
const FRAME = { restated: "The homeowner has a house problem to fix.", ideal_final_result: "The problem fixes itself." };

function decode(text) {
  const bytes = Buffer.from(text, "base64");
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

// JSON as Python's json.dumps writes it (", " and ": "), so the scripted replies count the same words
function pyJson(value) {
  if (Array.isArray(value)) return `[${value.map(pyJson).join(", ")}]`;
  if (value && typeof value === "object") {
    return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pyJson(v)}`).join(", ")}}`;
  }
  return JSON.stringify(value);
}

// tests/device_fixtures.py's scripted_reply, word for word in behaviour
function scriptedReply(messages, schema) {
  const properties = schema.properties || {};
  if ("restated" in properties) {
    return pyJson({ ...FRAME, budget: "unknown", skill: "unknown", time: "unknown", tenure: "own" });
  }
  const field = "pairs" in properties ? "pairs" : "cards";
  if (field === "pairs" && messages.length === 2 && messages[1].content.includes("gas")) {
    return pyJson({ pairs: ["0x0"] });
  }
  const spec = properties[field];
  return pyJson({ [field]: [...spec.items.enum].reverse().slice(0, spec.maxItems) });
}

const words = (text) => text.split(/\s+/).filter(Boolean).length;
const scripted = {
  async complete(messages, { schema }) {
    const text = scriptedReply(messages, schema);
    return { text, prompt_tokens: messages.reduce((n, m) => n + words(m.content), 0), completion_tokens: words(text),
             cached_tokens: 0, seconds: 0 };
  },
};

const index = new LibraryIndex(data.index, vectors);
const knowledge = new Knowledge(data);
const out = { digest: data.digest, checks: [], rules: [], constraints: [], replies: [], cases: [], words: [], clauses: [] };
for (const [text] of fixtures.clauses) out.clauses.push([text, clauses(text)]);
for (const [text] of fixtures.words) {
  const { indices, value } = wordVector(text, knowledge.stemmer, data.tuning.hazards.words.dimensions);
  out.words.push([text, [...indices].sort((a, b) => a - b), Math.fround(value)]);
}
const problemChecks = new ProblemChecks(data.problem);
for (const [text] of fixtures.checks) {
  try {
    out.checks.push([text, null, problemChecks.read(text).warnings]);
  } catch (err) {
    out.checks.push([text, err.message, null]);
  }
}
for (const [step, ids, most, text] of fixtures.replies) {
  const template = data.steps[step].schema;
  const schema = step === "frame" ? template : schemaFor(template, data.steps.placeholders, ids, most);
  const distinct = { frame: [], contradict: ["pairs"], resolve: ["cards"] }[step];
  const call = { step, schema, distinct, messages: [{ role: "system", content: fixtures.instructions }] };
  const { reply, error } = validateReply(knowledge.stemmer, call, text);
  out.replies.push([step, ids, most, text, reply, error]);
}
for (const [text] of fixtures.rules) {
  out.rules.push([text, knowledge.checkHazards(text).map((h) => [h.category, h.matched]),
                  knowledge.checkHazards(text, { actions: true }).map((h) => [h.category, h.matched]),
                  knowledge.setAsideHazards(text).map((h) => h.category)]);
}
for (const [text] of fixtures.constraints) out.constraints.push([text, knowledge.constraints(text).map((c) => c.name)]);

for (const fixture of fixtures.cases) {
  const table = new Map(Object.entries(fixture.vectors).map(([text, v]) => [text, decode(v)]));
  const missing = [];
  const embed = async (text) => {
    if (!table.has(text)) {
      missing.push(text);
      return new Float32Array(data.index.dimension);
    }
    return table.get(text);
  };
  const grounder = new Grounder(knowledge, data, index, embed);
  const planner = new DevicePlanner(knowledge, grounder, data, scripted, new ProblemChecks(data.problem));
  const grounding = await grounder.ground(fixture.problem);
  const pairs = grounder.pairs(grounding, 6);
  const constraints = planner.constraintsOf(fixture.problem);
  const tree = await planner.solve(fixture.problem, { settings: { concurrency: 1 },
                                                      backend: { backend: "fake", model: "fake-model", adapter: null } });
  out.cases.push({
    problem: fixture.problem,
    missing_vectors: missing,
    rule_hazards: knowledge.checkHazards(fixture.problem).map((h) => h.category),
    similar_hazards: grounding.hazards.map((h) => [h.category, h.score, h.similar_to, h.probability]),
    probabilities: grounder.hazardProbabilities(grounding.query, fixture.problem).map((p) => roundTo(p, 6)),
    families: grounding.families.map((m) => [m.family.id, m.score]),
    close_call: grounding.close_call,
    causes: grounding.causes.map((m) => [m.cause.id, m.score]),
    pairs: pairs.map((c) => [c.key, c.score, c.sources, c.why]),
    cells: Object.fromEntries(pairs.map((c) => [c.key, knowledge.principlesOf(c.improving, c.worsening)])),
    cards: pairs.map((c) => ({ pair: c.key, cards: grounder.rankCards(grounding, c.improving, c.worsening, constraints)
      .map((o) => ({ card: o.card.id, family: o.family, principle: o.principle, position: o.position,
                     score: o.score })) })),
    tree: JSON.parse(JSON.stringify(tree)),
  });
}
process.stdout.write(JSON.stringify(out));
