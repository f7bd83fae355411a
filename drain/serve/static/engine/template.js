// The few Jinja2 features DRAIN's step prompts use, rendered the way drain/prompts.py renders them
// (trim_blocks, lstrip_blocks, StrictUndefined, each block stripped): the page renders the prompts/*.j2
// sources it gets in the export, so a prompt is written once. Anything beyond this subset is an error,
// never a silent difference (the shared fixtures compare every rendered prompt with Python's).

class TemplateError extends Error {}

function tokenize(source) {
  const tokens = [];
  let at = 0;
  const opener = /\{([{%#])(-?)/g;
  for (;;) {
    opener.lastIndex = at;
    const open = opener.exec(source);
    if (!open) {
      tokens.push({ type: "text", value: source.slice(at) });
      break;
    }
    tokens.push({ type: "text", value: source.slice(at, open.index) });
    const kind = open[1];
    const close = { "{": "}}", "%": "%}", "#": "#}" }[kind];
    const end = source.indexOf(close, opener.lastIndex);
    if (end < 0) throw new TemplateError(`unclosed ${open[0]}`);
    let body = source.slice(opener.lastIndex, end);
    const right = body.endsWith("-");
    if (right) body = body.slice(0, -1);
    tokens.push({ type: { "{": "var", "%": "tag", "#": "comment" }[kind], body: body.trim(), left: open[2] === "-",
                  right });
    at = end + 2;
  }
  // whitespace control: "-" strips all whitespace; lstrip_blocks and trim_blocks for tags and comments
  tokens.forEach((token, n) => {
    if (token.type === "text") return;
    const before = tokens[n - 1];
    const after = tokens[n + 1];
    const block = token.type !== "var";
    if (before && before.type === "text") {
      if (token.left) before.value = before.value.replace(/\s+$/, "");
      else if (block) {
        const line = before.value.lastIndexOf("\n");
        const head = before.value.slice(line + 1);
        if (/^[ \t]*$/.test(head) && (line >= 0 || n === 1)) before.value = before.value.slice(0, line + 1);
      }
    }
    if (after && after.type === "text") {
      if (token.right) after.value = after.value.replace(/^\s+/, "");
      else if (block) after.value = after.value.replace(/^\r?\n/, "");
    }
  });
  return tokens.filter((t) => t.type !== "comment");
}

// ---------------------------------------------------------------- expressions
function lex(text) {
  const parts = [];
  const pattern = /\s*(?:("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(\d+(?:\.\d+)?)|([A-Za-z_]\w*)|(==|!=|[().]))/y;
  let at = 0;
  while (at < text.length) {
    if (/^\s*$/.test(text.slice(at))) break;
    pattern.lastIndex = at;
    const m = pattern.exec(text);
    if (!m) throw new TemplateError(`cannot read the expression ${JSON.stringify(text)}`);
    if (m[1] !== undefined) parts.push({ kind: "string", value: JSON.parse(`"${m[1].slice(1, -1).replace(/"/g, '\\"')}"`) });
    else if (m[2] !== undefined) parts.push({ kind: "number", value: Number(m[2]) });
    else if (m[3] !== undefined) parts.push({ kind: "name", value: m[3] });
    else parts.push({ kind: "op", value: m[4] });
    at = pattern.lastIndex;
  }
  return parts;
}

function parseExpression(text) {
  const parts = lex(text);
  let n = 0;
  const peek = (value) => parts[n] && (parts[n].kind === "name" || parts[n].kind === "op") && parts[n].value === value;
  const primary = () => {
    const part = parts[n++];
    if (!part) throw new TemplateError(`the expression ${JSON.stringify(text)} ends too soon`);
    if (part.kind === "string" || part.kind === "number") return () => part.value;
    if (part.kind === "op" && part.value === "(") {
      const inner = conditional();
      if (!peek(")")) throw new TemplateError(`missing ) in ${JSON.stringify(text)}`);
      n += 1;
      return inner;
    }
    if (part.kind !== "name" || ["if", "else", "and", "or", "not"].includes(part.value)) {
      throw new TemplateError(`unexpected ${part.value} in ${JSON.stringify(text)}`);
    }
    const path = [part.value];
    while (peek(".")) {
      n += 1;
      const attribute = parts[n++];
      if (!attribute || attribute.kind !== "name") throw new TemplateError(`bad attribute in ${JSON.stringify(text)}`);
      path.push(attribute.value);
    }
    return (scope) => {
      let value = scope.lookup(path[0]);
      for (const name of path.slice(1)) {
        if (value === null || value === undefined || !(name in Object(value))) {
          throw new TemplateError(`the template uses an unknown value: ${path.join(".")}`);
        }
        value = value[name];
      }
      return value;
    };
  };
  const comparison = () => {
    const left = primary();
    if (peek("==") || peek("!=")) {
      const op = parts[n++].value;
      const right = primary();
      return (s) => (op === "==" ? left(s) === right(s) : left(s) !== right(s));
    }
    return left;
  };
  const negation = () => {
    if (peek("not")) {
      n += 1;
      const inner = negation();
      return (s) => !truthy(inner(s));
    }
    return comparison();
  };
  const conjunction = () => {
    let left = negation();
    while (peek("and")) {
      n += 1;
      const l = left;
      const r = negation();
      left = (s) => (truthy(l(s)) ? r(s) : l(s));
    }
    return left;
  };
  const disjunction = () => {
    let left = conjunction();
    while (peek("or")) {
      n += 1;
      const l = left;
      const r = conjunction();
      left = (s) => (truthy(l(s)) ? l(s) : r(s));
    }
    return left;
  };
  const conditional = () => {
    const value = disjunction();
    if (!peek("if")) return value;
    n += 1;
    const test = disjunction();
    let otherwise = () => "";
    if (peek("else")) {
      n += 1;
      otherwise = conditional();
    }
    return (s) => (truthy(test(s)) ? value(s) : otherwise(s));
  };
  const result = conditional();
  if (n !== parts.length) throw new TemplateError(`cannot read the expression ${JSON.stringify(text)}`);
  return result;
}

function truthy(value) {
  if (Array.isArray(value)) return value.length > 0;
  if (value && typeof value === "object") return Object.keys(value).length > 0;
  return Boolean(value);
}

function show(value) {
  if (value === null) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  return String(value);
}

// ---------------------------------------------------------------- statements
function parse(tokens) {
  const root = { kind: "body", items: [] };
  const stack = [root];
  const top = () => stack[stack.length - 1];
  for (const token of tokens) {
    if (token.type === "text") {
      if (token.value) top().items.push({ kind: "text", value: token.value });
    } else if (token.type === "var") {
      top().items.push({ kind: "output", expression: parseExpression(token.body) });
    } else {
      const [word, ...rest] = token.body.split(/\s+/);
      const tail = token.body.slice(word.length).trim();
      if (word === "block") {
        const node = { kind: "block", name: rest[0], items: [] };
        top().items.push(node);
        stack.push(node);
      } else if (word === "for") {
        const m = /^([A-Za-z_]\w*)\s+in\s+(.+)$/.exec(tail);
        if (!m) throw new TemplateError(`cannot read {% ${token.body} %}`);
        const node = { kind: "for", name: m[1], iterable: parseExpression(m[2]), items: [] };
        top().items.push(node);
        stack.push(node);
      } else if (word === "if") {
        const node = { kind: "if", branches: [{ test: parseExpression(tail), items: [] }] };
        top().items.push(node);
        stack.push(node.branches[0]);
        node.branches[0].owner = node;
      } else if (word === "elif" || word === "else") {
        const branch = top();
        if (!branch.owner) throw new TemplateError(`{% ${word} %} outside an if`);
        stack.pop();
        const next = { test: word === "elif" ? parseExpression(tail) : () => true, items: [], owner: branch.owner };
        branch.owner.branches.push(next);
        stack.push(next);
      } else if (["endblock", "endfor", "endif"].includes(word)) {
        stack.pop();
        if (stack.length === 0) throw new TemplateError(`unexpected {% ${word} %}`);
      } else {
        throw new TemplateError(`the page's template renderer does not know {% ${word} %}`);
      }
    }
  }
  if (stack.length !== 1) throw new TemplateError("a block, for or if is not closed");
  return root;
}

class Scope {
  constructor(values, parent = null) {
    this.values = values;
    this.parent = parent;
  }

  lookup(name) {
    if (Object.prototype.hasOwnProperty.call(this.values, name)) return this.values[name];
    if (this.parent) return this.parent.lookup(name);
    throw new TemplateError(`the template uses an unknown value: '${name}' is undefined`);
  }
}

function renderItems(items, scope) {
  let out = "";
  for (const item of items) {
    if (item.kind === "text") out += item.value;
    else if (item.kind === "output") out += show(item.expression(scope));
    else if (item.kind === "block") out += renderItems(item.items, scope);
    else if (item.kind === "for") {
      const values = [...(item.iterable(scope) || [])];
      values.forEach((value, index) => {
        const loop = { index: index + 1, index0: index, first: index === 0, last: index === values.length - 1,
                       length: values.length, revindex: values.length - index, revindex0: values.length - index - 1 };
        out += renderItems(item.items, new Scope({ [item.name]: value, loop }, scope));
      });
    } else if (item.kind === "if") {
      const branch = item.branches.find((b) => truthy(b.test(scope)));
      if (branch) out += renderItems(branch.items, scope);
    }
  }
  return out;
}

/** A parsed template: render(blockName, context) gives that block's text, stripped. */
export class Template {
  constructor(source) {
    this.root = parse(tokenize(source));
    this.blocks = new Map();
    const find = (items) => {
      for (const item of items) {
        if (item.kind === "block") this.blocks.set(item.name, item);
        if (item.items) find(item.items);
        if (item.branches) for (const b of item.branches) find(b.items);
      }
    };
    find(this.root.items);
  }

  render(block, context) {
    const node = this.blocks.get(block);
    if (!node) throw new TemplateError(`no {% block ${block} %}`);
    return renderItems(node.items, new Scope(context)).trim();
  }
}
