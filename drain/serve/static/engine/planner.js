// The planner on the phone: drain/planner/planner.py and the steps of drain/steps/ that the device runs
// (frame, contradict and resolve ask the model; parts and followup are the library's), level by level,
// with the same prompts (rendered from the exported prompts/*.j2), the same JSON-schema constraints, the one
// re-ask on an invalid reply, the call budget, the same fallbacks and the same tree. Model calls go one at
// a time (the phone has one slot): in each level the steps that need no model apply first, then the others
// in order, as Python's planner does with one slot. Decompose and deepen (model fallbacks for a problem no
// family fits, or for an idea a model wrote) stay on the server: the tree says so in a note.
import { schemaFor, validateReply } from "./replies.js";
import { Template } from "./template.js";
import * as build from "./tree.js";

class CallBudgetExhausted extends Error {}

/** One solve's conversation with the model: memoised questions, a call budget, validation with one re-ask. */
class Session {
  constructor(llm, stemmer, settings, reask, onExchange) {
    this.llm = llm;
    this.stemmer = stemmer;
    this.settings = settings;
    this.reask = reask;
    this.onExchange = onExchange;
    this.memo = new Map();
    this.stats = { llm_calls: 0, reasks: 0, memo_hits: 0, prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0 };
    this.modelSeconds = 0;
  }

  async ask(call) {
    const key = JSON.stringify([call.step, call.messages, call.schema, call.maxTokens]);
    if (this.memo.has(key)) {
      this.stats.memo_hits += 1;
      return { ...(await this.memo.get(key)), attempts: 0, memo_hit: true };
    }
    const answer = this.fresh(call);
    this.memo.set(key, answer);
    try {
      return await answer;
    } catch (err) {
      this.memo.delete(key);
      throw err;
    }
  }

  async fresh(call) {
    let messages = [...call.messages];
    let error = null;
    for (const attempt of [1, 2]) {
      if (this.stats.llm_calls >= this.settings.max_calls) {
        throw new CallBudgetExhausted(`stopped at the call limit (${this.settings.max_calls})`);
      }
      this.stats.llm_calls += 1;
      const startedAt = Date.now() / 1000;
      const started = performance.now();
      const completion = await this.llm.complete(messages, {
        schema: call.schema, maxTokens: Math.min(call.maxTokens, 1024), temperature: this.settings.temperature,
        seed: this.settings.seed });
      this.modelSeconds += (performance.now() - started) / 1000;
      this.stats.prompt_tokens += completion.prompt_tokens;
      this.stats.completion_tokens += completion.completion_tokens;
      this.stats.cached_tokens += completion.cached_tokens || 0;
      const checked = validateReply(this.stemmer, call, completion.text);
      error = checked.error;
      if (this.onExchange) {
        this.onExchange({ step: call.step, messages, schema: call.schema, reply: completion.text, valid: !error, error,
                          attempt, prompt_tokens: completion.prompt_tokens,
                          completion_tokens: completion.completion_tokens, seconds: completion.seconds,
                          started_at: startedAt });
      }
      if (!error) return { reply: checked.reply, error: null, attempts: attempt };
      if (attempt === 1) {
        this.stats.reasks += 1;
        messages = [...messages, { role: "assistant", content: completion.text },
                    { role: "user", content: this.reask.replace("{error}", error) }];
      }
    }
    return { reply: null, error, attempts: 2 };
  }
}

/** Solve house problems on the device: `new DevicePlanner(knowledge, grounder, data, llm).solve(text)`. */
export class DevicePlanner {
  constructor(knowledge, grounder, data, llm, problemChecks) {
    this.knowledge = knowledge;
    this.grounder = grounder;
    this.data = data;
    this.llm = llm;
    this.checks = problemChecks;
    this.steps = data.steps;
    this.templates = Object.fromEntries(["frame", "contradict", "resolve"]
      .map((step) => [step, new Template(data.steps[step].template)]));
  }

  render(step, context) {
    const values = Object.fromEntries(Object.entries(context)
      .map(([k, v]) => [k, typeof v === "string" ? this.checks.neutralise(v) : v]));
    const template = this.templates[step];
    return [{ role: "system", content: template.render("system", values) },
            { role: "user", content: template.render("user", values) }];
  }

  constraintsOf(text) {
    const named = this.knowledge.constraints(text).map((c) => c.name);
    return { budget: named.includes("budget") ? "tight" : "unknown", skill: named.includes("skill") ? "diy" : "unknown",
             time: named.includes("time") ? "urgent" : "unknown", tenure: named.includes("renting") ? "rent" : "unknown",
             named };
  }

