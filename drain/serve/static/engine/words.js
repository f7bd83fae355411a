// Which words a text uses, as a fixed-length vector: the hazard probe's second view of a text, computed
// as drain/grounding/words.py does (the project's stems, neighbouring pairs, CRC-32 modulo the dimension,
// a 0/1 vector scaled to unit length). The dimension and weight come from the export.

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (zlib's) of an ASCII string. */
export function crc32(text) {
  let crc = 0xffffffff;
  for (let n = 0; n < text.length; n += 1) crc = CRC_TABLE[(crc ^ text.charCodeAt(n)) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** The stems of ``text`` in order (text.js's Stemmer, as triz.text.stems), then each pair of neighbours. */
export function tokens(text, stemmer) {
  const words = stemmer.stems(text);
  return words.concat(words.slice(1).map((w, n) => `${words[n]} ${w}`));
}

/** The hashed tokens of ``text``: {indices, value}, the non-zero places of the unit 0/1 vector and their
 * value, in float32 as numpy computes it (1 over the float32 square root of the count). */
export function wordVector(text, stemmer, dimensions) {
  const indices = [...new Set(tokens(text, stemmer).map((t) => crc32(t) % dimensions))];
  return { indices, value: indices.length ? Math.fround(1 / Math.fround(Math.sqrt(indices.length))) : 0 };
}
