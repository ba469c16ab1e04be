#!/usr/bin/env node
// The layout rules of issue #19, checked on every source folder (tests and generated code
// aside): no file over 400 lines, no function over 150, no import cycle. Prints each
// violation and exits 1 if there is one. Usage: node scripts/check-layout.mjs [DIR...]
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ts = createRequire(join(ROOT, "package.json"))("typescript");
const MAX_FILE_LINES = 400;
const MAX_FUNCTION_LINES = 150;
const DEFAULT_DIRS = [
  "apps/bridge/src",
  "apps/bench/src",
  "apps/demo/src",
  "packages/client/src",
  "packages/test-kit/src",
  "packages/livekit-rig/src",
  "packages/livekit-native-logs/src",
  "packages/pcm/src",
];

function sourceFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== "gen" && name !== "node_modules") out.push(...sourceFiles(path));
    } else if (path.endsWith(".ts") && !path.endsWith(".d.ts")) {
      out.push(path);
    }
  }
  return out;
}

/** Size violations of one file, and the files it imports (relative imports only). */
function readFile(path) {
  const text = readFileSync(path, "utf8");
  const problems = [];
  const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
  if (lines > MAX_FILE_LINES) problems.push(`file ${relative(ROOT, path)}: ${lines} lines`);
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
  const imports = [];
  const visit = (node) => {
    const specifier = node.moduleSpecifier;
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      specifier !== undefined &&
      ts.isStringLiteral(specifier) &&
      specifier.text.startsWith(".")
    ) {
      imports.push(resolve(dirname(path), specifier.text.replace(/\.js$/, ".ts")));
    }
    if (ts.isFunctionLike(node) && node.body !== undefined) {
      const from = source.getLineAndCharacterOfPosition(node.getStart()).line;
      const to = source.getLineAndCharacterOfPosition(node.end).line;
      if (to - from + 1 > MAX_FUNCTION_LINES) {
        const name = node.name?.getText() ?? "(anonymous)";
        problems.push(
          `function ${relative(ROOT, path)}:${from + 1} ${name}: ${to - from + 1} lines`,
        );
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { problems, imports };
}

/** Every import cycle among `graph`'s files, each once. */
function cycles(graph) {
  const state = new Map();
  const stack = [];
  const found = [];
  const visit = (file) => {
    state.set(file, "open");
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      if (state.get(next) === "open") found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (state.get(next) === undefined) visit(next);
    }
    stack.pop();
    state.set(file, "done");
  };
  for (const file of graph.keys()) if (state.get(file) === undefined) visit(file);
  return found;
}

const dirs = process.argv.length > 2 ? process.argv.slice(2) : DEFAULT_DIRS;
const problems = [];
const graph = new Map();
let count = 0;
for (const dir of dirs) {
  const absolute = resolve(ROOT, dir);
  try {
    statSync(absolute);
  } catch {
    continue;
  }
  for (const file of sourceFiles(absolute)) {
    count++;
    const read = readFile(file);
    problems.push(...read.problems);
    graph.set(file, read.imports);
  }
}
for (const cycle of cycles(graph)) {
  problems.push(`cycle ${cycle.map((file) => relative(ROOT, file)).join(" -> ")}`);
}
for (const problem of problems) console.log(`[check-layout] ${problem}`);
console.log(`[check-layout] ${count} files, ${problems.length} problem(s)`);
process.exit(problems.length === 0 ? 0 : 1);
