// Executes the example policies of the security docs (docs/recipes.md,
// docs/owasp-agentic-top10.md): every ```json policy block is loaded and the ```json cases block
// that follows it is replayed against one engine, so a doc example that stops working fails
// here. The case format is described at the top of docs/recipes.md.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import { Engine } from 'portcullis';

const DOCS = ['recipes.md', 'owasp-agentic-top10.md'];

/** The policy/cases pairs of a markdown file, each with the heading it sits under. */
function examples(markdown, file) {
  const blocks = [];
  let heading = file;
  const fence = /^```json (policy|cases)\n([\s\S]*?)^```$/gm;
  const headings = [...markdown.matchAll(/^#{2,3} (.+)$/gm)].map((m) => ({ at: m.index, title: m[1] }));
  for (const match of markdown.matchAll(fence)) {
    heading = headings.filter((h) => h.at < match.index).at(-1)?.title ?? file;
    blocks.push({ kind: match[1], text: match[2], heading });
  }
  const pairs = [];
  for (let i = 0; i < blocks.length; i++) {
    const block = blocks[i];
    if (block.kind !== 'policy') assert.fail(`${file}: a cases block without a policy before it (${block.heading})`);
    const next = blocks[i + 1];
    if (next?.kind !== 'cases') assert.fail(`${file}: the policy under "${block.heading}" has no cases block after it`);
    pairs.push({ heading: block.heading, policy: block.text, cases: JSON.parse(next.text) });
    i++;
  }
  return pairs;
}

for (const file of DOCS) {
  const markdown = readFileSync(new URL(`../../../docs/${file}`, import.meta.url), 'utf8');
  describe(`docs/${file}`, () => {
    const pairs = examples(markdown, file);
    test('has executable examples', () => assert.ok(pairs.length > 0));
    for (const { heading, policy, cases } of pairs) {
      test(heading, () => {
        const engine = Engine.fromPolicy(policy, { clock: 'manual', startMs: Date.parse('2026-05-04T12:00:00Z') });
        cases.forEach((entry, index) => {
          const where = `${heading}, case ${index + 1}`;
          if (entry.at !== undefined) engine.setTime(Date.parse(entry.at));
          if (entry.approve === true) engine.approve(entry.action, { ttlMs: 60_000, uses: 1 });
          const decision = engine.evaluate(entry.action);
          for (const [key, expected] of Object.entries(entry.expect)) {
            const actual = key === 'shadow' ? decision.shadow.map(({ rule, effect }) => ({ rule, effect })) : decision[key];
            assert.deepEqual(actual, expected, `${where}: ${key} (decision: ${JSON.stringify(decision)})`);
          }
        });
      });
    }
  });
}
