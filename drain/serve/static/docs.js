// The API reference, rendered from the server's own OpenAPI document: no CDN, no framework.
const main = document.getElementById("endpoints");

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function schemaBlock(title, schema) {
  const details = element("details");
  details.append(element("summary", title), element("pre", JSON.stringify(schema, null, 2)));
  return details;
}

async function render() {
  const spec = await (await fetch("/openapi.json")).json();
  document.getElementById("about").textContent = `${spec.info.title} ${spec.info.version}: ${spec.info.description || ""}`;
  for (const [path, operations] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      const section = element("section");
      const heading = element("h2");
      heading.append(element("span", method.toUpperCase(), `method ${method}`), element("code", path));
      section.append(heading, element("p", operation.summary || ""));
      if (operation.description) section.append(element("p", operation.description));
      for (const parameter of operation.parameters || []) {
        section.append(element("p", `${parameter.in} parameter ${parameter.name}${parameter.required ? " (required)" : ""}: ${parameter.description || ""}`));
      }
      const body = operation.requestBody?.content?.["application/json"]?.schema;
      if (body) section.append(schemaBlock("request body", body));
      for (const [status, response] of Object.entries(operation.responses || {})) {
        section.append(element("p", `${status}: ${response.description || ""}`));
      }
      main.append(section);
    }
  }
  main.append(schemaBlock("all schemas", spec.components?.schemas || {}));
}

render().catch((error) => { main.textContent = `Could not read /openapi.json: ${error}`; });
