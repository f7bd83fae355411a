// Every cell of the matrix as the phone's engine reads it: node tests/js/matrix_cells.mjs DEVICE_DIR
import { readFileSync } from "node:fs";
import { Knowledge } from "../../drain/serve/static/engine/knowledge.js";

const data = JSON.parse(readFileSync(`${process.argv[2]}/drain-device.json`, "utf-8"));
const knowledge = new Knowledge(data);
const cells = {};
for (let i = 1; i <= 39; i += 1) {
  for (let w = 1; w <= 39; w += 1) {
    const found = knowledge.lookup(i, w);
    cells[`${i}x${w}`] = [found.principles, found.reason];
  }
}
process.stdout.write(JSON.stringify(cells));
