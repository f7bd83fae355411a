// Drawing DRAIN's answer: the hazard banner and the solution tree, as DOM nodes.
// Everything the model or the homeowner wrote goes in with textContent: it is never parsed as HTML.
// Ideas are numbered as SolutionTree.numbered_ideas() numbers them: depth first through each
// contradiction's ideas, each idea's follow-up, then the sub-problems.
// Stable attributes for tests and accessibility tools: data-hazard="<category>" on each hazard,
// data-cell="IxW" on each contradiction, data-principle="N" on its principles and ideas, data-card on card
// ideas, data-family on the clarifying question's answers.

export function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "text") node.textContent = String(value);
    else if (key === "className") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

function allNodes(tree) {
  const found = [];
  const walk = (node) => {
    found.push(node);
    for (const c of node.contradictions || []) for (const idea of c.ideas || []) if (idea.followup) walk(idea.followup);
    for (const child of node.subproblems || []) walk(child);
  };
  walk(tree);
  return found;
}

export function collectHazards(tree) {
  const seen = new Set();
  const hazards = [];
  for (const node of allNodes(tree)) {
    for (const hazard of node.hazards || []) {
      const key = `${hazard.category}|${hazard.message}`;
      if (!seen.has(key)) {
        seen.add(key);
        hazards.push(hazard);
      }
    }
  }
  return hazards.sort((a, b) => (a.severity === "stop" ? 0 : 1) - (b.severity === "stop" ? 0 : 1));
}

export function renderHazards(box, hazards) {
  const key = JSON.stringify(hazards.map((h) => [h.category, h.message]));
  if (key === box.dataset.shown) return; // unchanged: do not announce the alert again
  box.dataset.shown = key;
  box.replaceChildren();
  if (!hazards.length) return;
  const stop = hazards.some((h) => h.severity === "stop");
  const banner = el("div", { className: "hazard-banner" + (stop ? "" : " caution-only"), role: "alert",
                             id: "hazard-banner" },
                    el("h2", { text: stop ? "Stop: safety first" : "Caution: read this first" }));
  for (const h of hazards) {
    const label = `${h.severity === "stop" ? "Stop" : "Caution"}: ${String(h.category).replace(/_/g, " ")}`;
    banner.append(el("div", { className: `hazard ${h.severity}`, "data-hazard": h.category },
      el("h3", { text: label }),
      el("p", { text: h.message }),
      h.do_now && h.do_now.length ? el("ul", {}, ...h.do_now.map((t) => el("li", { text: t }))) : null,
      h.professional ? el("p", { text: `Call: ${h.professional}` }) : null,
      h.source === "similar" && h.similar_to
        ? el("p", { className: "why", text: `Raised because this sounds like: “${h.similar_to}”` }) : null));
  }
  box.append(banner);
}

// ---------------------------------------------------------------- the tree
function percent(x) {
  return `${Math.round(Number(x || 0) * 100)}%`;
}

function voteButtons(n, view) {
  const mine = (view.votes || {})[`${view.runId}:${n}`];
  const button = (rating, text) => el("button", {
    type: "button", className: `vote ${rating}`, "data-idea": n, "data-rating": rating,
    "aria-pressed": mine === rating ? "true" : "false", "aria-label": `${text} (idea ${n})`, text,
  });
  return el("div", { className: "votes", role: "group", "aria-label": `Rate idea ${n}` },
            button("up", "Helpful"), button("down", "Not helpful"));
}

function money(range, band) {
  if (!range) return `cost ${band}`;
  return `$${range[0].toLocaleString("en-US")}–$${range[1].toLocaleString("en-US")} (${band})`;
}

