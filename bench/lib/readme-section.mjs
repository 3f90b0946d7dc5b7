// Replaces the text between the "latest results" markers of a README with a report, its
// headings moved down one level; with --summary, only the report's head (date, machine,
// method) and its Targets table. Usage: node readme-section.mjs <README.md> <report.md> [--summary]
import fs from "node:fs";

const [readmePath, reportPath, mode] = process.argv.slice(2);
const BEGIN = "<!-- latest-results:begin (written by bench/run.sh) -->";
const END = "<!-- latest-results:end -->";
const readme = fs.readFileSync(readmePath, "utf8");
let lines = fs.readFileSync(reportPath, "utf8").split("\n");
if (mode === "--summary") {
  const end = lines.findIndex((l) => l.startsWith("## 1."));
  if (end > 0) lines = lines.slice(0, end);
}
const report = lines
  .filter((l) => !l.startsWith("# ")) // the report's title: the README section has its own
  .map((l) => (l.startsWith("#") ? `#${l}` : l))
  .join("\n")
  .trim();
const a = readme.indexOf(BEGIN);
const b = readme.indexOf(END);
if (a < 0 || b < a) throw new Error(`${readmePath}: no ${BEGIN} ... ${END} section`);
fs.writeFileSync(readmePath, `${readme.slice(0, a + BEGIN.length)}\n${report}\n${readme.slice(b)}`);