  /** The solution tree for `text` (schema_version 2); `onEvent(kind, data)` sees start, level and tree. */
  async solve(text, { settings = {}, family = null, onEvent = null, onExchange = null, backend = null } = {}) {
    const problem = this.checks.read(text);
    const s = { ...this.data.planner, ...settings };
    const started = performance.now();
    const emit = (kind, data) => { if (onEvent) onEvent(kind, data); };
    const tree = {
      ...build.node(problem.text), schema_version: this.data.schema_version, run_id: null, restated: null,
      input_warnings: problem.warnings, constraints: this.constraintsOf(problem.text), families: [], diagnosis: [],
      dealt_with: [], clarify: null, backend: backend || { backend: "device", model: "drain-phone.gguf", adapter: null },
      settings: s, stats: {},
    };
    const context = { tree, settings: s, family, causes: new Map(), groundings: new Map() };
    const grounding = await this.grounding(context, tree);
    tree.hazards = await build.hazardsOf(this.knowledge, this.grounder, problem.text, grounding.hazards);
    const raised = new Set(tree.hazards.map((h) => h.category)); // a note never contradicts an alarm
    tree.dealt_with = build.dealtWith(this.knowledge, problem.text).filter((h) => !raised.has(h.category));
    tree.families = grounding.families.map((m) => ({ id: m.family.id, name: m.family.name, score: m.score,
                                                     said: m.said }));
    if (grounding.family === null) {
      tree.notes.push("no problem family of the house library fits this closely; the ideas that follow are the "
        + "nearest the library has");
    }
    const session = new Session(this.llm, this.knowledge.stemmer, s, this.steps.reask, onExchange);
    let tasks = [{ step: "frame", node: tree, data: {} }, { step: "contradict", node: tree, data: {} }];
    emit("start", { problem: problem.text, run_id: null, hazards: tree.hazards });
    tree.stats.levels = 0;
    while (tasks.length) {
      tree.stats.levels += 1;
      emit("level", { level: tree.stats.levels, calls: tasks.length });
      tasks = await this.level(context, session, tasks);
      this.finishStats(tree, session, started);
      emit("tree", { level: tree.stats.levels, tree });
    }
    this.finishStats(tree, session, started);
    return tree;
  }

  async level(context, session, tasks) {
    const results = new Array(tasks.length);
    const asking = [];
    for (const [n, task] of tasks.entries()) {
      if ((task.data.defer || 0) > 0) {
        results[n] = [{ ...task, data: { ...task.data, defer: task.data.defer - 1 } }];
        continue;
      }
      const call = await this.request(context, task);
      if (call === null) results[n] = await this.finish(context, task, await this.apply(context, task, null));
      else asking.push([n, task, call]);
    }
    for (const [n, task, call] of asking) {
      let found;
      try {
        const answer = await session.ask(call);
        found = answer.reply !== null ? await this.apply(context, task, answer.reply)
          : await this.fallback(context, task, answer.error || "no valid reply");
      } catch (err) {
        if (!(err instanceof CallBudgetExhausted)) throw err;
        build.markPartial(context.tree, err.message);
        found = await this.fallback(context, task, err.message);
      }
      results[n] = await this.finish(context, task, found);
    }
    return results.flat();
  }

  async finish(context, task, found) {
    if (task.step === "contradict" && task.node === context.tree) {
      return [...found, { step: "parts", node: context.tree, data: { defer: found.length ? 1 : 0 } }];
    }
    return found;
  }

  finishStats(tree, session, started) {
    Object.assign(tree.stats, session.stats);
    tree.stats.wall_seconds = Math.round(performance.now() - started) / 1000;
    tree.stats.model_seconds = Math.round(session.modelSeconds * 1000) / 1000;
    let partial = 0;
    const walk = (n) => {
      if (n.partial) partial += 1;
      for (const c of n.contradictions) for (const idea of c.ideas) if (idea.followup) walk(idea.followup);
      for (const child of n.subproblems) walk(child);
    };
    walk(tree);
    tree.stats.partial_nodes = partial;
  }

  async grounding(context, target) {
    if (!context.groundings.has(target)) {
      const chosen = target === context.tree ? context.family : null;
      context.groundings.set(target, await this.grounder.ground(target.problem, { family: chosen }));
    }
    return context.groundings.get(target);
  }

