// Which words a text uses, as a fixed-length vector: the hazard probe's second view of a text, computed
// as drain/grounding/words.py does (lower-cased ASCII tokens, the same crude stemmer, neighbouring pairs,
// CRC-32 modulo the dimension, a 0/1 vector scaled to unit length). The settings come from the export.

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

/** ``word`` without its first matching suffix, if at least three letters stay. */
export function stem(word, suffixes) {
  for (const suffix of suffixes) {
    if (word.length > suffix.length + 2 && word.endsWith(suffix)) return word.slice(0, -suffix.length);
  }
  return word;
}

/** The stemmed words of ``text`` in order, then each pair of neighbours joined by a space. */
export function tokens(text, settings) {
  const words = (text.toLowerCase().match(new RegExp(settings.pattern, "g")) || []).map((w) => stem(w, settings.suffixes));
  const pairs = words.slice(1).map((w, n) => `${words[n]} ${w}`);
  return words.concat(pairs);
}

/** The hashed tokens of ``text``: {indices, value}, the non-zero places of the unit 0/1 vector and their
 * value, in float32 as numpy computes it (1 over the float32 square root of the count). */
export function wordVector(text, settings) {
  const indices = [...new Set(tokens(text, settings).map((t) => crc32(t) % settings.dimensions))];
  return { indices, value: indices.length ? Math.fround(1 / Math.fround(Math.sqrt(indices.length))) : 0 };
}