// A fix card's details, folded: what a homeowner opens to act on the idea.
function cardDetails(idea) {
  const facts = [money(idea.cost_usd, idea.cost), idea.time, idea.permit && idea.permit !== "none"
    ? `permit: ${idea.permit}` : null, idea.renter_ok ? "renter-friendly" : null,
    idea.reversible ? "reversible" : null].filter(Boolean).join(" · ");
  return el("details", { className: "card-details" },
    el("summary", { text: "Steps, cost and what you need" }),
    el("p", { className: "meta", text: facts }),
    idea.steps && idea.steps.length ? el("ol", { className: "steps" }, ...idea.steps.map((t) => el("li", { text: t })))
      : null,
    idea.materials && idea.materials.length ? el("p", { text: `Materials: ${idea.materials.join("; ")}` }) : null,
    idea.tools && idea.tools.length ? el("p", { text: `Tools: ${idea.tools.join("; ")}` }) : null,
    idea.call_pro ? el("p", { className: "note", text: `Call a pro: ${idea.call_pro}` }) : null,
    idea.card ? el("p", { className: "meta", text: `House library card: ${idea.card}` }) : null);
}

function renderIdea(idea, view, counter, level) {
  counter.n += 1;
  const n = counter.n;
  const p = idea.principle;
  const v = idea.provenance;
  const diy = { easy: "easy DIY", moderate: "moderate DIY", pro: "needs a pro" }[idea.diy] || idea.diy;
  const source = { card: " · from the house library", model: " · the model's own idea",
                   example: " · a home example (the model's answer failed)" }[idea.source] || "";
  const place = v.position ? `#${v.position} in the cell` : "applied by this fix";
  const item = el("li", { value: n, id: `idea-${n}`, "data-idea": n, "data-principle": p.id, "data-card": idea.card,
                          "data-source": idea.source },
    el("p", { className: "idea-text", text: idea.idea }),
    el("p", { className: "meta",
              text: `Principle ${p.id} ${p.name} · matrix cell ${v.cell}, ${place} · ${money(idea.cost_usd, idea.cost)}`
                    + ` · ${diy}${source}` }),
    idea.how ? el("p", { className: "meta", text: `How: ${idea.how}` }) : null,
    idea.source === "card" ? cardDetails(idea) : null);
  if (idea.hazards && idea.hazards.length) {
    item.append(el("p", {}, ...idea.hazards.map((h) => el("span", { className: "tag danger",
                                                                   text: `Hazard: ${h.replace(/_/g, " ")}` }))));
  }
  if (view.final && view.runId) item.append(voteButtons(n, view));
  if (idea.followup) {
    item.append(el("div", { className: "followup" },
      el("h4", { text: "New problem this fix creates" }),
      el("p", { text: idea.followup.problem }),
      ...renderNode(idea.followup, view, counter, level + 1)));
  }
  return item;
}

function renderContradiction(c, view, counter, level) {
  const heading = level === 0 ? "h3" : "h4";
  const block = el("div", { className: "block contradiction", "data-cell": `${c.improving.id}x${c.worsening.id}` },
    el(heading, { text: `Improve ${c.improving.name} without worsening ${c.worsening.name}` }),
    el("p", { className: "cell",
              text: `Matrix cell ${c.improving.id}×${c.worsening.id} (improving ${c.improving.id} ${c.improving.name}, `
                    + `worsening ${c.worsening.id} ${c.worsening.name}) · confidence ${percent(c.confidence)}` }),
    c.reason ? el("p", { className: "note", text: `Why: ${c.reason}` }) : null);
  if (c.principles && c.principles.length) {
    block.append(el("p", { className: "meta", text: "Principles, in the matrix's order:" }),
      el("ul", { className: "principles" }, ...c.principles.map((p) => el("li", { className: "tag",
                                                                                 "data-principle": p.id,
                                                                                 text: `${p.id} ${p.name}` }))));
  } else if (c.empty_cell_reason) {
    block.append(el("p", { className: "note", text: `No principles: ${c.empty_cell_reason}` }));
  }
  if (c.ideas && c.ideas.length) {
    block.append(el("ol", { className: "ideas" }, ...c.ideas.map((idea) => renderIdea(idea, view, counter, level))));
  }
  if (c.questions && c.questions.length) {
    block.append(el("p", { className: "meta", text: "To think about:" }),
      el("ul", { className: "questions" }, ...c.questions.map((q) => el("li", { "data-principle": q.principle.id,
        text: `${q.principle.id} ${q.principle.name}: ${q.question}` }))));
  }
  return block;
}