  // ------------------------------------------------------------------------------------------ requests
  async request(context, task) {
    if (task.step === "frame") {
      const step = this.steps.frame;
      return { step: "frame", messages: this.render("frame", { problem: task.node.problem }), schema: step.schema,
               maxTokens: step.max_tokens, distinct: [] };
    }
    if (task.step === "contradict") return this.contradictRequest(context, task);
    if (task.step === "resolve") return this.resolveRequest(context, task);
    return null; // parts, followup: the library's alone
  }

  most(context, target) {
    return target === context.tree ? context.settings.contradictions : context.settings.child_contradictions;
  }

  async contradictRequest(context, task) {
    const grounding = await this.grounding(context, task.node);
    const offered = this.grounder.pairs(grounding, context.settings.candidates);
    task.data.offered = offered;
    if (offered.length <= 1) return null;
    const names = this.knowledge.parameterNames;
    const views = offered.map((c) => ({ key: c.key, improving: names.get(c.improving).toLowerCase(),
                                        worsening: names.get(c.worsening).toLowerCase(), why: c.why }));
    const most = Math.max(1, Math.min(this.most(context, task.node), offered.length));
    const step = this.steps.contradict;
    return { step: "contradict", messages: this.render("contradict", { problem: task.node.problem, pairs: views }),
             schema: schemaFor(step.schema, this.steps.placeholders, offered.map((c) => c.key), most),
             maxTokens: step.max_tokens, distinct: ["pairs"] };
  }

  async offeredCards(context, target, c) {
    const grounding = await this.grounding(context, target);
    const s = context.settings;
    const taken = [];
    const cause = context.causes.get(target) ?? null;
    const stop = target.hazards.filter((h) => h.severity === "stop").map((h) => h.category);
    for (const earlier of target.contradictions) {
      const ranked = this.grounder.rankCards(grounding, earlier.improving.id, earlier.worsening.id,
                                             context.tree.constraints, { cause, k: s.candidates, exclude: taken, stop });
      if (earlier === c) return ranked;
      taken.push(...ranked.slice(0, s.principles).map((o) => o.card.id));
    }
    return [];
  }

  async resolveRequest(context, task) {
    const c = task.data.contradiction;
    const ranked = await this.offeredCards(context, task.node, c);
    task.data.offered = ranked;
    const most = context.settings.principles;
    // the model chooses only among the cards scored close to the best (drain.steps.resolve.close_to_best)
    const offered = ranked.filter((o) => o.score >= this.steps.resolve.offer_within * ranked[0].score);
    if (offered.length <= most) return null; // the ranking is clear: its best cards are shown, nothing to choose
    const names = this.knowledge.parameterNames;
    const views = offered.map((o) => ({ id: o.card.id, what: o.card.what, cost: o.card.band, diy: o.card.diy,
                                        principle: o.principle }));
    const shown = Math.max(1, Math.min(most, offered.length));
    const step = this.steps.resolve;
    const messages = this.render("resolve", {
      problem: task.node.problem, improving: names.get(c.improving.id).toLowerCase(),
      worsening: names.get(c.worsening.id).toLowerCase(), cards: views, writes: false,
      principles: c.principles.map((p) => ({ id: p.id, name: p.name })) });
    return { step: "resolve", messages, schema: schemaFor(step.schema, this.steps.placeholders,
                                                          offered.map((o) => o.card.id), shown),
             maxTokens: step.max_tokens * shown + 12, distinct: ["cards"] };
  }

  // ------------------------------------------------------------------------------------------ applying
  async apply(context, task, reply) {
    return this[task.step](context, task, reply);
  }

  async fallback(context, task, error) {
    if (task.step === "frame") {
      build.markPartial(task.node, `frame: ${error}`);
      context.tree.ideal_final_result = (await this.libraryIdeal(context)) || context.tree.ideal_final_result;
      return [];
    }
    if (task.step === "contradict") {
      build.markPartial(task.node, `contradict: ${error}; the best-ranked candidates stand in`);
      return this.contradict(context, task, null);
    }
    if (task.step === "resolve") {
      const c = task.data.contradiction;
      build.markPartial(task.node, `resolve ${c.improving.id}x${c.worsening.id}: ${error}; the best-ranked cards `
        + "stand in");
      return this.resolve(context, task, null);
    }
    return this.apply(context, task, null);
  }

  /** The confidently matched family's ideal final result (the homeowner's chosen family first), if any. */
  async libraryIdeal(context) {
    const grounding = await this.grounding(context, context.tree);
    if (context.family !== null) return this.grounder.families.get(context.family).ideal ?? null;
    return grounding.family !== null ? grounding.family.family.ideal ?? null : null;
  }

