// The two models in the page, on llama.cpp compiled to WebAssembly (wllama, vendored in /static/vendor/):
// the DRAIN phone model answers the model steps under their JSON schema (llama.cpp's own grammar from
// `response_format`, as on the laptop), the sentence-embedding model turns a text into the unit vector the
// library's vectors are scored against (chunks of `chunkWords` words, summed and normalised, as
// drain/embed/encoder.py does). Threads: one, unless the page is cross-origin isolated (COOP/COEP from
// `drain serve`); `threads` overrides (the benchmark measures 1 against several).
import { Wllama } from "../vendor/wllama/wllama.js";

const WASM = { default: "/static/vendor/wllama/wllama.wasm" };

/** How many threads wllama gets: `wanted` if given, else 1 when not isolated, else up to 4 (half the cores). */
export function threadsFor(wanted) {
  if (wanted) return wanted;
  if (!globalThis.crossOriginIsolated) return 1;
  return Math.max(1, Math.min(4, Math.floor((navigator.hardwareConcurrency || 2) / 2)));
}

function quiet() {
  const nothing = () => {};
  return { debug: nothing, log: nothing, warn: nothing, error: (...args) => console.error(...args) };
}

export class ChatModel {
  /** blob: the GGUF; threads: from threadsFor(). */
  static async load(blob, threads, { contextSize = 2048 } = {}) {
    const wllama = new Wllama(WASM, { logger: quiet(), suppressNativeLog: true });
    await wllama.loadModel([blob], { n_ctx: contextSize, n_threads: threads, n_gpu_layers: 0, seed: 0 });
    return new ChatModel(wllama);
  }

  constructor(wllama) {
    this.wllama = wllama;
    this.threads = wllama.getNumThreads();
    this.multithread = wllama.isMultithread();
    this.generated = { tokens: 0, seconds: 0 }; // decoding only (prompt reading excluded): tokens per second
  }

  /** {text, prompt_tokens, completion_tokens, cached_tokens, seconds} for one constrained request. */
  async complete(messages, { schema, maxTokens, temperature = 0, seed = 0 }) {
    const started = performance.now();
    const reply = await this.wllama.createChatCompletion({
      messages, max_tokens: maxTokens, temperature, seed, cache_prompt: true,
      response_format: { type: "json_schema", json_schema: { name: "reply", schema, strict: true } },
    });
    const seconds = (performance.now() - started) / 1000;
    const usage = reply.usage || {};
    const timings = reply.timings || {};
    if (timings.predicted_n && timings.predicted_ms) {
      this.generated.tokens += timings.predicted_n;
      this.generated.seconds += timings.predicted_ms / 1000;
    }
    return { text: reply.choices[0].message.content || "", prompt_tokens: usage.prompt_tokens || 0,
             completion_tokens: usage.completion_tokens || 0,
             cached_tokens: (usage.prompt_tokens_details || {}).cached_tokens || 0, seconds };
  }

  tokensPerSecond() {
    return this.generated.seconds ? this.generated.tokens / this.generated.seconds : null;
  }
}

export class EmbeddingModel {
  static async load(blob, threads, chunkWords) {
    const wllama = new Wllama(WASM, { logger: quiet(), suppressNativeLog: true });
    await wllama.loadModel([blob], { n_ctx: 512, n_threads: threads, n_gpu_layers: 0, embeddings: true,
                                     pooling_type: "mean" });
    return new EmbeddingModel(wllama, chunkWords);
  }

  constructor(wllama, chunkWords) {
    this.wllama = wllama;
    this.chunkWords = chunkWords;
    this.cache = new Map();
  }

  /** The unit vector (Float32Array) of one text. */
  async embed(text) {
    if (this.cache.has(text)) return this.cache.get(text);
    const words = String(text || "").split(/\s+/).filter(Boolean);
    const pieces = [];
    for (let start = 0; start < Math.max(words.length, 1); start += this.chunkWords) {
      pieces.push(words.slice(start, start + this.chunkWords).join(" "));
    }
    const reply = await this.wllama.createEmbedding({ input: pieces });
    const rows = [...reply.data].sort((a, b) => a.index - b.index).map((row) => row.embedding);
    const vector = new Float32Array(rows[0].length);
    for (const row of rows) for (let d = 0; d < row.length; d += 1) vector[d] += row[d];
    let norm = 0;
    for (const x of vector) norm += x * x;
    norm = Math.sqrt(norm) || 1;
    for (let d = 0; d < vector.length; d += 1) vector[d] = Math.fround(vector[d] / norm);
    this.cache.set(text, vector);
    return vector;
  }
}