function renderNode(node, view, counter, level) {
  const parts = [];
  if (level > 0 && node.hazards && node.hazards.length) {
    parts.push(el("p", {}, ...node.hazards.map((h) => el("span", { className: "tag danger",
                                                                  text: `Hazard: ${h.category.replace(/_/g, " ")}` }))));
  }
  if (node.partial && node.notes && node.notes.length) {
    parts.push(el("p", { className: "note", text: `Partly answered: ${node.notes.join("; ")}` }));
  }
  for (const c of node.contradictions || []) parts.push(renderContradiction(c, view, counter, level));
  for (const pc of node.physical_contradictions || []) {
    parts.push(el("div", { className: "block physical" },
      el(level === 0 ? "h3" : "h4", { text: `${pc.property || pc.parameter.name} must be both high and low` }),
      pc.high_because ? el("p", { text: `High because: ${pc.high_because}` }) : null,
      pc.low_because ? el("p", { text: `Low because: ${pc.low_because}` }) : null,
      el("ul", {}, ...(pc.separations || []).map((s) => el("li", {
        text: `Separate in ${s.name}: ${s.how || s.question} `
              + `(principles ${s.principles.map((p) => `${p.id} ${p.name}`).join(", ")})` })))));
  }
  for (const child of node.subproblems || []) {
    parts.push(el("div", { className: "subproblem" },
      el(level === 0 ? "h3" : "h4", { text: `${child.check ? "If it is this" : "Part of the problem"}: ${child.problem}` }),
      child.check ? el("p", { className: "note", text: `Check: ${child.check}` }) : null,
      ...renderNode(child, view, counter, level + 1)));
  }
  return parts;
}

/** Draw `tree` into `container`; returns how many ideas it numbered.
 * view: {runId, final, votes: {"run:idea": "up" | "down"}}; vote buttons show once the answer is final. */
export function renderTree(container, tree, view) {
  const counter = { n: 0 };
  const parts = [el("div", { className: "block" }, el("h3", { text: "Problem" }), el("p", { text: tree.problem }),
                    tree.restated ? el("p", { className: "note", text: `In other words: ${tree.restated}` }) : null)];
  for (const warning of tree.input_warnings || []) parts.push(el("p", { className: "warn", text: warning }));
  for (const h of tree.dealt_with || []) {  // a danger the homeowner said was dealt with: a note, not an alarm
    parts.push(el("p", { className: "note dealt-with", "data-dealt-with": h.category,
                         text: `You said this was dealt with (${String(h.category).replace(/_/g, " ")}). `
                           + `If the signs come back: ${h.message}` }));
  }
  if (tree.clarify) {
    parts.push(el("div", { className: "block clarify", id: "clarify" },
      el("h3", { text: "Which is it?" }), el("p", { text: tree.clarify.question }),
      el("div", { className: "choices" }, ...tree.clarify.options.map((o) => el("button", {
        type: "button", className: "clarify-choice", "data-family": o.family, text: o.name })))));
  }
  if (tree.diagnosis && tree.diagnosis.length) {
    parts.push(el("div", { className: "block diagnosis", id: "diagnosis" },
      el("h3", { text: "Check first" }),
      el("p", { className: "meta", text: "What tells the likely causes apart:" }),
      el("ul", {}, ...tree.diagnosis.map((d) => el("li", {},
        el("strong", { text: d.cause }), el("span", { text: ` Check: ${d.check}` }))))));
  }
  if (tree.families && tree.families.length) {
    parts.push(el("p", { className: "meta", id: "family",
                         text: `Looks like: ${tree.families[0].name} (house library)` }));
  }
  if (tree.ideal_final_result) {
    parts.push(el("div", { className: "block ideal" }, el("h3", { text: "Ideal result" }),
                  el("p", { text: tree.ideal_final_result })));
  }
  parts.push(...renderNode(tree, view, counter, 0));
  container.replaceChildren(...parts);
  return counter.n;
}
