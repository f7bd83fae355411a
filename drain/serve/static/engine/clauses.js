// The sentences and clauses of a homeowner's message, each read on its own by the hazard check, cut as
// drain/grounding/clauses.py cuts them: at sentence ends, semicolons, colons, line breaks and dashes, and
// before "but", "anyway", "also", "plus" and ", and"; pieces under MIN_WORDS words dropped; a text that
// gives fewer than two pieces has none (the whole text says it all).

export const MIN_WORDS = 3;
const MOST = 8;
const CUT = /(?:[.!?;:]+(?=\s|$)|\n|\s[-\u2013\u2014]+\s|,\s*(?=and\s)|\s(?=(?:but|anyway|also|plus)\s))/i;
const LEAD = /^(?:and|but|anyway|also|plus)(?=[\s,]|$)[\s,]*/i;
const EDGES = /^[ \t,]+|[ \t,]+$/g;

/** The pieces of ``text`` worth reading on their own, in order (empty when it is one piece). */
export function clauses(text) {
  const pieces = [];
  for (const raw of text.split(CUT)) {
    const piece = raw.replace(EDGES, "").replace(LEAD, "").replace(EDGES, "");
    if (piece.split(/\s+/).filter(Boolean).length >= MIN_WORDS) pieces.push(piece);
  }
  return pieces.length >= 2 ? pieces.slice(0, MOST) : [];
}
