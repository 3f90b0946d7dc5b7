// The "Use it from your language" snippets are the code the client tests run: each fenced
// block after a `<!-- from PATH -->` comment must appear verbatim (line by line, indentation
// and blank lines aside) in PATH; a `// ...` or `# ...` line marks a cut, and the pieces must
// appear in order.
import { it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { ROOT } from "./harness.mjs";

const HEADING = "## Use it from your language";
const CUT = /^(\/\/|#) \.\.\.$/;

const lines = (text) => text.split("\n").map((l) => l.trim()).filter(Boolean);

function indexOfLines(haystack, needle, from) {
  outer: for (let i = from; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

it("readme_snippets_are_excerpts_of_the_tested_programs", () => {
  const file = path.join(ROOT, "README.md");
  const text = fs.readFileSync(file, "utf8");
  assert.ok(text.includes(HEADING), `${file} has no "${HEADING}" section`);
  const blocks = [...text.matchAll(/<!-- from (\S+) -->\n```\w*\n([\s\S]*?)```/g)];
  assert.ok(blocks.length >= 7, `only ${blocks.length} marked snippets in ${file}`);
  for (const [, source, block] of blocks) {
    const code = lines(fs.readFileSync(path.join(ROOT, source), "utf8"));
    const pieces = [[]];
    for (const l of lines(block)) CUT.test(l) ? pieces.push([]) : pieces.at(-1).push(l);
    let at = 0;
    for (const piece of pieces) {
      const found = indexOfLines(code, piece, at);
      assert.notEqual(found, -1, `${path.relative(ROOT, file)}: snippet not in ${source} (in order):\n${piece.join("\n")}`);
      at = found + piece.length;
    }
  }
});
