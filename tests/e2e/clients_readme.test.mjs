// The README's snippets are the code the tests run: each fenced block after a
// `<!-- from PATH -->` comment must appear verbatim (line by line, indentation and blank lines
// aside) in PATH; a `// ...` or `# ...` line marks a cut, and the pieces must appear in order.
// "Use it from your language" quotes the OAuth2 clients (tests/clients, run by clients*.test.mjs);
// "Trusting Isogate at the origin" quotes the origins that verify the signed assertion
// (tests/origins, run as the origin by assertion.test.mjs), one per language.
import { it } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { ROOT } from "./harness.mjs";

const HEADING = "## Use it from your language";
const ORIGIN_HEADING = "## Trusting Isogate at the origin";
/** What the origin section must quote: the programs assertion.test.mjs runs as origins. */
const ORIGIN_PROGRAMS = ["tests/origins/node/origin.mjs", "tests/origins/python/origin.py", "tests/origins/go/main.go"];
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

it("readme_origin_section_quotes_each_origin_that_the_assertion_tests_run", () => {
  const text = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
  const start = text.indexOf(`\n${ORIGIN_HEADING}\n`);
  assert.ok(start >= 0, `README.md has no "${ORIGIN_HEADING}" section`);
  const end = text.indexOf("\n## ", start + 1);
  const section = text.slice(start, end < 0 ? undefined : end);
  const quoted = [...section.matchAll(/<!-- from (\S+) -->\n```/g)].map((m) => m[1]);
  assert.deepEqual(quoted, ORIGIN_PROGRAMS);
  const tests = fs.readFileSync(path.join(ROOT, "tests/e2e/assertion.test.mjs"), "utf8");
  for (const program of ORIGIN_PROGRAMS) {
    assert.ok(fs.existsSync(path.join(ROOT, program)), program);
    assert.ok(tests.includes(`source: "${program}"`), `assertion.test.mjs does not run ${program}`);
  }
});
