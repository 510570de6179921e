// Evaluates every action of a demo file against a policy with the Node binding and prints one
// line per decision, in the layout every language's demo shares.
//
//   node demo.mjs ../demo-policy.json ../demo-actions.json
//
// The binding is imported from the checkout; an installed package is `import ... from 'portcullis'`.

import { readFileSync } from 'node:fs';

import { Engine } from '../../bindings/node/dist/esm/index.mjs';

const [policyPath, actionsPath] = process.argv.slice(2);
if (!policyPath || !actionsPath) {
  console.error('usage: node demo.mjs POLICY.json ACTIONS.json');
  process.exit(2);
}

const engine = Engine.fromPolicy(readFileSync(policyPath, 'utf8'));
const actions = JSON.parse(readFileSync(actionsPath, 'utf8'));

console.log('== Node ==');
for (const { label, action } of actions) {
  const decision = engine.evaluate(action);
  console.log(`  ${label.padEnd(38)} ${decision.effect.padEnd(17)} ${decision.code.padEnd(18)} ${decision.rule ?? '-'}`);
}
