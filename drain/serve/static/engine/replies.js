// The model steps' replies on the phone: the JSON schema sent to wllama (the exported pydantic schema, with
// this call's ids in its enums) and the validation of what comes back, as drain/steps/*.py and
// drain/planner/session.py do it: the schema's own rules and no copy of the
// instructions; an id given twice is read once. An invalid reply gets one re-ask with the error; then the
// step's fallback stands in.

/** The schema of one call: the exported template with `choices` in place of the placeholders, at most `most`. */
export function schemaFor(template, placeholders, choices, most) {
  const copy = JSON.parse(JSON.stringify(template));
  const walk = (value) => {
    if (Array.isArray(value)) return value.map(walk);
    if (value && typeof value === "object") {
      for (const [key, inner] of Object.entries(value)) {
        if (key === "enum" && inner.length && placeholders.includes(inner[0])) value[key] = [...choices];
        else value[key] = walk(inner);
      }
      if (value.type === "array" && value.items && value.items.enum && most !== undefined) value.maxItems = most;
    }
    return value;
  };
  return walk(copy);
}

class ReplyError extends Error {}

function check(schema, value, where) {
  if (schema.enum) {
    if (!schema.enum.includes(value)) {
      const quoted = schema.enum.map((v) => `'${v}'`);
      const listed = quoted.length > 1 ? `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}` : quoted[0];
      throw new ReplyError(`${where}: Input should be ${listed}`);
    }
    return value;
  }
  if (schema.type === "object") {
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw new ReplyError(`${where}: Input should be an object`);
    }
    const out = {};
    for (const name of schema.required || []) {
      if (!(name in value)) throw new ReplyError(`${where === "reply" ? "" : `${where}.`}${name}: Field required`);
    }
    for (const [name, inner] of Object.entries(value)) {
      const at = where === "reply" ? name : `${where}.${name}`;
      if (!schema.properties || !(name in schema.properties)) {
        throw new ReplyError(`${at}: Extra inputs are not permitted`);
      }
      out[name] = check(schema.properties[name], inner, at);
    }
    for (const [name, inner] of Object.entries(schema.properties || {})) {
      if (!(name in out) && "default" in inner) out[name] = inner.default;
    }
    return out;
  }
  if (schema.type === "array") {
    if (!Array.isArray(value)) throw new ReplyError(`${where}: Input should be a valid array`);
    const items = (n) => `${n} item${n === 1 ? "" : "s"}`;
    if (schema.minItems !== undefined && value.length < schema.minItems) {
      throw new ReplyError(`${where}: List should have at least ${items(schema.minItems)} after validation, not `
        + `${value.length}`);
    }
    if (schema.maxItems !== undefined && value.length > schema.maxItems) {
      throw new ReplyError(`${where}: List should have at most ${items(schema.maxItems)} after validation, not `
        + `${value.length}`);
    }
    return value.map((item, n) => check(schema.items || {}, item, `${where}.${n}`));
  }
  if (schema.type === "string") {
    if (typeof value !== "string") throw new ReplyError(`${where}: Input should be a valid string`);
    const stripped = value.trim();
    if (schema.minLength !== undefined && [...stripped].length < schema.minLength) {
      throw new ReplyError(`${where}: String should have at least ${schema.minLength} characters`);
    }
    if (schema.maxLength !== undefined && [...stripped].length > schema.maxLength) {
      throw new ReplyError(`${where}: String should have at most ${schema.maxLength} characters`);
    }
    return stripped;
  }
  return value;
}

function checkNotEcho(stemmer, value, instructions, where = "reply") {
  if (Array.isArray(value)) value.forEach((item, n) => checkNotEcho(stemmer, item, instructions, `${where}.${n}`));
  else if (value && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) checkNotEcho(stemmer, item, instructions, `${where}.${key}`);
  } else if (typeof value === "string") {
    const words = stemmer.contentStems(value);
    const theirs = stemmer.contentStems(instructions);
    const shared = [...words].filter((w) => theirs.has(w)).length;
    if (words.size >= 4 && shared >= 0.7 * words.size) {
      throw new ReplyError(`${where} repeats the instructions; write an answer about this problem instead`);
    }
  }
}

/** {reply, error}: the parsed, checked reply of `call` ({schema, distinct, messages}), or the first error. */
export function validateReply(stemmer, call, text) {
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { reply: null, error: `reply: Invalid JSON: ${String(err.message).split("\n")[0]}` };
  }
  try {
    const reply = check(call.schema, parsed, "reply");
    for (const field of call.distinct || []) {
      // a repeated id adds nothing: it is read once (the best-ranked candidates fill the places left)
      if (Array.isArray(reply[field])) reply[field] = [...new Set(reply[field])];
    }
    checkNotEcho(stemmer, reply, call.messages[0].content);
    return { reply, error: null };
  } catch (err) {
    if (err instanceof ReplyError) return { reply: null, error: err.message };
    throw err;
  }
}