  async frame(context, task, reply) {
    const tree = context.tree;
    tree.restated = reply.restated;
    tree.ideal_final_result = (await this.libraryIdeal(context)) || reply.ideal_final_result;
    for (const name of ["budget", "skill", "time", "tenure"]) {
      if (tree.constraints[name] === "unknown") tree.constraints[name] = reply[name];
    }
    return [];
  }

  async contradict(context, task, reply) {
    const target = task.node;
    const offered = task.data.offered;
    const byKey = new Map(offered.map((c) => [c.key, c]));
    const chosen = (reply ? reply.pairs : []).map((key) => byKey.get(key));
    const top = Math.max(...offered.map((c) => c.score), -Infinity);
    const scale = offered.length ? top || 1.0 : 1.0;
    const most = this.most(context, target);
    const picked = chosen.map((c, rank) => [c, 0.9 - 0.15 * rank, "model"]);
    for (const c of offered) {
      if (picked.length >= most) break;
      if (!chosen.includes(c)) {
        const origin = c.sources.length === 1 && c.sources[0] === "lexicon" ? "lexicon" : "library";
        picked.push([c, 0.55 - 0.1 * picked.length, origin]);
      }
    }
    for (const [c, base, origin] of picked.slice(0, most)) {
      const confidence = base * (0.6 + 0.4 * c.score / scale);
      target.contradictions.push(build.contradiction(this.knowledge, c.improving, c.worsening, confidence, c.why,
                                                     origin));
    }
    target.contradictions = target.contradictions
      .map((c, n) => [c, n])
      .sort(([a, i], [b, j]) => (!a.principles.length) - (!b.principles.length) || b.confidence - a.confidence || i - j)
      .map(([c]) => c);
    const grounding = await this.grounding(context, target);
    if (grounding.family !== null && !target.physical_contradictions.length) {
      target.physical_contradictions.push(...grounding.family.family.physical
        .map((reading) => build.physicalFromLibrary(this.knowledge, reading)));
    }
    if (!target.contradictions.length) {
      target.notes.push("no contradiction with a non-empty matrix cell was found for this problem");
    }
    if (!context.settings.ideas) return [];
    return target.contradictions.filter((c) => c.principles.length)
      .map((c) => ({ step: "resolve", node: target, data: { contradiction: c } }));
  }

  async resolve(context, task, reply) {
    const target = task.node;
    const c = task.data.contradiction;
    const offered = task.data.offered;
    const byId = new Map(offered.map((o) => [o.card.id, o]));
    const chosen = ((reply && reply.cards) || []).filter((id) => byId.has(id)).map((id) => byId.get(id));
    const elsewhere = new Set();
    for (const other of target.contradictions) {
      if (other === c) continue;
      for (const idea of other.ideas) if (idea.card) elsewhere.add(idea.card);
    }
    const order = [...chosen, ...offered.filter((o) => !chosen.includes(o))];
    for (const candidate of order) {
      if (c.ideas.length >= context.settings.principles) break;
      if (!elsewhere.has(candidate.card.id)) {
        c.ideas.push(build.cardIdea(this.knowledge, candidate.card, c, candidate.family));
      }
    }
    const applied = new Set(c.ideas.map((idea) => idea.principle.id));
    c.questions = c.principles.slice(0, context.settings.principles).filter((p) => !applied.has(p.id))
      .map((p) => build.question(this.knowledge, c, p.id));
    return this.deeper(context, target, c.ideas);
  }

  deeper(context, target, ideas) {
    const s = context.settings;
    if (target.depth >= s.depth || s.deepen < 1) return [];
    const tasks = [];
    for (const idea of ideas) {
      if (tasks.length >= s.deepen) break;
      const card = idea.card ? this.grounder.cards.get(idea.card) : null;
      if (card && card.creates.length) {
        const followup = card.creates[0];
        const child = build.node(followup.problem, target.depth + 1);
        idea.followup = child;
        tasks.push({ step: "followup", node: child, data: { followup } });
      }
    }
    return tasks;
  }

