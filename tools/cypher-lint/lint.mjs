#!/usr/bin/env node
// Offline Neo4j Cypher checker: Neo4j's own parser + semantic analysis, as
// shipped in @neo4j-cypher/language-support (pure JS; no Java, no database).
//
// stdin : JSON array of {"name": str, "cypher": str}
// stdout: JSON array of {"name", "errors": [{message, line, column}], "warnings": [...]}
//         line and column are 1-based.
// Exit 0 whenever linting ran (even if statements have errors); non-zero only
// on bad input or a crash.
//
// Linting uses an empty DbSchema, so unknown labels, relationship types,
// properties, functions and procedures are NOT reported. The library still
// reports every `$param` as "Parameter $x is not defined." when the schema does
// not declare it; those diagnostics are dropped (parameters are supplied at run time).
// Default dialect is CYPHER 5 unless the statement starts with `CYPHER 25`.
import { readFileSync } from 'node:fs';
import {
  lintCypherQuery,
  isNotParamError,
  parseStatementsStrs,
} from '@neo4j-cypher/language-support';

const ERROR = 1; // LSP DiagnosticSeverity.Error
const SCHEMA = {}; // must be an object: the library dereferences it

function position(d) {
  const start = d.range?.start ?? { line: 0, character: 0 };
  return { message: d.message, line: start.line + 1, column: start.character + 1 };
}

function countStatements(cypher) {
  // parseStatementsStrs keeps comment-only chunks (e.g. after a trailing ';').
  return parseStatementsStrs(cypher).filter(
    (s) => s.replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '').replace(/;/g, '').trim().length > 0,
  ).length;
}

function lintOne(cypher) {
  const errors = [];
  const warnings = [];
  if (typeof cypher !== 'string' || cypher.trim() === '') {
    errors.push({ message: 'Empty statement', line: 1, column: 1 });
    return { errors, warnings };
  }
  const n = countStatements(cypher);
  if (n > 1) {
    errors.push({
      message: `Expected exactly one statement per query but got: ${n}`,
      line: 1,
      column: 1,
    });
  }
  const { diagnostics } = lintCypherQuery(cypher, SCHEMA, { consoleCommandsEnabled: false });
  for (const d of diagnostics) {
    if (!isNotParamError(d)) continue;
    // Error or unspecified severity counts as an error; Warning/Information/Hint as warnings.
    if (d.severity === ERROR || d.severity === undefined) errors.push(position(d));
    else warnings.push(position(d));
  }
  return { errors, warnings };
}

// The library silently swallows exceptions from its semantic-analysis stage, which
// would degrade this tool to a syntax-only check without anyone noticing. Guard it.
function selfCheck() {
  const { errors } = lintOne('MATCH (n) RETURN undefinedVariable');
  if (!errors.some((e) => e.message.includes('undefinedVariable'))) {
    throw new Error('cypher-lint self-check failed: semantic analysis is not reporting errors');
  }
}

function main() {
  const raw = readFileSync(0, 'utf8');
  const items = JSON.parse(raw);
  if (!Array.isArray(items)) throw new Error('stdin must be a JSON array of {name, cypher}');
  selfCheck();
  const out = items.map((item, i) => {
    const name = item?.name ?? String(i);
    try {
      return { name, ...lintOne(item?.cypher) };
    } catch (e) {
      return {
        name,
        errors: [{ message: `internal linter error: ${e?.message ?? e}`, line: 1, column: 1 }],
        warnings: [],
      };
    }
  });
  process.stdout.write(JSON.stringify(out) + '\n');
}

try {
  main();
} catch (e) {
  process.stderr.write(`cypher-lint: ${e?.stack ?? e}\n`);
  process.exit(2);
}