  async followup(context, task) {
    const target = task.node;
    const followup = task.data.followup;
    target.hazards = await build.hazardsOf(this.knowledge, this.grounder, target.problem);
    const c = build.contradiction(this.knowledge, followup.improving, followup.worsening, 0.6,
                                  "a new problem the fix creates", "followup");
    target.contradictions.push(c);
    const source = task.data.family ?? null;
    c.ideas = followup.cards.slice(0, context.settings.principles)
      .map((id) => build.cardIdea(this.knowledge, this.grounder.cards.get(id), c, source));
    if (target.depth >= context.settings.depth) return [];
    for (const idea of c.ideas) {
      const card = idea.card ? this.grounder.cards.get(idea.card) : null;
      if (card && card.creates.length) {
        const deeper = card.creates[0];
        const child = build.node(deeper.problem, target.depth + 1);
        idea.followup = child;
        return [{ step: "followup", node: child, data: { followup: deeper } }];
      }
    }
    return [];
  }

  async parts(context) {
    const tree = context.tree;
    const s = context.settings;
    const grounding = await this.grounding(context, tree);
    if (grounding.family === null) {
      if (s.depth >= 2 && s.subproblems > 0) {
        tree.notes.push("the parts of a problem no library family fits are written by the model on the DRAIN "
          + "server; on the phone the tree stops at the problem's own contradictions");
      }
      return [];
    }
    if (grounding.close_call && context.family === null && grounding.families.length >= 2) {
      const [first, second] = [grounding.families[0].family, grounding.families[1].family];
      tree.clarify = { question: `Which is closer to your problem: ${first.name.toLowerCase()}, or `
        + `${second.name.toLowerCase()}?`, options: [first, second].map((f) => ({ family: f.id, name: f.name })) };
    }
    const family = grounding.family.family;
    const cards = this.grounder.cardsOf(family.id);
    const fixes = new Map(grounding.causes.map((m) => [m.cause.id,
      [...new Set(cards.filter((card) => card.causes.includes(m.cause.id)).map((card) => card.id))].sort()]));
    const different = new Set([...fixes.values()].filter((f) => f.length).map((f) => f.join("\u0000")));
    if (different.size >= 2) {
      tree.diagnosis = grounding.causes.map((m) => ({ family: family.id, cause: m.cause.cause, check: m.cause.check }));
    }
    if (s.depth < 2 || s.subproblems < 1 || !tree.diagnosis.length) return [];
    const taken = tree.contradictions.flatMap((c) => c.ideas.filter((i) => i.card).map((i) => i.card));
    const tasks = [];
    for (const match of grounding.causes.filter((m) => fixes.get(m.cause.id).length).slice(0, s.subproblems)) {
      const child = build.node(match.cause.cause, 2, {
        check: match.cause.check,
        hazards: await build.hazardsOf(this.knowledge, this.grounder, match.cause.cause) });
      context.causes.set(child, match.cause.id);
      context.groundings.set(child, grounding);
      const mine = fixes.get(match.cause.id).map((id) => this.grounder.cards.get(id));
      let pair = null;
      let best = -1;
      for (const candidate of family.contradictions) {
        const cell = new Set(this.knowledge.principlesOf(candidate.improving, candidate.worsening));
        const fit = mine.filter((card) => card.principles.some((p) => cell.has(p.id))).length;
        if (fit > best) {
          best = fit;
          pair = candidate;
        }
      }
      const c = build.contradiction(this.knowledge, pair.improving, pair.worsening, 0.6, pair.why, "library");
      child.contradictions.push(c);
      if (s.ideas && c.principles.length) {
        const ranked = this.grounder.rankCards(grounding, pair.improving, pair.worsening, tree.constraints,
                                               { cause: match.cause.id, k: this.grounder.cards.size, exclude: taken,
                                                 stop: child.hazards.filter((h) => h.severity === "stop")
                                                   .map((h) => h.category) });
        for (const o of ranked.filter((r) => r.card.causes.includes(match.cause.id)).slice(0, s.principles)) {
          c.ideas.push(build.cardIdea(this.knowledge, o.card, c, o.family));
          taken.push(o.card.id);
        }
      }
      tree.subproblems.push(child);
      tasks.push(...this.partFollowups(context, child, c.ideas));
    }
    return tasks;
  }

  /** The new problem a part's first fix that creates one brings, one level deeper (while the depth allows). */
  partFollowups(context, part, ideas) {
    if (part.depth >= context.settings.depth || context.settings.deepen < 1) return [];
    for (const idea of ideas) {
      const card = idea.card ? this.grounder.cards.get(idea.card) : null;
      if (card && card.creates.length) {
        idea.followup = build.node(card.creates[0].problem, part.depth + 1);
        return [{ step: "followup", node: idea.followup, data: { followup: card.creates[0] } }];
      }
    }
    return [];
  }
}
